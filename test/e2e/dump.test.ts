/**
 * `vger dump` (docs/commands.md): a file's bytes to stdout, equal to the original; a directory as tar (and
 * zip) that `tar`/`unzip` list and extract to the original tree; usable in a pipe; a path that is not in the
 * snapshot and a damaged pack are errors, never wrong bytes.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { CLI, cliEnv, errorCode, ensureBuilt, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const PASS = 'correct horse battery staple'

beforeAll(() => ensureBuilt())

function setup() {
  const work = tempDir()
  const src = path.join(work, 'src')
  mkdirSync(path.join(src, 'etc', 'deep'), { recursive: true })
  writeFileSync(path.join(src, 'etc', 'hosts'), '127.0.0.1 localhost\n')
  writeFileSync(path.join(src, 'etc', 'deep', 'big.bin'), randomBytes(3 << 20))
  writeFileSync(path.join(src, 'etc', 'deep', 'empty'), '')
  writeFileSync(path.join(src, 'etc', 'name with spaces & "quotes"'), 'q')
  symlinkSync('hosts', path.join(src, 'etc', 'link'))
  writeFileSync(path.join(src, 'top.txt'), 'top\n')
  const config = path.join(work, 'vger.yaml')
  writeFileSync(config, 'repositories:\n  - url: ./repo\n')
  const env = cliEnv(work, { VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' })
  const vger = (args: string[]) => runCli(['-c', config, ...args], { cwd: work, env })
  /** Runs vger with stdout captured as bytes. */
  const dumpBytes = (args: string[]) =>
    spawnSync(process.execPath, [CLI, '-c', config, 'dump', ...args], { cwd: work, env, maxBuffer: 64 << 20 })
  return { work, src, vger, dumpBytes, env, config }
}

/** Every file under `dir` with its bytes, by relative path (symlinks as `-> target`). */
function tree(dir: string, rel = ''): Map<string, string> {
  const out = new Map<string, string>()
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const p = rel === '' ? e.name : `${rel}/${e.name}`
    if (e.isDirectory()) for (const [k, v] of tree(dir, p)) out.set(k, v)
    else if (e.isSymbolicLink()) out.set(p, '-> symlink')
    else out.set(p, readFileSync(path.join(dir, p)).toString('base64'))
  }
  return out
}

describe.skipIf(!addonBuilt)(`vger dump${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it('writes a file, and a directory as tar or zip that extracts to the original tree', async () => {
    const s = setup()
    expect((await s.vger(['init'])).code).toBe(0)
    const b = await s.vger(['backup', 'src'])
    expect(b.code, b.stderr).toBe(0)

    const file = s.dumpBytes(['latest', 'etc/deep/big.bin'])
    expect(file.status, file.stderr.toString()).toBe(0)
    expect(file.stdout.equals(readFileSync(path.join(s.src, 'etc', 'deep', 'big.bin')))).toBe(true)
    expect(s.dumpBytes(['latest', '/top.txt']).stdout.toString()).toBe('top\n')

    // In a pipe, as the issue has it: `vger dump latest etc | tar -t`.
    const listed = spawnSync('sh', ['-c', `"${process.execPath}" '${CLI}' -c '${s.config}' dump latest etc | tar -t`], {
      cwd: s.work,
      env: s.env,
    })
    expect(listed.status, listed.stderr.toString()).toBe(0)
    expect(listed.stdout.toString().split('\n').filter(Boolean).sort()).toEqual(
      ['deep/', 'deep/big.bin', 'deep/empty', 'hosts', 'link', 'name with spaces & "quotes"'].sort(),
    )

    for (const format of ['tar', 'zip'] as const) {
      const archive = s.dumpBytes(['latest', '.', '--archive', format])
      expect(archive.status, archive.stderr.toString()).toBe(0)
      const file = path.join(s.work, `all.${format}`)
      writeFileSync(file, archive.stdout)
      const out = path.join(s.work, `out-${format}`)
      mkdirSync(out)
      const x =
        format === 'tar' ? spawnSync('tar', ['-xf', file, '-C', out]) : spawnSync('unzip', ['-q', file, '-d', out], { encoding: 'utf8' })
      expect(x.status, String(x.stderr)).toBe(0)
      expect(tree(out)).toEqual(tree(s.src))
    }
  })

  it('a path not in the snapshot and a damaged pack are errors, never wrong bytes', async () => {
    const s = setup()
    expect((await s.vger(['init'])).code).toBe(0)
    expect((await s.vger(['backup', 'src'])).code).toBe(0)
    const missing = s.dumpBytes(['latest', 'etc/nope'])
    expect(missing.status).toBe(2)
    expect(errorCode(missing.stderr.toString())).toBe('VGER_USAGE')
    expect(missing.stderr.toString()).toContain('is not in snapshot')
    expect(missing.stdout.length).toBe(0)

    // Flip a byte in the middle of every pack big enough to hold the random file's chunks.
    const packs = path.join(s.work, 'repo', 'packs')
    for (const dir of readdirSync(packs)) {
      for (const name of readdirSync(path.join(packs, dir))) {
        const p = path.join(packs, dir, name)
        const bytes = readFileSync(p)
        if (bytes.length < 1 << 20) continue
        const at = bytes.length >> 1
        bytes[at] = (bytes[at] as number) ^ 0x55
        writeFileSync(p, bytes)
      }
    }
    const original = readFileSync(path.join(s.src, 'etc', 'deep', 'big.bin'))
    const damaged = s.dumpBytes(['latest', 'etc/deep/big.bin'])
    expect(damaged.status).toBe(1)
    expect(errorCode(damaged.stderr.toString())).toBe('VGER_CORRUPT')
    // What came out before the error is a prefix of the original: no wrong byte was written.
    expect(damaged.stdout.length).toBeLessThan(original.length)
    expect(damaged.stdout.equals(original.subarray(0, damaged.stdout.length))).toBe(true)
  })
})
