/**
 * `limits` act (docs/config.md): niceness reaches the engine's threads and what they start; the upload,
 * download and source-read rates hold a job back. The rates are checked from below only (a job cannot
 * finish sooner than its bytes allow at the limit), which no load on the machine can make fail; how
 * closely a limit is held is measured by `npm run bench:limits` (docs/benchmarks.md).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { ensureBuilt, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const PASS = 'correct horse battery staple'
const MIB = 1024 * 1024

beforeAll(() => ensureBuilt())

function setup(config: string[]) {
  const work = tempDir()
  mkdirSync(path.join(work, 'data'))
  const file = path.join(work, 'vger.yaml')
  const write = (lines: string[]): void =>
    writeFileSync(file, ['repositories:', '  - url: ./repo', '    compression: {algorithm: none}', ...lines, ''].join('\n'))
  write(config)
  const vger = (args: string[]) =>
    runCli(['-c', file, ...args], { cwd: work, env: { HOME: work, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' } })
  return { work, vger, write }
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now()
  const r = await f()
  return [r, (performance.now() - t0) / 1000]
}

describe.skipIf(!addonBuilt)(`limits${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it('nice applies to the whole process: hooks and the commands engine threads start run at that niceness', async () => {
    const { work, vger } = setup([
      'limits: {nice: 7}',
      'hooks:',
      '  before_backup: "nice > hook-nice.txt"',
      'sources:',
      '  - path: data',
      '    label: d',
      '    command_dumps: [{name: nice.txt, command: nice}]',
    ])
    writeFileSync(path.join(work, 'data', 'a'), 'a')
    expect((await vger(['init'])).code).toBe(0)
    const b = await vger(['backup'])
    expect(b.code, b.stderr).toBe(0)
    const r = await vger(['restore', 'latest', 'out'])
    expect(r.code, r.stderr).toBe(0)
    expect(readFileSync(path.join(work, 'hook-nice.txt'), 'utf8').trim()).toBe('7')
    // The dump command was started by an engine thread: it inherited that thread's niceness.
    expect(readFileSync(path.join(work, 'out', 'vger-dumps', 'nice.txt'), 'utf8').trim()).toBe('7')
  })

  it('upload, download and source-read limits hold a job to its rate', async () => {
    const size = 10 * MIB
    const { work, vger, write } = setup(['limits: {upload_mib_per_sec: 4}'])
    writeFileSync(path.join(work, 'data', 'random.bin'), randomBytes(size))
    expect((await vger(['init'])).code).toBe(0)
    // 10 MiB at 4 MiB/s, less a quarter-second burst: at least 2.25 s.
    const [up, upSecs] = await timed(() => vger(['backup', 'data']))
    expect(up.code, up.stderr).toBe(0)
    expect(upSecs).toBeGreaterThan(2.25)

    write(['limits: {download_mib_per_sec: 4}'])
    const [down, downSecs] = await timed(() => vger(['restore', 'latest', 'out']))
    expect(down.code, down.stderr).toBe(0)
    expect(downSecs).toBeGreaterThan(2.25)

    write(['limits: {read_mib_per_sec: 4}'])
    writeFileSync(path.join(work, 'data', 'random.bin'), randomBytes(size))
    const [read, readSecs] = await timed(() => vger(['backup', 'data']))
    expect(read.code, read.stderr).toBe(0)
    expect(readSecs).toBeGreaterThan(2.25)
  })
})
