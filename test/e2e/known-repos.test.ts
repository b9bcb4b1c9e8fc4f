/**
 * Repository swap and downgrade (docs/architecture.md, "Known repositories"): a machine remembers the id and encryption of each
 * repository URL it used, and refuses a replaced or unencrypted repository at that URL before sending data.
 * The "attacker" is a second home directory (no memory of the URL) that re-creates the repository.
 * A rollback (the whole repository set back to an older copy of itself) is noticed by the index generation.
 */
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { ensureBuilt, errorCode, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'
import { makeTree } from '../helpers/tree.js'

const PASS = 'correct horse battery staple'

beforeAll(() => ensureBuilt())

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
}

describe.skipIf(!addonBuilt)(`known repositories${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  let work: string
  let user: string
  let attacker: string
  let repo: string
  const known = () => path.join(user, '.local', 'share', 'vger', 'known-repositories.json')

  const run = (home: string, config: string, args: string[]) =>
    runCli(['-c', config, ...args], { cwd: work, env: { HOME: home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' } })

  const writeConfig = (name: string, encryption: 'auto' | 'none'): string => {
    const file = path.join(work, name)
    writeFileSync(file, `repositories:\n  - url: ./repo\n    label: main\nsources:\n  - src\nencryption:\n  mode: ${encryption}\n`)
    return file
  }

  const data = () =>
    JSON.parse(readFileSync(known(), 'utf8')) as {
      repositories: Record<string, { id: string; encryption: string; generation?: number }>
    }

  beforeAll(() => {
    work = tempDir()
    user = tempDir()
    attacker = tempDir()
    repo = path.join(work, 'repo')
    makeTree(path.join(work, 'src'))
  })

  it('init and open record the repository; an unencrypted swap-in is refused and receives nothing', async () => {
    const config = writeConfig('user.yaml', 'auto')
    expect((await run(user, config, ['init'])).code).toBe(0)
    expect((await run(user, config, ['backup'])).code).toBe(0)
    const record = JSON.parse(readFileSync(known(), 'utf8')) as { repositories: Record<string, { id: string; encryption: string }> }
    expect(Object.keys(record.repositories)).toEqual([repo])

    rmSync(repo, { recursive: true })
    expect((await run(attacker, writeConfig('attacker.yaml', 'none'), ['init'])).code).toBe(0)
    const before = filesUnder(repo)

    const r = await run(user, config, ['backup'])
    expect(r.code).toBe(1)
    expect(errorCode(r.stderr)).toBe('VGER_REPO_CHANGED')
    expect(r.stderr).toMatch(/was encrypted .* now unencrypted: refusing to send data to it/)
    expect(r.stderr).toContain(known())
    expect(filesUnder(repo)).toEqual(before)
  })

  it('an encrypted repository with another id is refused too, until the user removes the record', async () => {
    const config = path.join(work, 'user.yaml')
    rmSync(repo, { recursive: true })
    expect((await run(attacker, writeConfig('attacker2.yaml', 'auto'), ['init'])).code).toBe(0)

    const r = await run(user, config, ['list'])
    expect(r.code).toBe(1)
    expect(errorCode(r.stderr)).toBe('VGER_REPO_CHANGED')
    expect(r.stderr).toMatch(/has id [0-9a-f]{8}, but this machine knew repository [0-9a-f]{8} there .*: it was replaced/)
    expect(r.stderr).toContain('--trust-repo')

    // Following the message's next step: drop the entry, and the new repository is trusted on first use.
    const data = JSON.parse(readFileSync(known(), 'utf8')) as { repositories: Record<string, unknown> }
    delete data.repositories[repo]
    writeFileSync(known(), JSON.stringify(data))
    expect((await run(user, config, ['list'])).code).toBe(0)
    expect((await run(user, config, ['list'])).code).toBe(0)
  })

  it('a repository rolled back to an older copy of itself is refused, by every command, until the user accepts it', async () => {
    const config = path.join(work, 'user.yaml')
    const old = path.join(work, 'repo-copy')
    rmSync(repo, { recursive: true })
    expect((await run(user, config, ['init'])).code).toBe(0)
    expect((await run(user, config, ['backup'])).code).toBe(0)
    cpSync(repo, old, { recursive: true })
    const first = data().repositories[repo]?.generation ?? 0
    expect(first).toBeGreaterThan(0)
    writeFileSync(path.join(work, 'src', 'new-file'), 'written after the copy')
    expect((await run(user, config, ['backup'])).code).toBe(0)
    const second = data().repositories[repo]?.generation ?? 0
    expect(second).toBeGreaterThan(first)

    // The host restores the older copy: a consistent repository, one snapshot short.
    rmSync(repo, { recursive: true })
    cpSync(old, repo, { recursive: true })
    const before = filesUnder(repo)
    for (const args of [['list'], ['backup'], ['compact'], ['check']]) {
      const r = await run(user, config, args)
      expect(r.code, args.join(' ')).toBe(1)
      expect(errorCode(r.stderr)).toBe('VGER_REPO_ROLLED_BACK')
      expect(r.stderr).toContain(`is at index generation ${first}, but this machine saw it at generation ${second}`)
      expect(r.stderr).toContain(known())
    }
    expect(filesUnder(repo)).toEqual(before)
    expect(data().repositories[repo]?.generation).toBe(second)

    // Another machine, which never saw the newer state, opens it.
    expect((await run(tempDir(), config, ['list'])).code).toBe(0)

    // Following the message's next step: --trust-repo accepts the older state, which then moves on.
    expect((await run(user, config, ['--trust-repo', 'backup'])).code).toBe(0)
    const now = data().repositories[repo]?.generation ?? 0
    expect(now).toBeGreaterThan(first)
    expect((await run(user, config, ['list'])).code).toBe(0)
  })

  it('vger delete forgets the repository, so a new one may be created at the same URL by anyone', async () => {
    const config = path.join(work, 'user.yaml')
    expect((await run(user, config, ['delete', '--yes-delete-this-repo'])).code).toBe(0)
    const data = JSON.parse(readFileSync(known(), 'utf8')) as { repositories: Record<string, unknown> }
    expect(data.repositories[repo]).toBeUndefined()
    expect((await run(attacker, path.join(work, 'attacker2.yaml'), ['init'])).code).toBe(0)
    expect((await run(user, config, ['list'])).code).toBe(0)
  })
})
