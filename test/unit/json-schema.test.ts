/**
 * schema/vger.schema.json: generated from the schema declaration, committed as generated, and in agreement
 * with vger's own validator on valid and invalid samples (where JSON Schema can say it at all).
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { LineCounter, parse, parseDocument } from 'yaml'
import { SCHEMA_URL, renderJsonSchema } from '../../ts/config/json-schema.js'
import { configShape } from '../../ts/config/schema.js'
import { STARTER_CONFIG } from '../../ts/config/starter.js'
import { validate } from '../../ts/config/validate.js'
import { KEYWORDS, checkJsonSchema, keywordsOf } from '../helpers/json-schema.js'

const committed = readFileSync(new URL('../../schema/vger.schema.json', import.meta.url), 'utf8')
const schema = JSON.parse(committed) as Record<string, unknown>
const docs = readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8')

/** vger's validator on the text as written (no `${VAR}` expansion, no env files): its messages. */
function vgerProblems(text: string): string[] {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true })
  expect(doc.errors).toEqual([])
  return validate(doc, lines, 'sample.yaml', configShape).problems.map((p) => p.message)
}

/** What an editor using the JSON Schema reports. */
function editorProblems(text: string): string[] {
  return checkJsonSchema(schema, parse(text))
}

/** The ```yaml blocks of a Markdown text. */
function yamlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '')
}

const REPO = 'repositories:\n  - url: /backups/main\n'

describe('schema/vger.schema.json', () => {
  it('is what `npm run schema` generates from ts/config/schema.ts (run it, and commit the result)', () => {
    expect(committed).toBe(renderJsonSchema())
  })

  it('is draft-07 with the published address as its $id', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#')
    expect(schema.$id).toBe(SCHEMA_URL)
  })

  it('is named by the first line of the starter config, for yaml-language-server', () => {
    expect(STARTER_CONFIG.split('\n')[0]).toBe(`# yaml-language-server: $schema=${SCHEMA_URL}`)
  })

  it('uses only keywords the test checker understands', () => {
    expect([...keywordsOf(schema)].filter((k) => !KEYWORDS.has(k))).toEqual([])
  })
})

describe('valid configs pass both vger and the JSON Schema', () => {
  const blocks = yamlBlocks(docs)

  it('finds the examples of docs/config.md', () => {
    expect(blocks.length).toBeGreaterThan(0)
  })

  it.each(blocks.map((text, i) => [i + 1, text]))('docs/config.md example %i', (_, text) => {
    expect(vgerProblems(text)).toEqual([])
    expect(editorProblems(text)).toEqual([])
  })

  it('the starter config', () => {
    expect(vgerProblems(STARTER_CONFIG)).toEqual([])
    expect(editorProblems(STARTER_CONFIG)).toEqual([])
  })

  it.each([
    ['plain path sources and hooks as lists', `${REPO}sources: [~/a, /b]\nhooks:\n  before: [a, b]\n  after_backup: c\n`],
    ['sizes as numbers and text', `${REPO}chunker: {min_size: 65536, avg_size: 1.5M, max_size: " 8 mib "}\n`],
    [
      'durations as numbers and text',
      `${REPO}retention: {keep_within: 7, group_by: []}\nsources:\n  - path: /a\n    retention: {keep_within: 36H}\n`,
    ],
    ['a cron schedule', `${REPO}schedule: {enabled: true, cron: "*/15 2-4 * * mon-fri"}\n`],
    ['an interval in seconds', `${REPO}schedule: {every: 90s, on_startup: true}\n`],
    ['env_file as a list, paths with a label', `env_file: [a.env, b.env]\n${REPO}sources:\n  - paths: [/a, /b]\n    label: both\n`],
    ['a dump-only source', `${REPO}sources:\n  - label: db\n    command_dumps: [{name: db.sql, command: pg_dump db}]\n`],
  ])('%s', (_, text) => {
    expect(vgerProblems(text)).toEqual([])
    expect(editorProblems(text)).toEqual([])
  })
})

describe('invalid configs fail both vger and the JSON Schema', () => {
  it.each([
    ['an empty file', ''],
    ['no repositories', 'sources: [/a]\n'],
    ['an empty repository list', 'repositories: []\n'],
    ['a repository without url', 'repositories:\n  - label: usb\n'],
    ['an unknown top-level key', `${REPO}sorces: [/a]\n`],
    ['an unknown nested key', `${REPO}retention: {keep_dayly: 3}\n`],
    ['an unknown encryption mode', `${REPO}encryption: {mode: aes}\n`],
    ['a number where a string belongs', 'repositories:\n  - url: /r\n    label: 2024\n'],
    ['a blank string', 'repositories:\n  - url: /r\n    label: "  "\n'],
    ['a string where a boolean belongs', `${REPO}one_file_system: "yes"\n`],
    ['a level out of range', `${REPO}compression: {zstd_level: 23}\n`],
    ['a negative count', `${REPO}retention: {keep_last: -1}\n`],
    ['a fractional count', `${REPO}retention: {keep_last: 1.5}\n`],
    ['nice out of range', `${REPO}limits: {nice: 20}\n`],
    ['a bad size', `${REPO}chunker: {avg_size: 2 lemons}\n`],
    ['a fractional size in bytes', `${REPO}chunker: {avg_size: 1.5}\n`],
    ['a zero duration', `${REPO}retention: {keep_within: 0d}\n`],
    ['a duration with an interval unit', `${REPO}retention: {keep_within: 30s}\n`],
    ['an interval in weeks', `${REPO}schedule: {every: 1w}\n`],
    ['a cron with 4 fields', `${REPO}schedule: {cron: "0 3 * *"}\n`],
    ['a cron field of bad syntax', `${REPO}schedule: {cron: "0 3 * * mon+fri"}\n`],
    ['every and cron together', `${REPO}schedule: {every: 1h, cron: "0 * * * *"}\n`],
    ['path and paths together', `${REPO}sources:\n  - path: /a\n    paths: [/b]\n    label: x\n`],
    ['paths without a label', `${REPO}sources:\n  - paths: [/a, /b]\n`],
    ['an empty paths list', `${REPO}sources:\n  - paths: []\n    label: x\n`],
    ['a source that is a number', `${REPO}sources: [42]\n`],
    ['a command hook on a source', `${REPO}sources:\n  - path: /a\n    hooks: {before_backup: x}\n`],
    ['an unknown hook', `${REPO}hooks: {before_restore: x}\n`],
    ['a hook that is a mapping', `${REPO}hooks:\n  before: {a: b}\n`],
    ['a command dump without command', `${REPO}sources:\n  - label: d\n    command_dumps: [{name: a}]\n`],
    ['a list where a mapping belongs', `${REPO}limits: [1, 2]\n`],
    ['group_by with an unknown key', `${REPO}retention: {group_by: [hostname]}\n`],
  ])('%s', (_, text) => {
    expect(vgerProblems(text)).not.toEqual([])
    expect(editorProblems(text)).not.toEqual([])
  })
})

describe('what only vger checks (documented in ts/config/json-schema.ts)', () => {
  it.each([
    ['duplicate repository labels', 'repositories:\n  - {url: /a, label: x}\n  - {url: /b, label: x}\n'],
    ['a cron hour out of range', `${REPO}schedule: {cron: "0 25 * * *"}\n`],
    ['an unsupported URL scheme', 'repositories:\n  - url: ftp://host/x\n'],
  ])('%s', (_, text) => {
    expect(vgerProblems(text)).not.toEqual([])
    expect(editorProblems(text)).toEqual([])
  })

  it('`key:` with no value is "not set" to vger, a value of the wrong type to an editor', () => {
    const text = `${REPO}hostname:\n`
    expect(vgerProblems(text)).toEqual([])
    expect(editorProblems(text)).toEqual(['/hostname: expected string, got null'])
  })
})
