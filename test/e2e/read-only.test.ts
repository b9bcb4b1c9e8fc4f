/**
 * A repository that cannot be written can still be read: on a read-only bind mount (root only; skipped
 * with a reason otherwise) restore, check, list, snapshot list/find/diff and info work, each with a
 * warning that it reads without a lock, while backup fails. `--no-lock` reads without writing a lock on
 * any repository and is refused by commands that write.
 */
import { randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt, isRoot } from '../helpers/addon.js'
import { type CliResult, ensureBuilt, errorCode, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const PASS = 'read-only passphrase'

beforeAll(() => ensureBuilt())

async function repoWithTwoSnapshots(): Promise<{ work: string; repo: string; vger: (args: string[]) => Promise<CliResult> }> {
  const home = tempDir()
  const work = tempDir()
  mkdirSync(path.join(work, 'src'))
  writeFileSync(
    path.join(work, 'vger.yaml'),
    [
      'repositories:',
      '  - url: ./repo',
      '    label: usb',
      'sources:',
      '  - path: src',
      '    label: data',
      'retention:',
      '  keep_last: 1',
      '',
    ].join('\n'),
  )
  const vger = (args: string[]): Promise<CliResult> =>
    runCli(['-c', path.join(work, 'vger.yaml'), ...args], { cwd: work, env: { HOME: home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' } })
  expect((await vger(['init', '-q'])).code).toBe(0)
  writeFileSync(path.join(work, 'src', 'a.bin'), randomBytes(200_000))
  expect((await vger(['backup', '-q'])).code).toBe(0)
  writeFileSync(path.join(work, 'src', 'b.txt'), 'second\n')
  expect((await vger(['backup', '-q'])).code).toBe(0)
  return { work, repo: path.join(work, 'repo'), vger }
}

function mount(args: string[]): boolean {
  try {
    execFileSync('mount', args, { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

describe.skipIf(!addonBuilt)(`unwritable repositories${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it('a read-only repository is restored, checked and listed without a lock', { timeout: 120_000 }, async (ctx) => {
    if (!isRoot) ctx.skip('a read-only bind mount needs root')
    const { work, repo, vger } = await repoWithTwoSnapshots()
    if (!mount(['--bind', repo, repo])) ctx.skip('mount --bind was refused')
    try {
      if (!mount(['-o', 'remount,ro,bind', repo])) ctx.skip('remount read-only was refused')
      const reads = [
        ['restore', 'latest', path.join(work, 'out')],
        ['check', '--verify-data'],
        ['list'],
        ['info'],
        ['snapshot', 'list', 'latest'],
        ['snapshot', 'find', '--name', '*.txt'],
        ['snapshot', 'diff', 'latest', 'latest'],
      ]
      for (const args of reads) {
        const r = await vger(args)
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
        if (['restore', 'check', 'snapshot'].includes(args[0] ?? '') && args[1] !== 'info') {
          expect(r.stderr, args.join(' ')).toMatch(
            /warning: repository "usb": cannot write a lock \(.*Read-only file system.*\), so this \w+ reads without one: .*never returns wrong data \[VGER_IO\]/,
          )
        }
      }
      expect(readFileSync(path.join(work, 'out', 'b.txt'), 'utf8')).toBe('second\n')
      const json = await vger(['check', '--json'])
      expect(json.code).toBe(0)
      expect(json.stderr).toMatch(/"type":"warning","path":"locks\/","code":"VGER_IO"/)
      const backup = await vger(['backup'])
      expect(errorCode(backup.stderr), backup.stderr).toBe('VGER_IO')
      expect(backup.stderr).toContain('Read-only file system')
    } finally {
      execFileSync('umount', ['-l', repo])
    }
  })

  it('--no-lock reads without writing a lock, and writing commands refuse it', { timeout: 60_000 }, async () => {
    const { work, repo, vger } = await repoWithTwoSnapshots()
    const locksDir = path.join(repo, 'locks')
    const before = readdirSync(locksDir)
    const restored = await vger(['--no-lock', 'restore', 'latest', path.join(work, 'out')])
    expect(restored.code, restored.stderr).toBe(0)
    expect(restored.stderr).not.toContain('warning')
    const check = await vger(['check', '--no-lock'])
    expect(check.code, check.stderr).toBe(0)
    expect(readdirSync(locksDir)).toEqual(before)
    for (const args of [['backup'], ['prune'], ['compact'], ['check', '--repair']]) {
      const r = await vger([...args, '--no-lock'])
      expect(errorCode(r.stderr), `${args.join(' ')}: ${r.stderr}`).toBe('VGER_INVALID_ARGUMENT')
      expect(r.stderr).toContain('--no-lock is only for reading commands')
    }
  })
})
