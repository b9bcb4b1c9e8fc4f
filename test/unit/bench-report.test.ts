/**
 * test/bench/report.mjs (issue 18, items 3 and 6): the one table of `npm run bench` gives each tool's median
 * (min–max), vger/vykar and vger/restic per repetition, and the targets checked per repetition (PASS only
 * when every repetition meets it); the report says whether the machine was quiet; a run without vykar
 * leaves its targets unchecked; --docs replaces the part between the markers.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'

const REPORT = new URL('../bench/report.mjs', import.meta.url).pathname
const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const ENV = {
  date_utc: '20261203T000000Z',
  kernel: '6.1.0',
  cpu: 'Test CPU',
  nproc: '2',
  mem: '23 GiB',
  fs: 'ext4',
  vger: '0.1.0 (zstd, v20.20.2)',
  vykar: '0.19.1 (/work/shared/bench/bin/vykar-0.19.1-linux-x64)',
  restic: '0.14.0',
  corpus: '/tmp/corpus, 10 files, 1000000 bytes',
  reps: '3',
  remote: 'local',
  cold: 'on',
  load_start: '0.10 0.20 0.30',
  load_before: '0.12 0.20 0.30',
  cpu_before: '0.02',
  busy_before: '',
  load_after: '1.50 1.00 0.60',
}

/** Wall seconds per step, per tool, per repetition (1, 2, 3). */
type Walls = Record<string, Record<string, (number | null)[]>>
const WALLS: Walls = {
  // vger/vykar 0.43, 0.60, 0.48 (FAIL at 0.35); vger/restic 0.20, 0.24, 0.25 (PASS at 0.25, the bound included)
  a: { vger: [4.3, 6, 4.8], vykar: [10, 10, 10], restic: [21.5, 25, 19.2] },
  // vger/vykar 0.30, 0.20, 0.10: PASS at 0.3
  b: { vger: [0.3, 0.2, 0.1], vykar: [1, 1, 1], restic: [3, 3, 3] },
  // repetition 2 of vger failed (null: rc 1): FAIL although the other two meet 0.4
  c: { vger: [0.3, null, 0.3], vykar: [1, 1, 1], restic: [3, 3, 3] },
  // vger/restic exactly 1/3 in every repetition: PASS; vger/vykar 0.6, 0.61, 0.6: FAIL
  d: { vger: [1, 1, 1], vykar: [1 / 0.6, 1 / 0.61, 1 / 0.6], restic: [3, 3, 3] },
  e: { vger: [2, 2, 2], vykar: [5, 5, 5], restic: [7, 7, 7] },
  f: { vger: [1, 1, 1], vykar: [2, 2, 2], restic: [3, 3, 3] },
}
/** Repository bytes after the third backup: vger at most 1 % above restic in every repetition. */
const SIZES = { vger: [1010, 1000, 900], vykar: [1005, 1005, 1005], restic: [1000, 1000, 1000] }

function csv(walls: Walls, sizes: Record<string, number[]>, tools: string[], other = 0.01): string {
  const lines = ['tool,rep,step,rc,wall_s,user_s,sys_s,maxrss_kb,bytes,requests,load1,other_cpu_s']
  for (const rep of [1, 2, 3]) {
    for (const tool of tools) {
      for (const [step, byTool] of Object.entries(walls)) {
        const w = byTool[tool]?.[rep - 1]
        if (w === undefined) continue
        lines.push(`${tool},${rep},${step},${w === null ? 1 : 0},${w ?? 9},${(w ?? 9) / 2},0.1,100000,1000000,,0.1,${other}`)
      }
      const b = sizes[tool]?.[rep - 1]
      if (b !== undefined) lines.push(`${tool},${rep},size-after-c,0,0,0,0,0,${b * 1e6},,,`)
      lines.push(`${tool},${rep},restore-check,0,0,0,0,0,0,,,`)
    }
  }
  return lines.join('\n') + '\n'
}

function run(opts: { tools?: string[]; env?: Partial<typeof ENV>; other?: number; docs?: string } = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'vger-bench-report-'))
  dirs.push(dir)
  const tools = opts.tools ?? ['vger', 'vykar', 'restic']
  const env = { ...ENV, ...opts.env }
  writeFileSync(
    path.join(dir, 'env.txt'),
    Object.entries(env)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n') + '\n',
  )
  writeFileSync(path.join(dir, 'runs.csv'), csv(WALLS, SIZES, tools, opts.other))
  const args = [REPORT, dir]
  if (opts.docs !== undefined) {
    writeFileSync(path.join(dir, 'benchmarks.md'), opts.docs)
    args.push('--docs', path.join(dir, 'benchmarks.md'))
  }
  const md = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  return opts.docs === undefined ? md : readFileSync(path.join(dir, 'benchmarks.md'), 'utf8')
}

/** The cells of the table row whose first cell starts with PREFIX. */
function row(md: string, prefix: string): string[] {
  const line = md.split('\n').find((l) => l.startsWith(`| ${prefix}`))
  expect(line, `a row starting with ${prefix}`).toBeDefined()
  return line!.split(' | ').map((c) => c.replace(/^\| | \|$/g, ''))
}

describe('report.mjs', () => {
  it('gives per step the medians (min–max), the ratios per repetition and the target checks', () => {
    const md = run()
    const head = row(md, 'step |')
    expect(head).toEqual([
      'step',
      'vger median (min–max)',
      'vykar median (min–max)',
      'restic median (min–max)',
      'vger/vykar per repetition',
      'vger/restic per repetition',
      'target, every repetition',
    ])
    const a = row(md, 'a first backup')
    expect(a.slice(1, 4)).toEqual(['4.80 (4.30–6.00)', '10.00 (10.00–10.00)', '21.50 (19.20–25.00)'])
    expect(a[4]).toBe('0.43, 0.60, 0.48')
    expect(a[5]).toBe('0.20, 0.24, 0.25')
    expect(a[6]).toBe('≤ 0.35 × vykar: **FAIL**; ≤ 0.25 × restic: **PASS**')
    expect(row(md, 'b unchanged')[6]).toBe('≤ 0.3 × vykar: **PASS**')
    // A failed repetition has no ratio, and the target fails.
    const c = row(md, 'c backup after')
    expect(c[1]).toBe('0.30 (0.30–0.30), 1 failed')
    expect(c[4]).toBe('0.30, –, 0.30')
    expect(c[6]).toBe('≤ 0.4 × vykar: **FAIL**')
    expect(row(md, 'd full restore')[6]).toBe('≤ 0.6 × vykar: **FAIL**; ≤ 1/3 × restic: **PASS**')
    expect(row(md, 'e cold first backup')[6]).toBe('≤ 0.5 × vykar: **PASS**; ≤ 1/3 × restic: **PASS**')
    expect(row(md, 'f cold first backup, kernel')[6]).toBe('≤ 0.5 × vykar: **PASS**; ≤ 1/3 × restic: **PASS**')
    const size = row(md, 'repository after the 3 backups')
    expect(size.slice(1, 6)).toEqual(['1000 (900–1010)', '1005 (1005–1005)', '1000 (1000–1000)', '1.00, 1.00, 0.90', '1.01, 1.00, 0.90'])
    expect(size[6]).toBe('≤ 1.01 × restic: **PASS**')
    expect(md).toContain('Targets (issue 18): 8 PASS, 3 FAIL;')
    expect(md).toContain('vykar 0.19.1')
    expect(md).toContain('Restores identical to the source (`diff -r`): vger 3/3, vykar 3/3, restic 3/3.')
  })

  it('says whether the machine was quiet', () => {
    expect(run()).toContain('**Machine quiet: yes**')
    const busy = run({ env: { load_before: '1.20 0.80 0.40', busy_before: 'rustc pid 42 99.5%' } })
    expect(busy).toContain(
      '**Machine quiet: NO** (1-minute load 1.20 before the first repetition; busy before the start: rustc pid 42 99.5%)',
    )
    // Another process took a core during the steps (other CPU-s ≥ 0.3 × wall).
    expect(run({ other: 5 })).toMatch(/\*\*Machine quiet: NO\*\* \(\d+ of \d+ timed steps had more than 0\.3 cores busy outside the tool\)/)
  })

  it('leaves the vykar targets unchecked when vykar did not run', () => {
    const md = run({ tools: ['vger', 'restic'], env: { vykar: undefined, skipped: 'vykar (no binary)' } as Partial<typeof ENV> })
    const a = row(md, 'a first backup')
    expect(a[3]).toBe('–')
    expect(a[5]).toBe('≤ 0.35 × vykar: n/a; ≤ 0.25 × restic: **PASS**')
    expect(md).toContain('skipped: vykar (no binary)')
    expect(md).toMatch(/Targets \(issue 18\): \d+ PASS, \d+ FAIL, 6 not checked/)
  })

  it('replaces the part of the docs between the markers', () => {
    const begin = '<!-- bench:begin (written by npm run bench; edits between the markers are replaced) -->'
    const docs = run({ docs: `# Benchmarks\n\nintro\n\n${begin}\nold figures\n<!-- bench:end -->\n\n## After\n` })
    expect(docs).not.toContain('old figures')
    expect(docs).toMatch(/^# Benchmarks\n\nintro\n\n<!-- bench:begin[^\n]*\nRun 20261203T000000Z/)
    expect(docs).toContain('| a first backup, s |')
    expect(docs).toMatch(/<!-- bench:end -->\n\n## After\n$/)
  })
})
