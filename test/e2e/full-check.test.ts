/**
 * `check.full_every` (docs/config.md, `check`): the bare `vger` cycle's check reads every pack when no full
 * check of the repository is recorded or the last one is at least that old; a successful full check (of
 * the cycle or of `vger check --verify-data`) is recorded in `cache_dir/checks/<id>.json`; a failed one is not.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { filesBySize, flipByte } from '../helpers/repo-files.js'
import { type CliResult, ensureBuilt, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

beforeAll(() => ensureBuilt())

interface CheckStep {
  status: string
  result?: { packsRead: number; blobsVerified: number; fullCheck?: boolean }
}

function checkStep(r: CliResult): CheckStep | undefined {
  const doc = JSON.parse(r.stdout) as { repositories: { steps: (CheckStep & { step: string })[] }[] }
  return doc.repositories[0]?.steps.find((s) => s.step === 'check')
}

function setup(check: string[]) {
  const work = tempDir()
  mkdirSync(path.join(work, 'data'))
  writeFileSync(path.join(work, 'data', 'a.txt'), 'some data to verify\n'.repeat(1000))
  const config = path.join(work, 'vger.yaml')
  writeFileSync(config, ['repositories:', '  - url: ./repo', 'sources:', '  - data', 'cache_dir: ./cache', ...check, ''].join('\n'))
  const vger = (args: string[]) =>
    runCli(['-c', config, ...args], { cwd: work, env: { HOME: work, VGER_PASSPHRASE: 'pw', VGER_TEST_KDF: 'fast' } })
  const checks = path.join(work, 'cache', 'checks')
  const record = (): string | undefined => {
    if (!existsSync(checks)) return undefined
    const [file] = readdirSync(checks)
    return file === undefined ? undefined : path.join(checks, file)
  }
  const recorded = (): number | undefined => {
    const file = record()
    return file === undefined ? undefined : Date.parse((JSON.parse(readFileSync(file, 'utf8')) as { lastFullCheck: string }).lastFullCheck)
  }
  return { work, vger, record, recorded }
}

describe.skipIf(!addonBuilt)(`check.full_every${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it('makes the cycle check every pack when none is recorded or the last full check is too old', async () => {
    const { vger, record, recorded } = setup(['check:', '  full_every: 1d'])
    expect((await vger(['init'])).code).toBe(0)

    // No record: a full check, which is then recorded.
    const first = await vger(['--json'])
    expect(first.code, first.stderr).toBe(0)
    const full = checkStep(first)
    expect(full?.result?.fullCheck).toBe(true)
    expect(full?.result?.packsRead).toBeGreaterThan(0)
    expect(full?.result?.blobsVerified).toBeGreaterThan(0)
    expect(path.basename(record() ?? '')).toMatch(/^[0-9a-f]{16,}\.json$/)
    expect(Date.now() - (recorded() ?? 0)).toBeLessThan(60_000)

    // Recorded a moment ago: structure only.
    const second = await vger(['--json'])
    expect(second.code, second.stderr).toBe(0)
    expect(checkStep(second)?.result?.fullCheck).toBeUndefined()
    expect(checkStep(second)?.result?.packsRead).toBe(0)

    // The last full check two days ago: full again, and recorded anew. The text output says why.
    writeFileSync(record() ?? '', JSON.stringify({ lastFullCheck: new Date(Date.now() - 2 * 86_400_000).toISOString() }))
    const third = await vger([])
    expect(third.code, third.stderr).toBe(0)
    expect(third.stderr).toMatch(/a full check, reading every pack \(check\.full_every; the last one ended 20/)
    expect(third.stdout).toMatch(/data: \d+ packs? read/)
    expect(Date.now() - (recorded() ?? 0)).toBeLessThan(60_000)
  })

  it('counts vger check --verify-data as a full check; without full_every the cycle never reads every pack', async () => {
    const { work, vger, record } = setup([])
    expect((await vger(['init'])).code).toBe(0)
    const cycle = await vger(['--json'])
    expect(cycle.code, cycle.stderr).toBe(0)
    expect(checkStep(cycle)?.result?.packsRead).toBe(0)
    expect(record()).toBeUndefined()

    const verify = await vger(['check', '--verify-data'])
    expect(verify.code, verify.stderr).toBe(0)
    expect(record()).toBeDefined()
    writeFileSync(path.join(work, 'vger.yaml'), `${readFileSync(path.join(work, 'vger.yaml'), 'utf8')}check:\n  full_every: 1d\n`)
    const after = await vger(['--json'])
    expect(checkStep(after)?.result?.fullCheck).toBeUndefined()
    expect(checkStep(after)?.result?.packsRead).toBe(0)
  })

  it('does not record a full check that found damage', async () => {
    const { work, vger, record } = setup(['check:', '  full_every: 1d'])
    expect((await vger(['init'])).code).toBe(0)
    expect((await vger(['backup'])).code).toBe(0)
    const [pack] = filesBySize(path.join(work, 'repo', 'packs'))
    flipByte(pack ?? '', 200)
    const cycle = await vger(['--json'])
    expect(cycle.code).toBe(1)
    const step = checkStep(cycle) as CheckStep & { error?: { code: string } }
    expect(step.status).toBe('failed')
    expect(step.error?.code).toBe('VGER_CHECK_FAILED')
    expect(step.result?.fullCheck).toBe(true)
    expect(record()).toBeUndefined()
  })
})
