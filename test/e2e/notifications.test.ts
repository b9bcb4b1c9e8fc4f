/**
 * The notification recipes of docs/notifications.md work as written: each fenced block tagged
 * `recipe=NAME` is taken from the document itself (its service's address swapped for a local receiver),
 * pasted into a config, and a real backup is run three times: one that succeeds, one whose source is
 * missing, and one whose `before` hook fails with quotes, `$`, `&`, `%` and a backslash in its message.
 * The receiver must get exactly the documented requests: method, path, query, headers and body, with the
 * error text intact.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { type ReceivedRequest, type Receiver, startReceiver } from '../helpers/receiver.js'
import { errorCode, ensureBuilt, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const DOC = readFileSync(new URL('../../docs/notifications.md', import.meta.url), 'utf8')
const LABEL = 'laptop'

/** The `yaml recipe=NAME` blocks of the document, by name. */
function recipes(text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const m of text.matchAll(/^```yaml recipe=([a-z-]+)\n([\s\S]*?)^```$/gm)) out.set(m[1] ?? '', m[2] ?? '')
  return out
}

function has(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** How one run ended, as the hooks saw it. */
interface Outcome {
  ok: boolean
  /** `$VGER_ERROR` as the failed hooks got it. */
  error?: string
}

/** A request reduced to what a recipe promises. */
interface Seen {
  method: string
  path: string
  query: Record<string, string>
  headers: ReceivedRequest['headers']
  body: string
}

function seen(r: ReceivedRequest): Seen {
  const u = new URL(r.url, 'http://receiver')
  return { method: r.method, path: u.pathname, query: Object.fromEntries(u.searchParams), headers: r.headers, body: r.body }
}

const form = (body: string): Record<string, string> => Object.fromEntries(new URLSearchParams(body))

interface Recipe {
  /** The service's address in the document, replaced by the receiver's. */
  host: string
  tools: string[]
  check: (requests: Seen[], outcome: Outcome) => void
}

const HC = '/0f3a7c5e-8d1b-4a2f-9e6c-1b2d3c4e5f60'

const RECIPES: Record<string, Recipe> = {
  healthchecks: {
    host: 'https://hc-ping.com',
    tools: ['curl'],
    check: (reqs, o) => {
      expect(reqs.map((r) => `${r.method} ${r.path}`)).toEqual([`GET ${HC}/start`, o.ok ? `GET ${HC}` : `POST ${HC}/fail`])
      expect(reqs[1]?.body).toBe(o.ok ? '' : o.error)
    },
  },
  ntfy: {
    host: 'https://ntfy.sh',
    tools: ['curl'],
    check: (reqs, o) => {
      expect(reqs).toHaveLength(1)
      const [r] = reqs as [Seen]
      expect(`${r.method} ${r.path}`).toBe('POST /my-vger-backups')
      expect(r.headers).toMatchObject(
        o.ok
          ? { title: `vger: backup of ${LABEL} done`, priority: 'low', tags: 'floppy_disk' }
          : { title: `vger: backup of ${LABEL} FAILED`, priority: 'high', tags: 'warning,floppy_disk' },
      )
      expect(r.body).toBe(o.ok ? `The backup of ${LABEL} succeeded.` : o.error)
    },
  },
  'apprise-api': {
    host: 'http://apprise.lan:8000',
    tools: ['curl'],
    check: (reqs, o) => {
      expect(reqs).toHaveLength(1)
      const [r] = reqs as [Seen]
      expect(`${r.method} ${r.path}`).toBe('POST /notify/vger')
      expect(r.headers['content-type']).toBe('application/x-www-form-urlencoded')
      expect(form(r.body)).toEqual(
        o.ok
          ? { title: `vger: backup of ${LABEL} done`, body: `The backup of ${LABEL} succeeded.`, type: 'success' }
          : { title: `vger: backup of ${LABEL} FAILED`, body: o.error, type: 'failure' },
      )
    },
  },
  'uptime-kuma': {
    host: 'https://kuma.example.com',
    tools: ['curl'],
    check: (reqs, o) => {
      expect(reqs).toHaveLength(1)
      const [r] = reqs as [Seen]
      expect(`${r.method} ${r.path}`).toBe('GET /api/push/vGrPuSh7Tk')
      expect(r.query).toEqual(o.ok ? { status: 'up', msg: `backup of ${LABEL} done` } : { status: 'down', msg: o.error })
    },
  },
  webhook: {
    host: 'https://hooks.example.com',
    tools: ['curl', 'jq'],
    check: (reqs, o) => {
      expect(reqs).toHaveLength(1)
      const [r] = reqs as [Seen]
      expect(`${r.method} ${r.path}`).toBe('POST /vger')
      expect(r.headers['content-type']).toBe('application/json')
      const doc = JSON.parse(r.body) as Record<string, unknown>
      expect(doc).toEqual({
        source: 'vger',
        command: 'backup',
        repository: LABEL,
        status: o.ok ? 'ok' : 'failed',
        error: o.ok ? null : o.error,
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      })
    },
  },
}

/** A YAML single-quoted scalar. */
const q = (text: string): string => `'${text.replaceAll("'", "''")}'`

/** A `before` hook whose message has both quotes, `$`, `&`, `%` and a backslash. */
const NASTY_HOOK = `echo "disk \\"usb\\" isn't mounted: \\$HOME & 100% \\\\ gone" >&2; exit 3`
const NASTY_LINE = `disk "usb" isn't mounted: $HOME & 100% \\ gone`

let receiver: Receiver
beforeAll(async () => {
  ensureBuilt()
  receiver = await startReceiver()
})
afterAll(async () => receiver.close())

const documented = recipes(DOC)

describe('docs/notifications.md', () => {
  it('tags a recipe for every service the test knows, and no other', () => {
    expect([...documented.keys()].sort()).toEqual(Object.keys(RECIPES).sort())
  })
})

describe.skipIf(!addonBuilt)(`notification recipes${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it.each(Object.keys(RECIPES))(
    '%s: the documented requests for a backup that succeeds, lacks its source, or fails a hook',
    async (name) => {
      const recipe = RECIPES[name] as Recipe
      const missing = recipe.tools.filter((t) => !has(t))
      if (missing.length > 0) {
        console.warn(`recipe ${name} not run: ${missing.join(', ')} not installed`)
        return
      }
      const text = documented.get(name) ?? ''
      expect(text, `the recipe's address ${recipe.host}`).toContain(recipe.host)
      const hooks = text.replaceAll(recipe.host, receiver.origin)
      expect(hooks).not.toMatch(/https?:\/\/(?!127\.0\.0\.1:)/)

      const work = tempDir()
      mkdirSync(path.join(work, 'data'))
      writeFileSync(path.join(work, 'data', 'a.txt'), 'hello\n')
      const errorFile = path.join(work, 'error')
      const config = (file: string, source: string, repoHooks: string[] = []): string => {
        writeFileSync(
          path.join(work, file),
          [
            'repositories:',
            '  - url: ./repo',
            `    label: ${LABEL}`,
            '    hooks:',
            // What the failed hooks are told, to compare with what the service received.
            `      failed_backup: ${q(`printf '%s' "$VGER_ERROR" > "${errorFile}"`)}`,
            ...repoHooks,
            'sources:',
            `  - ${source}`,
            hooks,
          ].join('\n'),
        )
        return file
      }
      const vger = (file: string, args: string[]) =>
        runCli(['-c', file, ...args], { cwd: work, env: { HOME: work, VGER_PASSPHRASE: 'pw', VGER_TEST_KDF: 'fast' } })

      const good = config('good.yaml', 'data')
      const init = await vger(good, ['init'])
      expect(init.code, init.stderr).toBe(0)
      expect(receiver.take()).toEqual([]) // init runs no hooks

      const ok = await vger(good, ['backup'])
      expect(ok.code, ok.stderr).toBe(0)
      expect(ok.stderr).not.toContain('warning')
      recipe.check(receiver.take().map(seen), { ok: true })

      const lost = await vger(config('lost.yaml', './no-such-dir'), ['backup'])
      expect(lost.code).toBe(1)
      expect(errorCode(lost.stderr)).toBe('VGER_SOURCE_NOT_FOUND')
      expect(lost.stderr).not.toContain('warning')
      const lostError = readFileSync(errorFile, 'utf8')
      expect(lostError).toMatch(/^VGER_SOURCE_NOT_FOUND: .*no-such-dir/)
      recipe.check(receiver.take().map(seen), { ok: false, error: lostError })

      const hooked = await vger(config('hook.yaml', 'data', [`      before_backup: ${q(NASTY_HOOK)}`]), ['backup'])
      expect(hooked.code).toBe(1)
      expect(errorCode(hooked.stderr)).toBe('VGER_HOOK_FAILED')
      expect(hooked.stderr).not.toContain('warning')
      const hookError = readFileSync(errorFile, 'utf8')
      expect(hookError).toContain(`exited with status 3: ${NASTY_LINE}`)
      recipe.check(receiver.take().map(seen), { ok: false, error: hookError })
    },
  )
})
