/**
 * Loaded into every test process before the test (`--import`, test/built.taprc and package.json's
 * `tap` section). Two things, each in its own module: the processes and threads the code under
 * test starts run without tap's own loaders (untapped-children.ts), and the process keeps its
 * temporary files in a folder of its own, gone when it exits (own-tmpdir.ts).
 */
import './untapped-children.js'
import './own-tmpdir.js'
