/**
 * Defects a new user met (issue 11, items 5 and 10), end to end through `node dist/cli/main.js`: a damaged
 * snapshot named by its id, file names that carry terminal escapes, what check and repair say (a
 * healthy repository, a damaged pack in a dry run, full ids in --json), vykar's `compact` and `check`
 * keys acting, and what a repository and the file cache look like under umask 022.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { filesBySize, flipByte } from '../helpers/repo-files.js'
import { CLI, type CliResult, cliEnv, ensureBuilt, errorCode, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const PASS = 'defects passphrase'

beforeAll(() => ensureBuilt())

function json<T>(r: CliResult): T {
  return JSON.parse(r.stdout) as T
}

/** A work directory with a source `docs` holding `files`, a config (plus `tail`) and an initialised repository. */
async function setup(files: Record<string, string | Buffer>, tail: string[] = []) {
  const home = tempDir()
  const work = tempDir()
  for (const [name, data] of Object.entries(files)) {
    const p = path.join(work, 'docs', name)
    mkdirSync(path.dirname(p), { recursive: true })
    writeFileSync(p, data)
  }
  const config = path.join(work, 'vger.yaml')
  const lines = ['repositories:', '  - url: ./repo', '    label: main', 'sources:', '  - path: docs', 'hostname: e2e', ...tail, '']
  writeFileSync(config, lines.join('\n'))
  const env = { HOME: home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' }
  const vger = (args: string[], cfg = config) => runCli(['-c', cfg, ...args], { cwd: work, env })
  const init = await vger(['init', '-q'])
  expect(init.code, init.stderr).toBe(0)
  return { home, work, repo: path.join(work, 'repo'), config, env, vger }
}

async function backup(vger: (a: string[]) => Promise<CliResult>): Promise<string> {
  const r = await vger(['backup', '--json'])
  expect(r.code, r.stderr).toBe(0)
  return json<{ snapshots: { snapshotId: string }[] }>(r).snapshots[0]?.snapshotId ?? ''
}

describe.skipIf(!addonBuilt)(`user defects end to end${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it('a damaged snapshot named by its id is reported as damaged, not as not found', async () => {
    const { repo, vger } = await setup({ 'a.txt': 'a\n' })
    const id = await backup(vger)
    const file = path.join(repo, 'snapshots', id)
    flipByte(file, Math.floor(statSync(file).size / 2))
    for (const args of [
      ['restore', id.slice(0, 8), path.join(repo, '..', 'out')],
      ['snapshot', 'list', id],
    ]) {
      const r = await vger(args)
      expect(r.code).toBe(1)
      expect(errorCode(r.stderr)).toBe('VGER_CORRUPT')
      expect(r.stderr).toContain(`snapshot ${id.slice(0, 12)} is damaged`)
      expect(r.stderr).not.toContain('no snapshot id starts with')
    }
    // A prefix no snapshot has is still "not found".
    const none = await vger(['restore', id.startsWith('0') ? '1111' : '0000', path.join(repo, '..', 'out')])
    expect(errorCode(none.stderr)).toBe('VGER_SNAPSHOT_NOT_FOUND')
  })

  it('file names with escape sequences and newlines are escaped on the terminal and exact in --json', async () => {
    const evil = 'evil\u001b[2J\u001b]0;owned\u0007\nls -la\r.txt'
    const { vger, work } = await setup({ [evil]: 'one\n', 'plain.txt': 'x\n' })
    const first = await backup(vger)
    writeFileSync(path.join(work, 'docs', evil), 'two, longer\n')
    const second = await backup(vger)
    const shown = 'evil\\x1b[2J\\x1b]0;owned\\x07\\nls -la\\r.txt'
    const outputs = [
      await vger(['snapshot', 'list', second]),
      await vger(['snapshot', 'find', '--name', 'evil*']),
      await vger(['snapshot', 'diff', first, second]),
    ]
    for (const r of outputs) {
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain(shown)
      expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/)
    }
    const list = json<{ entries: { path: string }[] }>(await vger(['snapshot', 'list', second, '--json']))
    expect(list.entries.map((e) => e.path)).toContain(evil)
    const find = json<{ results: { path: string }[] }>(await vger(['snapshot', 'find', '--name', 'evil*', '--json']))
    expect(find.results.map((r) => r.path)).toEqual([evil])
  })

  it('check --repair: a healthy repository needs nothing; a damaged pack fails the dry run; ids are full in --json', async () => {
    const { repo, vger } = await setup({ 'victim.bin': randomBytes(300 * 1024), 'fine.txt': 'fine\n' })
    await backup(vger)
    for (const args of [
      ['check', '--repair', '--dry-run'],
      ['check', '--repair'],
    ]) {
      const healthy = await vger(args)
      expect(healthy.code, healthy.stderr).toBe(0)
      expect(healthy.stdout).toContain('Nothing needs repair')
      expect(healthy.stdout).not.toMatch(/segments? replaced|\d+ problems? found/)
    }

    const pack = filesBySize(path.join(repo, 'packs'))[0] ?? ''
    const id = path.basename(pack)
    flipByte(pack, Math.floor(statSync(pack).size / 2))
    // Without --verify-data the check after the dry run reads no data: the plan must speak for it.
    const dry = await vger(['check', '--repair', '--dry-run'])
    expect(dry.code).toBe(1)
    expect(errorCode(dry.stderr)).toBe('VGER_CHECK_FAILED')
    expect(dry.stdout).not.toContain('no problems found')
    expect(dry.stdout).toContain(`damaged packs: ${id.slice(0, 12)}`)
    expect(dry.stdout).not.toMatch(/0 entries added/)
    const j = await vger(['check', '--repair', '--dry-run', '--json'])
    const out = json<{ repositories: { needed: boolean; packsDamaged: string[] }[] }>(j).repositories[0]
    expect(out?.needed).toBe(true)
    expect(out?.packsDamaged).toEqual([id])
    expect(id).toMatch(/^[0-9a-f]{64}$/)
  })

  it("vykar's compact.threshold, check.max_percent and check.full_every act", async () => {
    const keep = randomBytes(200 * 1024)
    const { vger, work, config } = await setup({ 'keep.bin': keep, 'gone.bin': randomBytes(200 * 1024) }, [
      'check:',
      '  max_percent: 100',
      '  full_every: 60d',
    ])
    const first = await backup(vger)
    const { rmSync } = await import('node:fs')
    rmSync(path.join(work, 'docs', 'gone.bin'))
    await backup(vger)
    expect((await vger(['snapshot', 'delete', first])).code).toBe(0)
    // The first backup's data pack is now about half unused: the engine's default threshold (10) repacks it, 60 does not.
    type Compact = { repositories: { repack: unknown[] }[] }
    const byDefault = json<Compact>(await vger(['compact', '--dry-run', '--json']))
    const repacked = byDefault.repositories[0]?.repack.length ?? 0
    expect(repacked).toBeGreaterThan(0)
    const high = path.join(work, 'high.yaml')
    const { readFileSync } = await import('node:fs')
    writeFileSync(high, `${readFileSync(config, 'utf8')}compact:\n  threshold: 60\n`)
    const r = await vger(['compact', '--dry-run', '--json'], high)
    expect(json<Compact>(r).repositories[0]?.repack).toEqual([])
    const flag = await vger(['compact', '--dry-run', '--json', '--threshold', '10'], high)
    expect(json<Compact>(flag).repositories[0]?.repack.length).toBe(repacked)
    // The cycle's check reads every pack: a full check, as full_every asks when none is recorded.
    const cycle = await vger(['--json'])
    expect(cycle.code, cycle.stderr).toBe(0)
    type Cycle = { repositories: { steps: { step: string; result?: { packsRead: number; fullCheck?: boolean } }[] }[] }
    const check = json<Cycle>(cycle).repositories[0]?.steps.find((s) => s.step === 'check')
    expect(check?.result?.packsRead).toBeGreaterThan(0)
    expect(check?.result?.fullCheck).toBe(true)
    expect(cycle.stderr).not.toContain('not applied')
  })

  it('under umask 022 the repository, its key and the file cache are private (0600 files, 0700 directories)', () => {
    const home = tempDir()
    const work = tempDir()
    mkdirSync(path.join(work, 'docs'))
    writeFileSync(path.join(work, 'docs', 'f.txt'), 'data\n')
    writeFileSync(path.join(work, 'vger.yaml'), 'repositories:\n  - url: ./repo\nsources:\n  - docs\n')
    const env = cliEnv(home, { VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' })
    for (const cmd of ['init', 'backup']) {
      const r = spawnSync('sh', ['-c', `umask 022 && exec "$0" "$1" -c vger.yaml ${cmd}`, process.execPath, CLI], { cwd: work, env })
      expect(r.status, r.stderr.toString()).toBe(0)
    }
    const cache = path.join(home, '.cache', 'vger')
    for (const root of [path.join(work, 'repo'), cache]) {
      const walk = (dir: string): string[] =>
        readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
          const p = path.join(dir, e.name)
          return e.isDirectory()
            ? [`${p} ${(statSync(p).mode & 0o777).toString(8)}`, ...walk(p)]
            : [`${p} ${(statSync(p).mode & 0o777).toString(8)}`]
        })
      const modes = [`${root} ${(statSync(root).mode & 0o777).toString(8)}`, ...walk(root)]
      const wrong = modes.filter((m) => {
        const isDir = statSync(m.slice(0, m.lastIndexOf(' '))).isDirectory()
        return !m.endsWith(isDir ? ' 700' : ' 600')
      })
      expect(wrong).toEqual([])
      expect(modes.length).toBeGreaterThan(2)
    }
  })
})
