// URLPattern from urlpattern-polyfill (the WHATWG URLPattern's port used by Deno and workerd's
// tests); its `urlpattern` entry defines the class without touching the global object.
// A chunk (lazy.js), loaded on first use.
import { URLPattern } from 'urlpattern-polyfill/urlpattern'
import { brand } from './lazy.js'

brand(URLPattern)

export { URLPattern }
