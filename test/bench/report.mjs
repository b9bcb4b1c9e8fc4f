#!/usr/bin/env node
// report.mjs RESULTS_DIR [--docs docs/benchmarks.md]
// Summarizes the runs.csv written by bench.sh: medians per tool and step, vger/peer ratios, the
// issue-5 targets (met / not met), the machine, and the stage micro-benchmark when present.
// Prints the Markdown and, with --docs, replaces the part of that file between the markers.
// A remote run (bench.sh -r s3|seaweedfs|sftp; env.txt says "remote: s3") also reports the requests the
// peer served (runs.csv column requests, requests.csv by kind), has no targets table, and goes
// between its own markers in the "Remote repositories" section (made at the end when missing).
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

const BEGIN = '<!-- bench:begin (written by npm run bench; edits between the markers are replaced) -->'
const END = '<!-- bench:end -->'
const REMOTE_SECTION = '## Remote repositories'
const REMOTE_TITLES = {
  s3: '### S3 (moto on loopback)',
  seaweedfs: '### S3 (SeaweedFS on loopback)',
  sftp: '### SFTP (OpenSSH sshd on loopback)',
}
// Written once, above the markers, when a remote kind's subsection is made.
const REMOTE_INTROS = {
  seaweedfs:
    'SeaweedFS (`scripts/peers/seaweedfs.sh`: `weed server -s3`, data on disk, SigV4 checked) is a production S3 server ' +
    'written in Go: it stores an object in chunks and serves a ranged GET from the chunks the range covers, where moto ' +
    'copies the whole object for each one. Its requests are counted from its S3 request log (`weed -vmodule=stats=2`: ' +
    'method, path and status per request; the path has no query, so any GET of the bucket counts as LIST).',
}
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
    const [tool, rep, step, rc, wall, user, sys, rss, bytes, requests] = l.split(',')
    const req = requests === undefined || requests === '' ? NaN : +requests
    return { tool, rep, step, rc: +rc, wall: +wall, cpu: +user + +sys, user: +user, sys: +sys, rss: +rss, bytes: +bytes, req }
  })
const env = Object.fromEntries(
  readFileSync(path.join(dir, 'env.txt'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
)

const remote = env.remote && env.remote !== 'local' ? env.remote : null
const reqFile = path.join(dir, 'requests.csv')
const reqRows = existsSync(reqFile)
  ? readFileSync(reqFile, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [tool, rep, step, kind, count] = l.split(',')
        // sftp-server's log lines may end in \r: a kind is one word.
        return { tool, rep, step, kind: (kind ?? '').trim(), count: +count }
      })
  : []

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
if (remote) {
  out.push(
    `Repositories on ${env.peer} (\`npm run bench -- -r ${remote}\`), fresh prefix per tool and repetition` +
      `${env.skipped ? `; skipped: ${env.skipped}` : ''}.`,
  )
}
out.push(
  `Run ${env.date_utc}: ${env.nproc} cores (${env.cpu}), ${env.mem} RAM, kernel ${env.kernel}, ${env.fs}; ` +
    `vger ${env.vger}${env.vger_addon ? ` (addon ${env.vger_addon})` : ''}, restic ${env.restic ?? '–'}, Borg ${env.borg ?? '–'}. Corpus: ${env.corpus}. ` +
    `Medians of ${env.reps} interleaved repetitions; load average before ${env.load_before}, after ${env.load_after ?? '?'}` +
    `${env.restore_cache ? `; restores ${env.restore_cache}` : ''}.`,
)
out.push('')
out.push(`| step | tool | wall s (min–max) | CPU s (user + sys) | peak RSS MiB | MB/s |${remote ? ' requests |' : ''} failed |`)
out.push(`| --- | --- | --- | --- | --- | --- |${remote ? ' --- |' : ''} --- |`)
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
        `| ${f(stat(t, step, 'rss') / 1024, 0)} | ${f(mbs, 0)} |${remote ? ` ${f(stat(t, step, 'req'), 0)} |` : ''} ${rs.filter((r) => r.rc !== 0).length} |`,
    )
  }
}
out.push('')
const peers = tools.filter((t) => t !== 'vger')
if (tools.includes('vger') && peers.length > 0) {
  const keys = remote ? ['wall', 'cpu', 'rss', 'req'] : ['wall', 'cpu', 'rss']
  const heads = remote ? 'wall | CPU | RSS | requests' : 'wall | CPU | RSS'
  out.push(`| step | ${peers.map((p) => `vger/${p} ${heads}`).join(' | ')} |`)
  out.push(`| --- | ${peers.map(() => keys.map(() => '---').join(' | ')).join(' | ')} |`)
  for (const [step, name] of Object.entries(STEPS)) {
    const cells = peers.map((p) => keys.map((k) => f(ratio(stat('vger', step, k), stat(p, step, k)))).join(' | '))
    out.push(`| ${name} | ${cells.join(' | ')} |`)
  }
  out.push('')
}
out.push(`| repository size (MB, ${remote ? 'logical bytes on the peer' : 'allocated'}) | ` + tools.join(' | ') + ' |')
out.push('| --- | ' + tools.map(() => '---').join(' | ') + ' |')
for (const s of ['size-after-a', 'size-after-c']) {
  out.push(
    `| ${s === 'size-after-a' ? 'after the first backup' : 'after the third backup'} | ${tools.map((t) => f(stat(t, s, 'bytes') / 1e6, 0)).join(' | ')} |`,
  )
}
if (remote && reqRows.length > 0) {
  // Requests by kind: median over the repetitions (a kind missing from a repetition counts 0).
  const kindLabel =
    remote === 's3' || remote === 'seaweedfs'
      ? 'S3 requests by kind (METHOD; LIST = bucket listing, -range = 206 answer, -STATUS when not 2xx)'
      : 'SFTP requests by kind (session = a new SFTP session)'
  out.push('')
  out.push(`| ${kindLabel} | tool | requests |`)
  out.push('| --- | --- | --- |')
  const reps = (t, step) => [...new Set(pick(t, step).map((r) => r.rep))]
  for (const [step, name] of Object.entries(STEPS)) {
    for (const t of tools) {
      const rs = reqRows.filter((r) => r.tool === t && r.step === step)
      const kinds = [...new Set(rs.map((r) => r.kind))]
      const med = kinds
        .map((k) => [
          k,
          median(reps(t, step).map((rep) => rs.filter((r) => r.rep === rep && r.kind === k).reduce((a, r) => a + r.count, 0))),
        ])
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      out.push(`| ${name} | ${t} | ${med.length ? med.map(([k, n]) => `${k} ${f(n, 0)}`).join(', ') : '–'} |`)
    }
  }
}
const checks = tools.map((t) => {
  const rs = pick(t, 'restore-check')
  return `${t} ${rs.filter((r) => r.rc === 0).length}/${rs.length}`
})
out.push('')
out.push(`Restores identical to the source (\`diff -r\`): ${checks.join(', ')}.`)

const version = median(pick('vger', 'version').map((r) => r.wall)) * 1000
if (!remote && tools.includes('vger') && tools.includes('restic')) {
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
  const begin = remote
    ? `<!-- bench-remote-${remote}:begin (written by npm run bench -- -r ${remote}; edits between the markers are replaced) -->`
    : BEGIN
  const end = remote ? `<!-- bench-remote-${remote}:end -->` : END
  const a = text.indexOf(begin)
  const b = text.indexOf(end)
  const block = `${begin}\n${md}\n${end}`
  let next
  if (a >= 0 && b > a) next = text.slice(0, a) + block + text.slice(b + end.length)
  else if (!remote) next = `${text.trimEnd()}\n\n${block}\n`
  else {
    // No markers for this remote kind yet: add its subsection at the end of the remote section
    // (before the next "## " heading), making the section at the end of the file when missing.
    const intro = REMOTE_INTROS[remote] ? `${REMOTE_INTROS[remote]}\n\n` : ''
    const sub = `${REMOTE_TITLES[remote] ?? `### ${remote}`}\n\n${intro}${block}\n`
    const s = text.indexOf(`\n${REMOTE_SECTION}\n`)
    if (s < 0) next = `${text.trimEnd()}\n\n${REMOTE_SECTION}\n\n${sub}`
    else {
      const n = text.indexOf('\n## ', s + REMOTE_SECTION.length + 1)
      const cut = n < 0 ? text.length : n + 1
      next = `${text.slice(0, cut).trimEnd()}\n\n${sub}${n < 0 ? '' : `\n${text.slice(cut)}`}`
    }
  }
  writeFileSync(docs, next)
  console.error(`bench: wrote the results into ${docs}`)
}
