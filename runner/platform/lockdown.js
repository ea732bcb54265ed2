// Removes what tenant code must not reach: code generation from strings, shared memory, and
// anything isolated-vm could leave on the global object. isolated-vm already creates every context
// with AllowCodeGenerationFromStrings(false); the shims below make the refusal explicit (EvalError
// with a message) and cover every function kind's constructor.

function refuseCodeGeneration() {
  throw new EvalError('Code generation from strings is not allowed')
}

export function lockdown(global) {
  // Every function kind's constructor compiles source from strings: replace each one.
  const kinds = [function () {}, async function () {}, function* () {}, async function* () {}]
  for (const fn of kinds) {
    const proto = Object.getPrototypeOf(fn)
    const safe = function () { return refuseCodeGeneration() }
    Object.defineProperty(safe, 'prototype', { value: proto, writable: false })
    Object.defineProperty(proto, 'constructor', { value: safe, writable: false, configurable: false })
  }
  const FunctionShim = Object.getPrototypeOf(kinds[0]).constructor
  Object.defineProperty(global, 'Function', { value: FunctionShim, writable: false, configurable: false, enumerable: false })
  const evalShim = function () { return refuseCodeGeneration() }
  Object.defineProperty(global, 'eval', { value: evalShim, writable: false, configurable: false, enumerable: false })
  for (const name of ['SharedArrayBuffer', 'Atomics', '_ivm', 'ivm']) {
    if (name in global) delete global[name]
  }
}
