/**
 * Hooks run (docs/config.md, `hooks`): in vykar's order, with the documented environment and quoted
 * placeholders and without any secret; a failing `before` hook stops the command with VGER_HOOK_FAILED
 * while `failed` and `finally` still run; a hung hook is killed at the timeout with what it started; a
 * hook's output is capped and never reaches stdout.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { errorCode, ensureBuilt, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const PASS = 'correct horse battery staple'
const REST_TOKEN = 'rest-token-from-the-environment-77'
const CONFIG_TOKEN = 'access-token-from-the-config-42'

beforeAll(() => ensureBuilt())

/** A YAML single-quoted scalar. */
const q = (text: string): string => `'${text.replaceAll("'", "''")}'`
/** A hook that appends `name` to $HOOK_LOG. */
const log = (name: string): string => q(`echo ${name} >> "$HOOK_LOG"`)

function setup(configLines: string[]) {
  const work = tempDir()
  mkdirSync(path.join(work, 'data'))
  writeFileSync(path.join(work, 'data', 'a.txt'), 'hello\n')
  const config = path.join(work, 'vger.yaml')
  writeFileSync(config, [...configLines, ''].join('\n'))
  const hookLog = path.join(work, 'hooks.log')
  const vger = (args: string[], env: Record<string, string> = {}) =>
    runCli(['-c', config, ...args], {
      cwd: work,
      env: {
        HOME: work,
        VGER_PASSPHRASE: PASS,
        VGER_TEST_KDF: 'fast',
        VGER_REST_TOKEN: REST_TOKEN,
        CONFIG_TOKEN,
        HOOK_LOG: hookLog,
        HOOK_DIR: work,
        PLAIN_VARIABLE: 'plain value',
        ...env,
      },
    })
  const lines = (): string[] =>
    existsSync(hookLog)
      ? readFileSync(hookLog, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : []
  return { work, vger, lines, hookLog }
}

/** KEY=VALUE lines of an `env` dump, as a map. */
function envDump(file: string): Map<string, string> {
  const map = new Map<string, string>()
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const i = line.indexOf('=')
    if (i > 0) map.set(line.slice(0, i), line.slice(i + 1))
  }
  return map
}

async function snapshotCount(vger: ReturnType<typeof setup>['vger']): Promise<number> {
  const l = await vger(['list', '--json'])
  expect(l.code, l.stderr).toBe(0)
  const result = JSON.parse(l.stdout) as { repositories: { snapshots: unknown[] }[] }
  return result.repositories.reduce((n, r) => n + r.snapshots.length, 0)
}

/** Whether `pid` is gone (or a zombie waiting for a reaper). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return true
  }
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}

describe.skipIf(!addonBuilt)(`hooks${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it('run in order around a backup and a check, with the documented environment and placeholders, and no secret', async () => {
    const { work, vger, lines } = setup([
      'repositories:',
      '  - url: ./repo',
      '    label: main',
      '    access_token: ${CONFIG_TOKEN}',
      '    hooks:',
      `      before: ${log('repo-before')}`,
      `      before_backup: ${log('repo-before_backup')}`,
      `      after_backup: ${log('repo-after_backup')}`,
      `      after: ${log('repo-after')}`,
      `      finally_backup: ${log('repo-finally_backup')}`,
      `      finally: ${log('repo-finally')}`,
      `      failed: ${log('repo-failed')}`,
      'hooks:',
      `  before: ${log('global-before')}`,
      '  before_backup:',
      `    - ${log('global-before_backup')}`,
      `    - ${q('printf "%s|" {command} {repository} {label} {error} {source_label} >> "$HOOK_DIR/placeholders"; echo HOOK-SAYS-HELLO')}`,
      '  after_backup:',
      `    - ${log('global-after_backup')}`,
      `    - ${q('env > "$HOOK_DIR/env.$VGER_HOOK"')}`,
      `  after: ${log('global-after')}`,
      `  finally_backup: ${log('global-finally_backup')}`,
      `  finally: ${log('global-finally')}`,
      `  failed_backup: ${log('global-failed_backup')}`,
      `  before_check: ${log('global-before_check')}`,
      `  after_check: ${log('global-after_check')}`,
      'sources:',
      '  - path: data',
      '    label: docs',
      '    hooks:',
      `      before: ${q('echo source-before {source_label} "$VGER_SOURCE_LABEL" >> "$HOOK_LOG"; env > "$HOOK_DIR/env.source"')}`,
      `      after: ${log('source-after')}`,
      `      failed: ${log('source-failed')}`,
      `      finally: ${log('source-finally')}`,
    ])
    const init = await vger(['init'])
    expect(init.code, init.stderr).toBe(0)
    expect(lines()).toEqual([]) // init has no hooks
    expect(init.stderr).not.toContain('hooks')

    const b = await vger(['backup', '--json'])
    expect(b.code, b.stderr).toBe(0)
    expect(b.stderr).not.toContain('not applied')
    expect(lines()).toEqual([
      'global-before',
      'repo-before',
      'global-before_backup',
      'repo-before_backup',
      'source-before docs docs',
      'source-after',
      'source-finally',
      'repo-after_backup',
      'global-after_backup',
      'repo-after',
      'global-after',
      'repo-finally_backup',
      'global-finally_backup',
      'repo-finally',
      'global-finally',
    ])
    // stdout is the JSON result only; the hook's output is a `hook` line on stderr.
    expect(b.stdout).not.toContain('HOOK-SAYS-HELLO')
    expect((JSON.parse(b.stdout) as { snapshots: unknown[] }).snapshots).toHaveLength(1)
    const events = b.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    const hello = events.find((e) => e.type === 'hook' && String(e.output).includes('HOOK-SAYS-HELLO'))
    expect(hello).toMatchObject({ hook: 'before_backup', scope: 'global', command: 'backup', repository: 'main', ok: true, exitCode: 0 })

    // Placeholders: one shell word each, empty when unknown.
    expect(readFileSync(path.join(work, 'placeholders'), 'utf8')).toBe('backup|main|main|||')

    const env = envDump(path.join(work, 'env.after_backup'))
    expect(env.get('VGER_COMMAND')).toBe('backup')
    expect(env.get('VGER_HOOK')).toBe('after_backup')
    expect(env.get('VGER_REPOSITORY')).toBe('main')
    expect(env.get('VGER_REPOSITORY_URL')).toBe(path.join(work, 'repo'))
    expect(env.get('VGER_LABEL')).toBe('main')
    expect(env.has('VGER_ERROR')).toBe(false)
    expect(env.get('PLAIN_VARIABLE')).toBe('plain value')
    const sourceEnv = envDump(path.join(work, 'env.source'))
    expect(sourceEnv.get('VGER_SOURCE_LABEL')).toBe('docs')
    expect(sourceEnv.get('VGER_SOURCE_PATH')).toBe(path.join(work, 'data'))
    for (const file of readdirSync(work).filter((f) => f.startsWith('env.'))) {
      const text = readFileSync(path.join(work, file), 'utf8')
      for (const secret of [PASS, REST_TOKEN, CONFIG_TOKEN]) expect(text, `${file} holds a secret`).not.toContain(secret)
      expect(text).not.toMatch(/^(VGER_PASSPHRASE|VGER_REST_TOKEN|VGER_TEST_KDF|CONFIG_TOKEN)=/m)
    }

    // Text mode: hook output on stderr, prefixed; nothing on stdout but the result; -q hides it.
    writeFileSync(path.join(work, 'hooks.log'), '')
    const c = await vger(['check'])
    expect(c.code, c.stderr).toBe(0)
    expect(lines()).toEqual([
      'global-before',
      'repo-before',
      'global-before_check',
      'global-after_check',
      'repo-after',
      'global-after',
      'repo-finally',
      'global-finally',
    ])
    const b2 = await vger(['backup'])
    expect(b2.code, b2.stderr).toBe(0)
    expect(b2.stderr).toContain('hook before_backup: HOOK-SAYS-HELLO')
    expect(b2.stdout).not.toContain('HOOK-SAYS-HELLO')
    const b3 = await vger(['-q', 'backup'])
    expect(b3.code, b3.stderr).toBe(0)
    expect(b3.stderr).toBe('')
  })

  it('a failing before_backup stops the backup; failed and finally run with the error', async () => {
    const { work, vger, lines } = setup([
      'repositories:',
      '  - url: ./repo',
      'hooks:',
      `  before_backup: ${q('echo "mount failed: no such device" >&2; exit 3')}`,
      `  after_backup: ${log('after_backup')}`,
      `  failed_backup: ${q('echo "failed $VGER_ERROR" >> "$HOOK_LOG"; printf "%s\\n" {error} > "$HOOK_DIR/error"')}`,
      `  finally: ${q('echo "finally $(echo "$VGER_ERROR" | cut -d: -f1)" >> "$HOOK_LOG"')}`,
      'sources:',
      '  - data',
    ])
    expect((await vger(['init'])).code).toBe(0)
    const b = await vger(['backup'])
    expect(b.code).toBe(1)
    expect(errorCode(b.stderr)).toBe('VGER_HOOK_FAILED')
    expect(b.stderr).toContain('exited with status 3: mount failed: no such device')
    expect(b.stderr).toContain('was not run')
    expect(await snapshotCount(vger)).toBe(0)
    const [failed, fin] = lines()
    expect(failed).toMatch(/^failed VGER_HOOK_FAILED: hooks\.before_backup/)
    expect(fin).toBe('finally VGER_HOOK_FAILED')
    expect(lines()).toHaveLength(2)
    // The error, quotes and all, arrived as one word.
    expect(readFileSync(path.join(work, 'error'), 'utf8')).toMatch(/^VGER_HOOK_FAILED: hooks\.before_backup \("echo "mount failed/)

    // A command that is not found fails the same way (status 127).
    const missing = setup([
      'repositories:',
      '  - url: ./repo',
      'hooks:',
      '  before_backup: no-such-command-vger-test',
      'sources:',
      '  - data',
    ])
    expect((await missing.vger(['init'])).code).toBe(0)
    const m = await missing.vger(['backup'])
    expect(m.code).toBe(1)
    expect(errorCode(m.stderr)).toBe('VGER_HOOK_FAILED')
    expect(m.stderr).toContain('status 127 (command not found)')
  })

  it('failed and finally run after the command itself failed; a failing after hook is a warning', async () => {
    const { vger, lines } = setup([
      'repositories:',
      '  - url: ./repo',
      'hooks:',
      `  after_backup: ${q('echo after >> "$HOOK_LOG"; exit 1')}`,
      `  failed_backup: ${q('echo "failed $VGER_ERROR" >> "$HOOK_LOG"')}`,
      `  finally_backup: ${q('if [ -n "$VGER_ERROR" ]; then echo "finally $VGER_ERROR"; else echo "finally ok"; fi >> "$HOOK_LOG"')}`,
    ])
    expect((await vger(['init'])).code).toBe(0)
    const bad = await vger(['backup', 'no-such-dir'])
    expect(bad.code).toBe(1)
    const [failed, fin, ...rest] = lines()
    expect(failed).toMatch(/^failed VGER_[A-Z_]+: /)
    expect(fin).toMatch(/^finally VGER_[A-Z_]+: /)
    expect(rest).toEqual([])

    const good = await vger(['backup', 'data'])
    expect(good.code, good.stderr).toBe(0)
    expect(good.stderr).toMatch(
      /vger: warning: hooks\.after_backup .* exited with status 1; the backup of repository ".*" succeeded all the same/,
    )
    expect(lines().slice(2)).toEqual(['after', 'finally ok'])
    expect(await snapshotCount(vger)).toBe(1)
  })

  it('a hung hook is killed at the timeout with the processes it started', async () => {
    const { work, vger } = setup([
      'repositories:',
      '  - url: ./repo',
      'hooks:',
      `  before_backup: ${q('sleep 60 & echo $! > "$HOOK_DIR/child.pid"; sleep 60')}`,
      'sources:',
      '  - data',
    ])
    expect((await vger(['init'])).code).toBe(0)
    const started = Date.now()
    const b = await vger(['backup'], { VGER_HOOK_TIMEOUT: '1' })
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(b.code).toBe(1)
    expect(errorCode(b.stderr)).toBe('VGER_HOOK_FAILED')
    expect(b.stderr).toContain('did not finish within 1 s')
    const child = Number(readFileSync(path.join(work, 'child.pid'), 'utf8').trim())
    expect(child).toBeGreaterThan(0)
    const deadline = Date.now() + 3000
    while (!gone(child) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    expect(gone(child)).toBe(true)
    expect(await snapshotCount(vger)).toBe(0)
  })

  it('hook_timeout in the config sets the limit; VGER_HOOK_TIMEOUT overrides it', async () => {
    const { vger } = setup([
      'repositories:',
      '  - url: ./repo',
      'hook_timeout: 1',
      'hooks:',
      `  before_backup: ${q('sleep 30')}`,
      'sources:',
      '  - data',
    ])
    expect((await vger(['init'])).code).toBe(0)
    const started = Date.now()
    const b = await vger(['backup'])
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(b.code).toBe(1)
    expect(errorCode(b.stderr)).toBe('VGER_HOOK_FAILED')
    expect(b.stderr).toContain('did not finish within 1 s')
    const e = await vger(['backup'], { VGER_HOOK_TIMEOUT: '2' })
    expect(e.code).toBe(1)
    expect(e.stderr).toContain('did not finish within 2 s')
  })

  it('the keys of each command run around that command only, in the cycle and alone; failed_* after a failure', async () => {
    const commands = ['backup', 'prune', 'compact', 'check']
    // prettier-ignore
    const keys = [
      'before_backup', 'after_backup', 'failed_backup', 'finally_backup',
      'before_prune', 'after_prune', 'failed_prune', 'finally_prune',
      'before_compact', 'after_compact', 'failed_compact', 'finally_compact',
      'before_check', 'after_check', 'failed_check', 'finally_check',
    ]
    const { vger, lines, hookLog } = setup([
      'repositories:',
      '  - url: ./repo',
      'retention: {keep_last: 1}',
      'hooks:',
      ...keys.map((k) => `  ${k}: ${q(`echo ${k} >> "$HOOK_LOG"${k.startsWith('before_') ? '; [ -z "$FAIL" ]' : ''}`)}`),
      'sources:',
      '  - data',
    ])
    expect((await vger(['init'])).code).toBe(0)
    const cycle = await vger([])
    expect(cycle.code, cycle.stderr).toBe(0)
    expect(lines()).toEqual(commands.flatMap((c) => [`before_${c}`, `after_${c}`, `finally_${c}`]))
    for (const c of commands) {
      writeFileSync(hookLog, '')
      const r = await vger([c], { FAIL: '1' })
      expect(r.code, c).toBe(1)
      expect(errorCode(r.stderr)).toBe('VGER_HOOK_FAILED')
      expect(lines()).toEqual([`before_${c}`, `failed_${c}`, `finally_${c}`])
    }
  })

  it('a hook printing megabytes is capped at 64 KiB', async () => {
    const { vger } = setup([
      'repositories:',
      '  - url: ./repo',
      'hooks:',
      `  after_backup: ${q('yes "a line of hook output" | head -c 5000000')}`,
      'sources:',
      '  - data',
    ])
    expect((await vger(['init'])).code).toBe(0)
    const b = await vger(['backup'])
    expect(b.code, b.stderr).toBe(0)
    expect(b.stderr.length).toBeLessThan(150_000)
    expect(b.stderr).toContain(`${5_000_000 - 64 * 1024} more bytes of output not shown`)
    const j = await vger(['backup', '--json'])
    expect(j.code, j.stderr).toBe(0)
    const hook = j.stderr
      .split('\n')
      .filter((l) => l.startsWith('{"type":"hook"'))
      .map((l) => JSON.parse(l) as { output: string; droppedBytes: number })
    expect(hook).toHaveLength(1)
    expect(hook[0]?.output.length).toBe(64 * 1024)
    expect(hook[0]?.droppedBytes).toBe(5_000_000 - 64 * 1024)
  })
})
