/**
 * The docs stay true: every config key of the schema is in docs/config.md, and every command and long
 * option of the commander tree is in docs/commands.md (in its command's section) and docs/json.md.
 */
import { readFileSync } from 'node:fs'
import { PassThrough } from 'node:stream'
import type { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { INERT_KEYS } from '../../ts/config/inert.js'
import { configShape } from '../../ts/config/schema.js'
import type { Shape } from '../../ts/config/shape.js'
import { buildProgram } from '../../ts/cli/command-line.js'

const doc = (name: string): string => readFileSync(new URL(`../../docs/${name}`, import.meta.url), 'utf8')

/** Every key of the schema, with the path where it appears (e.g. "sources[].hooks.before"). */
function schemaKeys(shape: Shape, at = ''): { key: string; path: string; shape: Shape }[] {
  switch (shape.kind) {
    case 'object':
      return Object.entries(shape.fields).flatMap(([key, field]) => {
        const path = at === '' ? key : `${at}.${key}`
        return [{ key, path, shape: field }, ...schemaKeys(field, path)]
      })
    case 'list':
      return schemaKeys(shape.items, `${at}[]`)
    case 'either':
      return schemaKeys(shape.object, at)
    default:
      return []
  }
}

/** The section of `text` that starts at `heading` and ends at the next heading of the same or a higher level. */
function section(text: string, heading: string): string | undefined {
  const start = text.indexOf(`${heading}\n`)
  if (start < 0) return undefined
  const level = /^#+/.exec(heading)?.[0].length ?? 2
  const rest = text.slice(start + heading.length + 1)
  const next = rest.search(new RegExp(`^#{1,${level}} `, 'm'))
  return next < 0 ? rest : rest.slice(0, next)
}

function commands(cmd: Command, prefix: string[] = []): { name: string; cmd: Command; leaf: boolean }[] {
  return cmd.commands.flatMap((c) => {
    const name = [...prefix, c.name()]
    return [{ name: name.join(' '), cmd: c, leaf: c.commands.length === 0 }, ...commands(c, name)]
  })
}

const program = buildProgram(
  {
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    stdin: new PassThrough(),
    env: {},
    cwd: '/',
    signal: new AbortController().signal,
  },
  async () => {},
)

describe('docs/config.md', () => {
  const text = doc('config.md')
  const keys = schemaKeys(configShape)

  it('walks a schema with every section', () => {
    expect(keys.length).toBeGreaterThan(80)
    expect(keys.map((k) => k.path)).toContain('sources[].command_dumps[].name')
  })

  it.each(keys.map((k) => [k.path, k.key]))('mentions %s', (_path, key) => {
    expect(text).toContain(`\`${key}\``)
  })

  it('marks exactly the keys that warn as accepted but not applied', () => {
    const marked = text
      .split('\n')
      .filter((line) => line.startsWith('| `') && /not (applied|used|run) yet/.test(line))
      .map((line) => /^\| `([a-z0-9_]+)`/.exec(line)?.[1])
    const inert = [...INERT_KEYS.top, ...INERT_KEYS.repository, ...INERT_KEYS.source]
    expect(new Set(marked)).toEqual(new Set(inert))
    expect(marked.every((line) => line !== undefined)).toBe(true)
  })

  it('marks exactly the keys the schema refuses as refused', () => {
    const marked = text
      .split('\n')
      .filter((line) => line.startsWith('| `') && line.includes('*refused*'))
      .map((line) => /^\| `([a-z0-9_]+)`/.exec(line)?.[1])
    const refused = keys.filter((k) => k.shape.kind === 'refused').map((k) => k.key)
    expect(refused.length).toBeGreaterThan(0)
    expect(new Set(marked)).toEqual(new Set(refused))
  })
})

describe('docs/commands.md', () => {
  const text = doc('commands.md')
  const all = commands(program)

  it('finds the whole tree', () => {
    expect(all.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'config',
        'init',
        'backup',
        'list',
        'info',
        'restore',
        'snapshot list',
        'snapshot info',
        'snapshot find',
        'snapshot diff',
        'key change-passphrase',
      ]),
    )
  })

  it('documents bare vger', () => {
    expect(section(text, '### `vger`')).toContain('full cycle')
  })

  it.each(all.filter((c) => c.leaf).map((c) => [c.name, c.cmd] as const))('documents `vger %s` and each of its options', (name, cmd) => {
    const body = section(text, `### \`vger ${name}\``)
    expect(body, `a "### \`vger ${name}\`" section`).toBeDefined()
    for (const opt of cmd.options) {
      if (opt.long === undefined || opt.long === '--help') continue
      expect(body, `${opt.long} in the section of vger ${name}`).toContain(opt.long)
    }
  })

  it('documents every global option', () => {
    const body = section(text, '## Global flags') ?? ''
    for (const opt of program.options) if (opt.long !== undefined) expect(body, opt.long).toContain(opt.long)
  })
})

describe('docs/json.md', () => {
  const text = doc('json.md')
  it.each([
    '',
    ...commands(program)
      .filter((c) => c.leaf)
      .map((c) => ` ${c.name}`),
  ])('describes `vger%s --json`', (name) => {
    expect(section(text, `## \`vger${name}\``), `a "## \`vger${name}\`" section`).toBeDefined()
  })
})
