// whatwg-url ships no types; the URL Standard test uses its classes as the reference implementation.
declare module 'whatwg-url' {
  export const URL: typeof globalThis.URL
  export const URLSearchParams: typeof globalThis.URLSearchParams
}
