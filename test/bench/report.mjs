#!/usr/bin/env node
// report.mjs RESULTS_DIR [--docs docs/benchmarks.md]
// Summarizes the runs.csv written by bench.sh: medians per tool and step, vger/peer ratios, the
// issue-5 targets (met / not met), the machine, and the stage micro-benchmark when present.
// Prints the Markdown and, with --docs, replaces the part of that file between the markers.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

const BEGIN = '<!-- bench:begin (written by npm run bench; edits between the markers are replaced) -->'
const END = '<!-- bench:end -->'
const STEPS = { a: 'first backup', b: 'unchanged re-backup', c: 'backup after ~1% change', d: 'full restore (cache dropped)' }

const [dir, flag, docs] = process.argv.slice(2)
if (!dir) {
  console.error('usage: report.mjs RESULTS_DIR [--docs FILE]')
  process.exit(2)
}
const rows = readFileSync(path.join(dir, 'runs.csv'), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => {
    const [tool, rep, step, rc, wall, user, sys, rss, bytes] = l.split(',')
    return { tool, rep, step, rc: +rc, wall: +wall, cpu: +user + +sys, user: +user, sys: +sys, rss: +rss, bytes: +bytes }
  })
const env = Object.fromEntries(
  readFileSync(path.join(dir, 'env.txt'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
)

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const pick = (tool, step) => rows.filter((r) => r.tool === tool && r.step === step)
const tools = [...new Set(rows.filter((r) => r.step in STEPS).map((r) => r.tool))]
const stat = (tool, step, key) => median(pick(tool, step).map((r) => r[key]))
const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–')
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN)

const out = []
out.push(
  `Run ${env.date_utc}: ${env.nproc} cores (${env.cpu}), ${env.mem} RAM, kernel ${env.kernel}, ${env.fs}; ` +
    `vger ${env.vger}, restic ${env.restic ?? '–'}, Borg ${env.borg ?? '–'}. Corpus: ${env.corpus}. ` +
    `Medians of ${env.reps} interleaved repetitions; load average before ${env.load_before}, after ${env.load_after ?? '?'}` +
    `${env.restore_cache ? `; restores ${env.restore_cache}` : ''}.`,
)
out.push('')
out.push('| step | tool | wall s (min–max) | CPU s (user + sys) | peak RSS MiB | MB/s | failed |')
out.push('| --- | --- | --- | --- | --- | --- | --- |')
for (const [step, name] of Object.entries(STEPS)) {
  for (const t of tools) {
    const rs = pick(t, step)
    if (rs.length === 0) continue
    const w = stat(t, step, 'wall')
    const lo = Math.min(...rs.map((r) => r.wall))
    const hi = Math.max(...rs.map((r) => r.wall))
    const mbs = stat(t, step, 'bytes') / 1e6 / w
    out.push(
      `| ${name} | ${t} | ${f(w)} (${f(lo)}–${f(hi)}) | ${f(stat(t, step, 'cpu'))} (${f(stat(t, step, 'user'))} + ${f(stat(t, step, 'sys'))}) ` +
        `| ${f(stat(t, step, 'rss') / 1024, 0)} | ${f(mbs, 0)} | ${rs.filter((r) => r.rc !== 0).length} |`,
    )
  }
}
out.push('')
const peers = tools.filter((t) => t !== 'vger')
if (tools.includes('vger') && peers.length > 0) {
  out.push(`| step | ${peers.map((p) => `vger/${p} wall | CPU | RSS`).join(' | ')} |`)
  out.push(`| --- | ${peers.map(() => '--- | --- | ---').join(' | ')} |`)
  for (const [step, name] of Object.entries(STEPS)) {
    const cells = peers.map((p) => ['wall', 'cpu', 'rss'].map((k) => f(ratio(stat('vger', step, k), stat(p, step, k)))).join(' | '))
    out.push(`| ${name} | ${cells.join(' | ')} |`)
  }
  out.push('')
}
out.push('| repository size (MB, allocated) | ' + tools.join(' | ') + ' |')
out.push('| --- | ' + tools.map(() => '---').join(' | ') + ' |')
for (const s of ['size-after-a', 'size-after-c']) {
  out.push(
    `| ${s === 'size-after-a' ? 'after the first backup' : 'after the third backup'} | ${tools.map((t) => f(stat(t, s, 'bytes') / 1e6, 0)).join(' | ')} |`,
  )
}
const checks = tools.map((t) => {
  const rs = pick(t, 'restore-check')
  return `${t} ${rs.filter((r) => r.rc === 0).length}/${rs.length}`
})
out.push('')
out.push(`Restores identical to the source (\`diff -r\`): ${checks.join(', ')}.`)

const version = median(pick('vger', 'version').map((r) => r.wall)) * 1000
if (tools.includes('vger') && tools.includes('restic')) {
  const r = (step, k) => ratio(stat('vger', step, k), stat('restic', step, k))
  const zstd = /zstd/.test(env.vger ?? '')
  const rssBackup = Math.max(...['a', 'b', 'c'].map((s) => r(s, 'rss')))
  const targets = [
    ['first backup wall ≤ 1/3 of restic', r('a', 'wall'), (x) => x <= 1 / 3],
    ['first backup CPU ≤ 1/2 of restic', r('a', 'cpu'), (x) => x <= 1 / 2],
    ['unchanged re-backup wall ≤ 1/3 of restic', r('b', 'wall'), (x) => x <= 1 / 3],
    ['1%-changed backup wall ≤ 1/3 of restic', r('c', 'wall'), (x) => x <= 1 / 3],
    ['restore wall ≤ 1/2 of restic', r('d', 'wall'), (x) => x <= 1 / 2],
    ['backup peak RSS ≤ restic (worst of a, b, c)', rssBackup, (x) => x <= 1],
    ['restore peak RSS ≤ restic', r('d', 'rss'), (x) => x <= 1],
    [`repository size ≤ restic (after c${zstd ? ', zstd' : ', NOT zstd'})`, r('size-after-c', 'bytes'), (x) => zstd && x <= 1],
  ]
  out.push('')
  out.push('| target | measured (vger/restic) | met |')
  out.push('| --- | --- | --- |')
  for (const [name, x, ok] of targets) out.push(`| ${name} | ${f(x)} | ${Number.isFinite(x) && ok(x) ? 'met' : 'not met'} |`)
  out.push(`| \`vger --version\` < 150 ms | ${f(version, 0)} ms | ${version < 150 ? 'met' : 'not met'} |`)
} else if (Number.isFinite(version)) {
  out.push('', `\`vger --version\`: ${f(version, 0)} ms (median of 5).`)
}
const stages = path.join(dir, 'stages.md')
if (existsSync(stages)) out.push('', readFileSync(stages, 'utf8').trim())

const md = out.join('\n')
console.log(md)
if (flag === '--docs' && docs) {
  const text = readFileSync(docs, 'utf8')
  const a = text.indexOf(BEGIN)
  const b = text.indexOf(END)
  const block = `${BEGIN}\n${md}\n${END}`
  writeFileSync(docs, a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + END.length) : `${text.trimEnd()}\n\n${block}\n`)
  console.error(`bench: wrote the results into ${docs}`)
}
