/**
 * The packages as a user gets them (docs/packaging.md): `npm pack` of the main package and of the
 * linux-x64-gnu platform package, installed offline into a fresh project that cannot see the checkout;
 * the installed `vger` bin runs init/backup/list/restore; the package is imported from ESM, CommonJS and
 * type-checked TypeScript (the examples of docs/api.md); without its platform package it says what to do.
 * Then the standalone executable (`npm run build:exe`) backs up and restores from an empty directory with
 * no Node on PATH.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/addon.js'
import {
  ADDON_FILE,
  PLATFORM,
  examples,
  installOffline,
  pack,
  packDependencies,
  packPlatform,
  smallTree,
  snapshotOf,
} from '../helpers/package.js'
import { cliEnv, ensureBuilt, errorCode } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const PASS = 'package test passphrase'
const hostOk = process.platform === 'linux' && process.arch === 'x64'
const reason = !hostOk
  ? `packs the ${PLATFORM} package, this is ${process.platform}-${process.arch}`
  : `no ${path.relative(ROOT, ADDON_FILE)} (run "npm run build:native" first)`
const ready = hostOk && existsSync(ADDON_FILE)

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function run(file: string, args: string[], cwd: string, env: Record<string, string>): Run {
  const r = spawnSync(file, args, { cwd, env, encoding: 'utf8', timeout: 90_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** A config in `dir` backing up `src` into `dir/repo`. */
function config(dir: string, src: string): string {
  const file = path.join(dir, 'vger.yaml')
  writeFileSync(file, `repositories:\n  - url: ${path.join(dir, 'repo')}\nsources:\n  - path: ${src}\n    label: small\n`)
  return file
}

/** init, backup, list, restore with `vger` (a bin of the installed package or the standalone executable); the restore is returned. */
function cycle(vger: (args: string[]) => Run, dir: string): string {
  const dest = path.join(dir, 'restored')
  for (const args of [['init'], ['backup'], ['list', '--json'], ['restore', 'latest', dest]]) {
    const r = vger(args)
    expect(r.stderr.includes('error['), `vger ${args.join(' ')}: ${r.stderr}`).toBe(false)
    expect(r.code, `vger ${args.join(' ')}: ${r.stderr}`).toBe(0)
    if (args[0] === 'list') {
      const listed = JSON.parse(r.stdout) as { snapshots: { label: string }[] }[] | { snapshots: { label: string }[] }
      expect(JSON.stringify(listed)).toContain('"label":"small"')
    }
  }
  return dest
}

describe.skipIf(!ready)(`npm packages, installed offline${ready ? '' : ` (skipped: ${reason})`}`, () => {
  let prefix = ''
  let work = ''
  const started = Date.now()

  beforeAll(() => {
    ensureBuilt()
    const tarballs = tempDir('vger-pack-')
    const main = pack(ROOT, tarballs)
    const platform = packPlatform(tempDir('vger-platform-'), tarballs)
    prefix = tempDir('vger-prefix-')
    work = tempDir('vger-work-')
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
    const deps = packDependencies([...Object.keys(manifest.dependencies), '@types/node'], tempDir('vger-deps-'))
    installOffline(prefix, [main, platform, ...deps])
  })

  it('installs the main package with its platform package and nothing of the checkout', () => {
    const pkgDir = path.join(prefix, 'node_modules', 'vger')
    expect(existsSync(path.join(pkgDir, 'dist', 'cli', 'main.js'))).toBe(true)
    expect(existsSync(path.join(pkgDir, 'dist', 'vger-cli.mjs'))).toBe(true) // the bundle main.js loads
    expect(existsSync(path.join(pkgDir, 'LICENSE'))).toBe(true)
    expect(existsSync(path.join(pkgDir, 'crates', 'vger-napi', 'index.cjs'))).toBe(true)
    // Not a checkout: no Rust sources, no addon inside the main package.
    expect(existsSync(path.join(pkgDir, 'crates', 'vger-napi', 'Cargo.toml'))).toBe(false)
    expect(existsSync(path.join(pkgDir, 'crates', 'vger-napi', `vger.${PLATFORM}.node`))).toBe(false)
    expect(existsSync(path.join(prefix, 'node_modules', `vger-${PLATFORM}`, `vger.${PLATFORM}.node`))).toBe(true)
    const manifest = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { optionalDependencies: Record<string, string> }
    expect(manifest.optionalDependencies[`vger-${PLATFORM}`]).toBe('0.1.0')
  })

  it('runs init, backup, list and restore from the installed bin', () => {
    const dir = path.join(work, 'cli')
    const src = path.join(dir, 'src')
    smallTree(src)
    const file = config(dir, src)
    const env = cliEnv(dir, { VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' })
    const bin = path.join(prefix, 'node_modules', '.bin', 'vger')
    const dest = cycle((args) => run(bin, ['-c', file, ...args], dir, env), dir)
    expect(snapshotOf(dest)).toEqual(snapshotOf(src))
    expect(run(bin, ['--version'], dir, env).stdout.trim()).toBe('0.1.0')
  })

  it('runs the ESM and CommonJS examples of docs/api.md against the installed package', () => {
    const found = examples(readFileSync(path.join(ROOT, 'docs', 'api.md'), 'utf8'))
    expect([...found.keys()].sort()).toEqual(['example.cjs', 'example.mjs', 'example.ts'])
    for (const [name, code] of found) writeFileSync(path.join(prefix, name), code)
    const dir = path.join(work, 'api')
    mkdirSync(dir)
    const env = cliEnv(dir, { VGER_PASSPHRASE: PASS })
    const esm = run(process.execPath, ['example.mjs', dir], prefix, env)
    expect(esm.stderr).toBe('')
    expect(esm.code).toBe(0)
    expect(esm.stdout).toMatch(
      /^snapshot [0-9a-f]{8}: 1 file\(s\)\n1 snapshot\(s\), labels: example\nrestored 1 file\(s\), 0 error\(s\)\nwrong passphrase: VGER_\w+\n$/,
    )
    const cjs = run(process.execPath, ['example.cjs', dir], prefix, env)
    expect(cjs.stderr).toBe('')
    expect(cjs.code).toBe(0)
    expect(cjs.stdout).toMatch(/^engine \S+: 1 snapshot\(s\), \d+ entries in the latest\n$/)
  })

  it('type-checks the TypeScript example against the shipped declarations, then runs it', () => {
    writeFileSync(
      path.join(prefix, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, outDir: 'out', types: ['node'], skipLibCheck: true },
        files: ['example.ts'],
      }),
    )
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
    const checked = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: prefix, encoding: 'utf8' })
    expect(checked.stdout + checked.stderr).toBe('')
    expect(checked.status).toBe(0)
    const dir = path.join(work, 'api')
    const r = run(process.execPath, [path.join('out', 'example.js'), dir], prefix, cliEnv(dir, { VGER_PASSPHRASE: PASS }))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('typed backup: 1 file(s)\n')
  })

  it('tells an npm user what to do when the platform package is missing', () => {
    const platformDir = path.join(prefix, 'node_modules', `vger-${PLATFORM}`)
    renameSync(platformDir, `${platformDir}.away`)
    try {
      const dir = path.join(work, 'missing')
      mkdirSync(dir)
      const env = cliEnv(dir, { VGER_PASSPHRASE: PASS })
      const r = run(path.join(prefix, 'node_modules', '.bin', 'vger'), ['-c', config(dir, dir), 'init'], dir, env)
      expect(errorCode(r.stderr)).toBe('VGER_NATIVE_UNAVAILABLE')
      expect(r.stderr).toContain(`"vger-${PLATFORM}"`)
      expect(r.stderr).toContain('reinstall vger')
      expect(r.stderr).not.toContain('build:native')
      expect(r.stderr).not.toMatch(/^\s+at /m)
    } finally {
      renameSync(`${platformDir}.away`, platformDir)
    }
  })

  it('stays within its time budget', () => {
    // About 30 s on an idle 2-core machine (docs/packaging.md); the bound catches a runaway install.
    const ms = Date.now() - started
    console.log(`package test: ${(ms / 1000).toFixed(1)} s`)
    expect(ms).toBeLessThan(120_000)
  })
})

describe.skipIf(!ready)(`the standalone executable${ready ? '' : ` (skipped: ${reason})`}`, () => {
  let exe = ''

  beforeAll(() => {
    ensureBuilt()
    exe = path.join(tempDir('vger-exe-'), 'vger')
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-exe.mjs'), '--out', exe], { cwd: ROOT, stdio: 'pipe' })
  })

  it('backs up and restores a small tree from an empty directory, with no Node on PATH', () => {
    const home = tempDir('vger-exe-home-')
    const empty = path.join(home, 'empty')
    mkdirSync(empty)
    const src = path.join(home, 'src')
    smallTree(src)
    const file = config(home, src)
    // PATH holds only an empty directory: nothing can find a `node` to run.
    const env = cliEnv(home, { VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast', PATH: empty })
    const dest = cycle((args) => run(exe, ['-c', file, ...args], empty, env), home)
    expect(snapshotOf(dest)).toEqual(snapshotOf(src))
    // The addon went to the per-user cache, not the working directory.
    expect(existsSync(path.join(home, '.cache', 'vger', 'engine'))).toBe(true)
    expect(snapshotOf(empty)).toEqual({})
    expect(run(exe, ['--version'], empty, env).stdout.trim()).toBe('0.1.0')
    expect(statSync(exe).size).toBeGreaterThan(statSync(ADDON_FILE).size)
  })
})
