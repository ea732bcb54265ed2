import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { TRANSLATED_ENUMS } from '../src/console/i18n/enums.js'
import { CATALOGUES, LOCALES, Translator, catalogueKeys, negotiateLocale, type Catalogue, type Message } from '../src/console/i18n/translator.js'

const CONSOLE_DIR = path.resolve('src/console')

/** Every .ts file of the console but the catalogues themselves. */
function consoleSources(dir = CONSOLE_DIR): string[] {
  const files: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) files.push(...consoleSources(full))
    else if (entry.name.endsWith('.ts') && !entry.name.startsWith('catalogue-')) files.push(readFileSync(full, 'utf8'))
  }
  return files
}

function messageAt(catalogue: Catalogue, key: string): Message | undefined {
  let node: unknown = catalogue
  for (const part of key.split('.')) node = (node as Record<string, unknown> | undefined)?.[part]
  return node as Message | undefined
}

const placeholders = (message: Message): string[] => {
  const texts = typeof message === 'string' ? [message] : Object.values(message)
  return [...new Set(texts.flatMap((text) => [...(text ?? '').matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string)))].sort()
}

const reference = catalogueKeys(CATALOGUES.en).sort()
const sources = consoleSources().join('\n')

t.test('every catalogue has exactly the keys of the English one', async (t) => {
  for (const locale of LOCALES) {
    const keys = new Set(catalogueKeys(CATALOGUES[locale]))
    t.same(reference.filter((key) => !keys.has(key)), [], `${locale}: no key missing`)
    t.same([...keys].filter((key) => !reference.includes(key)), [], `${locale}: no key the English catalogue lacks`)
  }
})

t.test('every key the console code names exists, and every catalogue key is used by the code', async (t) => {
  const literal = new Set([...sources.matchAll(/['"`]([a-zA-Z][\w-]*(?:\.[\w-]+)+)['"`]/g)].map((m) => m[1] as string))
  // `prefix.${x}` in code uses every key one segment under the prefix (language.en, scriptForm.limit.cpuMs).
  const prefixes = [...sources.matchAll(/`([a-zA-Z][\w]*(?:\.[\w]+)*)\.\$\{/g)].map((m) => m[1] as string).filter((prefix) => prefix !== 'enum')
  const named = [...sources.matchAll(/\bt\.t\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1] as string)
  t.ok(named.length > 100, 'the scan finds the console’s messages')
  for (const locale of LOCALES) {
    const keys = new Set(catalogueKeys(CATALOGUES[locale]))
    t.same(named.filter((key) => !keys.has(key)), [], `${locale}: every t.t('…') key of the code is in the catalogue`)
  }
  const enumKeys = new Set(Object.entries(TRANSLATED_ENUMS).flatMap(([family, values]) => values.map((value) => `enum.${family}.${value}`)))
  const unused = reference.filter((key) => {
    if (key.startsWith('enum.')) return !enumKeys.has(key)
    if (literal.has(key)) return false
    return !prefixes.some((prefix) => key.startsWith(`${prefix}.`) && !key.slice(prefix.length + 1).includes('.'))
  })
  t.same(unused, [], 'no catalogue key is unused (enum keys: only values the domain defines)')
  for (const family of Object.keys(TRANSLATED_ENUMS)) t.match(sources, new RegExp(`\\.enum\\(\\s*'${family}'`), `the code translates the ${family} family`)
})

t.test('every enum value of the domain (statuses, types, triggers, roles, audit actions, error codes) is translated in every language', async (t) => {
  for (const locale of LOCALES) {
    const missing = Object.entries(TRANSLATED_ENUMS).flatMap(([family, values]) => values.filter((value) => typeof messageAt(CATALOGUES[locale], `enum.${family}.${value}`) !== 'string').map((value) => `enum.${family}.${value}`))
    t.same(missing, [], `${locale}: no enum value without a label`)
  }
})

t.test('plural messages have every form Intl.PluralRules uses in that language, and the same placeholders as English', async (t) => {
  for (const locale of LOCALES) {
    const translator = new Translator(locale)
    const categories = new Intl.PluralRules(translator.tag).resolvedOptions().pluralCategories
    const wrongPlaceholders: string[] = []
    const wrongForms: string[] = []
    for (const key of reference) {
      const message = messageAt(CATALOGUES[locale], key) as Message
      const english = messageAt(CATALOGUES.en, key) as Message
      if (message === undefined) continue // reported by the key-set test
      if (placeholders(message).join() !== placeholders(english).join()) wrongPlaceholders.push(key)
      if (typeof english === 'string' ? typeof message !== 'string' : typeof message === 'string' || categories.some((category) => typeof (message as Record<string, string>)[category] !== 'string')) wrongForms.push(key)
    }
    t.same(wrongPlaceholders, [], `${locale}: every message has the placeholders of the English one`)
    t.same(wrongForms, [], `${locale}: plain messages stay plain; plural ones have ${categories.join(', ')}`)
  }
  t.same(new Intl.PluralRules('ru').resolvedOptions().pluralCategories.sort(), ['few', 'many', 'one', 'other'], 'Russian has its three integer forms (and other)')
})

t.test('Russian counts take one, few and many forms; Uzbek and English theirs', async (t) => {
  const ru = new Translator('ru')
  t.same([1, 2, 5, 11, 21, 22, 25].map((count) => ru.t('scripts.count', { count })), ['1 скрипт', '2 скрипта', '5 скриптов', '11 скриптов', '21 скрипт', '22 скрипта', '25 скриптов'])
  t.equal(new Translator('uz').t('scripts.count', { count: 3 }), '3 ta skript')
  t.same([1, 3].map((count) => new Translator('en').t('scripts.count', { count })), ['1 script', '3 scripts'])
  t.equal(ru.t('scripts.count', { count: 12_345 }).replace(/\s/g, ' '), '12 345 скриптов', 'numbers are formatted for the language')
})

t.test('dates, numbers and durations are formatted for the language', async (t) => {
  const at = new Date('2026-03-09T14:05:00Z')
  t.match(new Translator('ru').dateTime(at, 'Asia/Tashkent'), /9 мар.* 2026.*19:05:00/)
  t.match(new Translator('uz').dateTime(at, 'UTC'), /9-mar.*2026.*14:05:00/)
  t.match(new Translator('en').dateTime(at, 'UTC'), /Mar 9, 2026/)
  t.equal(new Translator('ru').duration(1500).replace(/\s/g, ' '), '1,5 с')
  t.equal(new Translator('en').duration(850).replace(/\s/g, ' '), '850 ms')
  t.equal(new Translator('ru').number(1234.5).replace(/\s/g, ' '), '1 234,5')
  t.equal(new Translator('ru').enum('status', 'active'), 'Активен')
  t.equal(new Translator('uz').enum('code', 'SCRIPT_TIMEOUT'), 'Vaqt chegarasidan oshdi')
})

t.test('Accept-Language picks the best supported language by q-value, English otherwise', async (t) => {
  t.equal(negotiateLocale('ru-RU,ru;q=0.9,en-US;q=0.8'), 'ru')
  t.equal(negotiateLocale('de-DE, uz;q=0.7, ru;q=0.5'), 'uz')
  t.equal(negotiateLocale('en;q=0.2, ru;q=0.9'), 'ru')
  t.equal(negotiateLocale('fr, de'), 'en')
  t.equal(negotiateLocale('ru;q=0'), 'en')
  t.equal(negotiateLocale(undefined), 'en')
})
