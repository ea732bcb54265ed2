/**
 * A request's headers as the text that follows its JSON in RunArgs (protocol.ts): a name and a
 * value per line, or JSON pairs when a name or value holds a line break or the first name starts
 * with `[` (the mark of JSON). Both sides of the isolate's boundary use this module: the host
 * writes and reads the text (protocol.ts runArgs, decodeTask), and the platform bundle built for
 * the isolates reads it the first time a script reads `request.headers` (platform/request.js), so
 * it imports nothing and uses only what a fresh context has. A request's JSON.stringify of its
 * pairs was 1.2-1.5 us of the gateway's thread a run, the lines are 0.2-0.3 (loop, six pairs).
 */

/** Captured when the module loads: inside an isolate that is at the platform's boot, before a script could replace it. */
const parseJson = JSON.parse

export function headerText(pairs: ReadonlyArray<readonly [string, string]>): string {
  let text = ''
  for (let i = 0; i < pairs.length; i++) {
    const [name, value] = pairs[i] as readonly [string, string]
    if (name.includes('\n') || value.includes('\n') || (i === 0 && name.startsWith('['))) return JSON.stringify(pairs)
    text += i === 0 ? `${name}\n${value}` : `\n${name}\n${value}`
  }
  return text
}

/** The pairs of a headerText. */
export function pairsFromHeaderText(text: string): Array<[string, string]> {
  if (text === '') return []
  if (text[0] === '[') return parseJson(text) as Array<[string, string]>
  const lines = text.split('\n')
  const pairs: Array<[string, string]> = []
  for (let i = 0; i + 1 < lines.length; i += 2) pairs.push([lines[i] as string, lines[i + 1] as string])
  return pairs
}
