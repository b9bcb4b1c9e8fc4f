/**
 * Command dumps and standard input (docs/config.md `command_dumps`, commands.md `backup --stdin`): a
 * command's output is stored without a temporary file and with bounded memory, restored byte for byte; a
 * command that fails half-way fails the backup and leaves no snapshot; the command never sees a secret.
 */
import { spawn } from 'node:child_process'
import { createCipheriv, createHash } from 'node:crypto'
import { createReadStream, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { CLI, cliEnv, errorCode, ensureBuilt, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const PASS = 'correct horse battery staple'
/** What the dump command writes: deterministic, incompressible bytes (AES-CTR over zeros). */
const DUMP_MIB = 384
const GENERATOR = [
  "const c = require('node:crypto').createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16))",
  'const zero = Buffer.alloc(1 << 20)',
  'let left = Number(process.argv[2])',
  'const next = () => { while (left > 0) { left--; if (!process.stdout.write(c.update(zero))) return process.stdout.once("drain", next) } }',
  'next()',
].join(';')

beforeAll(() => ensureBuilt())

const q = (text: string): string => `'${text.replaceAll("'", "''")}'`

function setup(extraConfig: string[] = []) {
  const work = tempDir()
  const tmp = path.join(work, 'tmp')
  mkdirSync(tmp)
  mkdirSync(path.join(work, 'data'))
  writeFileSync(path.join(work, 'data', 'a.txt'), 'hello\n')
  writeFileSync(path.join(work, 'gen.js'), GENERATOR)
  const config = path.join(work, 'vger.yaml')
  writeFileSync(config, ['repositories:', '  - url: ./repo', ...extraConfig, ''].join('\n'))
  const env = { HOME: work, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast', TMPDIR: tmp, NODE: process.execPath }
  const vger = (args: string[], timeoutMs?: number) => runCli(['-c', config, ...args], { cwd: work, env, timeoutMs })
  return { work, tmp, config, env, vger }
}

async function snapshots(vger: ReturnType<typeof setup>['vger']): Promise<{ label: string; paths: string[] }[]> {
  const l = await vger(['list', '--json'])
  expect(l.code, l.stderr).toBe(0)
  return (JSON.parse(l.stdout) as { repositories: { snapshots: { label: string; paths: string[] }[] }[] }).repositories[0]!.snapshots
}

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256')
    createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject)
  })
}

/** The SHA-256 of what the generator writes, computed in this process. */
function generatedSha256(mib: number): string {
  const c = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16))
  const h = createHash('sha256')
  const zero = Buffer.alloc(1 << 20)
  for (let i = 0; i < mib; i++) h.update(c.update(zero))
  return h.digest('hex')
}

/** Peak resident memory of `pid` so far (VmHWM), in MiB; undefined once it is gone. */
function peakMib(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? undefined : Number(m[1]) / 1024
  } catch {
    return undefined
  }
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)],
  )
}

describe.skipIf(!addonBuilt)(`command dumps${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it(`a ${DUMP_MIB} MiB dump streams into a snapshot with bounded memory and no temporary file, and restores byte for byte`, async () => {
    const { work, tmp, vger } = setup([
      'sources:',
      '  - path: data',
      '    label: db',
      '    command_dumps:',
      `      - {name: big.bin, command: ${q(`"$NODE" gen.js ${DUMP_MIB}`)}}`,
      `      - {name: env.txt, command: env}`,
    ])
    expect((await vger(['init'])).code).toBe(0)
    let peak = 0
    let tmpFiles = 0
    const r = await runCli(['-c', path.join(work, 'vger.yaml'), 'backup', '--json'], {
      cwd: work,
      env: { HOME: work, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast', TMPDIR: tmp, NODE: process.execPath },
      timeoutMs: 300_000,
      onSpawn: (child) => {
        const pid = (child as unknown as { pid: number }).pid
        const timer = setInterval(() => {
          const now = peakMib(pid)
          if (now === undefined) return clearInterval(timer)
          peak = Math.max(peak, now)
          tmpFiles = Math.max(tmpFiles, filesUnder(tmp).length)
        }, 50)
      },
    })
    expect(r.code, r.stderr).toBe(0)
    // The dump is larger than the whole process ever was: it cannot have been held in memory.
    expect(peak).toBeGreaterThan(0)
    expect(peak).toBeLessThan(DUMP_MIB * 0.75)
    expect(tmpFiles).toBe(0)
    expect(filesUnder(tmp)).toEqual([])
    const list = await snapshots(vger)
    expect(list).toHaveLength(1)
    expect(list[0]!.paths).toContain('vger-dumps/big.bin')

    const dest = path.join(work, 'out')
    const rs = await vger(['restore', 'latest', dest], 300_000)
    expect(rs.code, rs.stderr).toBe(0)
    expect(readFileSync(path.join(dest, 'a.txt'), 'utf8')).toBe('hello\n')
    const restored = path.join(dest, 'vger-dumps', 'big.bin')
    expect(statSync(restored).size).toBe(DUMP_MIB << 20)
    expect(await sha256(restored)).toBe(generatedSha256(DUMP_MIB))
    expect(statSync(restored).mode & 0o777).toBe(0o600)
    // The command ran without the passphrase, with what it should know.
    const env = readFileSync(path.join(dest, 'vger-dumps', 'env.txt'), 'utf8')
    expect(env).not.toContain(PASS)
    expect(env).not.toContain('VGER_PASSPHRASE')
    expect(env).toContain('VGER_SOURCE_LABEL=db')
    expect(env).toContain('VGER_DUMP_NAME=env.txt')
  }, 600_000)

  it('a dump that fails half-way fails the backup: no snapshot, the failed hook runs, the next run works', async () => {
    const { work, vger, config } = setup([
      'hooks:',
      `  failed: ${q('echo "$VGER_ERROR" > failed.txt')}`,
      'sources:',
      '  - path: data',
      '    label: db',
      '    command_dumps:',
      `      - {name: db.sql, command: ${q("seq 1 200000; echo 'pg_dump: error: connection to server lost' >&2; exit 2")}}`,
    ])
    expect((await vger(['init'])).code).toBe(0)
    const r = await vger(['backup'])
    expect(r.code).toBe(1)
    expect(errorCode(r.stderr)).toBe('VGER_DUMP_FAILED')
    expect(r.stderr).toContain('exited with status 2')
    expect(r.stderr).toContain('pg_dump: error: connection to server lost')
    expect(r.stderr).toContain('no snapshot was written')
    expect(await snapshots(vger)).toEqual([])
    expect(readFileSync(path.join(work, 'failed.txt'), 'utf8')).toContain('pg_dump: error: connection to server lost')

    writeFileSync(config, readFileSync(config, 'utf8').replace('exit 2', 'exit 0'))
    const ok = await vger(['backup'])
    expect(ok.code, ok.stderr).toBe(0)
    expect(await snapshots(vger)).toHaveLength(1)
    const c = await vger(['check'])
    expect(c.code, c.stderr).toBe(0)
  })
})

/** Runs `producer | vger ARGS` through sh, as a user would type it. */
function pipeInto(producer: string, args: string[], s: ReturnType<typeof setup>): Promise<{ code: number | null; stderr: string }> {
  const quoted = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  const line = `${producer} | "$NODE" '${CLI}' -c '${s.config}' ${quoted}`
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', line], { cwd: s.work, env: cliEnv(s.work, s.env), stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stderr }))
  })
}

describe.skipIf(!addonBuilt)(`backup --stdin${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it('stores standard input under --stdin-filename in a snapshot labelled after it', async () => {
    const s = setup()
    expect((await s.vger(['init'])).code).toBe(0)
    const r = await pipeInto('seq 1 300000', ['backup', '--stdin', '--stdin-filename', 'numbers.txt'], s)
    expect(r.code, r.stderr).toBe(0)
    const list = await snapshots(s.vger)
    expect(list.map((x) => x.label)).toEqual(['numbers.txt'])
    const dest = path.join(s.work, 'out')
    expect((await s.vger(['restore', 'latest', dest])).code).toBe(0)
    const expected = Array.from({ length: 300000 }, (_, i) => `${i + 1}\n`).join('')
    expect(readFileSync(path.join(dest, 'numbers.txt'), 'utf8')).toBe(expected)
  })

  it('--stdin-from-command stores the output of a command that succeeds, and refuses one that fails', async () => {
    const s = setup()
    expect((await s.vger(['init'])).code).toBe(0)
    const ok = await s.vger(['backup', '--stdin-from-command', '--label', 'db', '--', 'sh', '-c', 'printf "a\\nb\\n"'])
    expect(ok.code, ok.stderr).toBe(0)
    const bad = await s.vger(['backup', '--stdin-from-command', '--stdin-filename', 'x.sql', '--', 'sh', '-c', 'echo half; exit 7'])
    expect(bad.code).toBe(1)
    expect(errorCode(bad.stderr)).toBe('VGER_DUMP_FAILED')
    expect(bad.stderr).toContain('status 7')
    const missing = await s.vger(['backup', '--stdin-from-command', '--', '/nonexistent/pg_dump'])
    expect(errorCode(missing.stderr)).toBe('VGER_DUMP_FAILED')
    expect(missing.stderr).toContain('could not be started')
    const list = await snapshots(s.vger)
    expect(list.map((x) => [x.label, x.paths])).toEqual([['db', ['stdin']]])
    const dest = path.join(s.work, 'out')
    expect((await s.vger(['restore', 'latest', dest])).code).toBe(0)
    expect(readFileSync(path.join(dest, 'stdin'), 'utf8')).toBe('a\nb\n')
  })

  it('refuses flags that do not fit together, before touching the repository', async () => {
    const s = setup()
    for (const [args, says] of [
      [['backup', '--stdin', 'data'], 'give no PATHS'],
      [['backup', '--stdin-filename', 'x'], 'give one of them too'],
      [['backup', '--stdin', '--stdin-from-command', '--', 'true'], 'exclude each other'],
      [['backup', '--stdin-from-command'], 'give the command after --'],
      [['backup', '--stdin', '--stdin-filename', 'a/b'], 'plain file name'],
    ] as const) {
      const r = await s.vger([...args])
      expect(errorCode(r.stderr), args.join(' ')).toBe('VGER_USAGE')
      expect(r.stderr).toContain(says)
    }
  })
})
