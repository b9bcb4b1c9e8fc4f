#!/usr/bin/env node
// report.mjs RESULTS_DIR [--docs docs/benchmarks.md]
// Summarizes the runs.csv written by bench.sh. A local run gives one table: per step the median wall
// time (min–max) of each tool, the per-repetition ratios vger/vykar and vger/restic, the repository
// size after the three backups, and the issue-18 targets checked per repetition (PASS only when
// every repetition meets it); then whether the machine was quiet (load average, busy processes before
// the start, CPU spent outside the timed tool during each step), the details per tool and step (CPU,
// peak RSS, MB/s), the restore checks and the stage micro-benchmark when present.
// Prints the Markdown and, with --docs, replaces the part of that file between the markers.
// A remote run (bench.sh -r s3|seaweedfs|sftp; env.txt says "remote: s3") also reports the requests the
// peer served (runs.csv column requests, requests.csv by kind), has no targets, and goes
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
const STEPS = {
  a: 'first backup',
  b: 'unchanged re-backup',
  c: 'backup after ~1% change',
  d: 'full restore (cache dropped)',
  e: 'cold first backup (cache dropped)',
  f: 'cold first backup, kernel tree only',
}
// The targets of issue 18: vger's wall time (or repository size) at most FACTOR × the peer's, in every
// repetition. The repository size may be at most 1 % above restic's (smaller is fine).
const TARGETS = {
  a: [
    ['vykar', 0.35, '0.35'],
    ['restic', 0.25, '0.25'],
  ],
  b: [['vykar', 0.3, '0.3']],
  c: [['vykar', 0.4, '0.4']],
  d: [
    ['vykar', 0.6, '0.6'],
    ['restic', 1 / 3, '1/3'],
  ],
  e: [
    ['vykar', 0.5, '0.5'],
    ['restic', 1 / 3, '1/3'],
  ],
  f: [
    ['vykar', 0.5, '0.5'],
    ['restic', 1 / 3, '1/3'],
  ],
  'size-after-c': [['restic', 1.01, '1.01']],
}
// Quiet: 1-minute load average below this before the first repetition, no process above 10 % of a core
// in bench.sh's 5-second sample, and no timed step with more than this many cores busy outside the tool.
const QUIET_LOAD = 0.3
const QUIET_OUTSIDE = 0.3

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
    const [tool, rep, step, rc, wall, user, sys, rss, bytes, requests, load1, other] = l.split(',')
    const num = (x) => (x === undefined || x === '' ? NaN : +x)
    return {
      tool,
      rep,
      step,
      rc: +rc,
      wall: +wall,
      cpu: +user + +sys,
      user: +user,
      sys: +sys,
      rss: +rss,
      bytes: +bytes,
      req: num(requests),
      load1: num(load1),
      other: num(other),
    }
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
const reps = [...new Set(rows.filter((r) => r.step in STEPS).map((r) => r.rep))].sort((a, b) => +a - +b)
const mb = (x) => x / 1e6

// --- per repetition: vger's figure over a peer's, and the targets ---
/** The value of KEY for TOOL, STEP, REP (NaN when missing or failed). */
const one = (tool, step, rep, key) => {
  const r = rows.find((x) => x.tool === tool && x.step === step && x.rep === rep)
  return r && r.rc === 0 ? r[key] : NaN
}
const keyOf = (step) => (step.startsWith('size-') ? 'bytes' : 'wall')
/** vger/peer per repetition, in repetition order. */
const perRep = (step, peer) => reps.map((rep) => ratio(one('vger', step, rep, keyOf(step)), one(peer, step, rep, keyOf(step))))
/** A target check: PASS when every repetition has a ratio at most LIMIT, n/a without the peer or vger. */
const check = (step, peer, limit) => {
  if (pick('vger', step).length === 0 || pick(peer, step).length === 0) return 'n/a'
  const xs = perRep(step, peer)
  return xs.length > 0 && xs.every((x) => Number.isFinite(x) && x <= limit + 1e-9) ? 'PASS' : 'FAIL'
}
const list = (xs) => (xs.length ? xs.map((x) => f(x)).join(', ') : '–')

// --- was the machine quiet? ---
const firstNum = (s) => (s === undefined ? NaN : parseFloat(s))
const quiet = () => {
  const load = firstNum(env.load_before)
  const busy = env.busy_before ?? ''
  const timedRows = rows.filter((r) => r.step in STEPS && r.wall > 0 && Number.isFinite(r.other))
  const outside = timedRows.map((r) => ({ r, cores: r.other / r.wall }))
  const worst = outside.reduce((a, b) => (a && a.cores >= b.cores ? a : b), null)
  const noisy = outside.filter((o) => o.cores > QUIET_OUTSIDE)
  const loads = rows.filter((r) => r.step in STEPS && Number.isFinite(r.load1)).map((r) => r.load1)
  const reasons = []
  if (!(load < QUIET_LOAD))
    reasons.push(`1-minute load ${env.load_before === undefined ? 'not recorded' : load.toFixed(2)} before the first repetition`)
  if (busy) reasons.push(`busy before the start: ${busy}`)
  if (noisy.length)
    reasons.push(`${noisy.length} of ${outside.length} timed steps had more than ${QUIET_OUTSIDE} cores busy outside the tool`)
  const facts = [
    `1-minute load average ${env.load_before ?? '?'} before the first repetition` +
      `${env.load_start && env.load_start !== env.load_before ? ` (${env.load_start} when bench.sh started)` : ''}`,
    env.cpu_before !== undefined
      ? `${env.cpu_before} cores busy in a 5-s sample then, ${busy ? `processes above 10 % of a core: ${busy}` : 'no process above 10 % of a core'}`
      : 'no sample of busy processes',
    worst
      ? `CPU outside the timed tool during the steps: median ${f(median(outside.map((o) => o.cores)))} cores, ` +
        `at most ${f(worst.cores)} (${worst.r.tool} rep ${worst.r.rep} step ${worst.r.step})`
      : 'CPU outside the timed tool not recorded',
    ...(loads.length ? [`1-minute load before the timed steps ${f(Math.min(...loads))}–${f(Math.max(...loads))}`] : []),
    `load average ${env.load_after ?? '?'} after the run (the benchmark's own load included)`,
  ]
  const verdict = reasons.length === 0 ? '**Machine quiet: yes**' : `**Machine quiet: NO** (${reasons.join('; ')})`
  return (
    `${verdict}. ${facts.join('; ')}. Quiet means: load below ${QUIET_LOAD} and no process above 10 % of a core before ` +
    `the start, and at most ${QUIET_OUTSIDE} cores busy outside the timed tool during every step (other processes and ` +
    `kernel threads, writeback included).`
  )
}

if (remote) {
  out.push(
    `Repositories on ${env.peer} (\`npm run bench -- -r ${remote}\`), fresh prefix per tool and repetition` +
      `${env.skipped ? `; skipped: ${env.skipped}` : ''}.`,
  )
}
out.push(
  `Run ${env.date_utc}: ${env.nproc} cores (${env.cpu}), ${env.mem} RAM, kernel ${env.kernel}, ${env.fs}; ` +
    `vger ${env.vger}${env.vger_addon ? ` (addon ${env.vger_addon})` : ''}` +
    `${env.vykar ? `, vykar ${env.vykar.replace(/ \(.*\)$/, '')}${env.vykar_encryption ? ` (${env.vykar_encryption})` : ''}` : ''}` +
    `, restic ${env.restic ?? '–'}, Borg ${env.borg ?? '–'}. Corpus: ${env.corpus}. ` +
    `Medians of ${env.reps} interleaved repetitions; load average before ${env.load_before}, after ${env.load_after ?? '?'}` +
    `${env.restore_cache ? `; restores ${env.restore_cache}` : ''}` +
    `${env.restore_fs ? `; restores into ${env.restore_fs}` : ''}` +
    `${env.node_extra_ca_certs ? `; NODE_EXTRA_CA_CERTS ${env.node_extra_ca_certs} for every tool` : ''}` +
    `${!remote && env.skipped ? `; skipped: ${env.skipped}` : ''}.`,
)
out.push('')

const version = median(pick('vger', 'version').map((r) => r.wall)) * 1000
if (!remote) {
  // The one table: medians (min–max) per tool, per-repetition ratios, and the targets.
  const cell = (t, step) => {
    const rs = pick(t, step).filter((r) => r.rc === 0)
    const k = keyOf(step)
    const conv = k === 'bytes' ? (x) => mb(x) : (x) => x
    const d = k === 'bytes' ? 0 : 2
    if (rs.length === 0) return pick(t, step).length ? 'failed' : '–'
    const xs = rs.map((r) => conv(r[k]))
    const failed = pick(t, step).length - rs.length
    return `${f(median(xs), d)} (${f(Math.min(...xs), d)}–${f(Math.max(...xs), d)})${failed ? `, ${failed} failed` : ''}`
  }
  const ratioPeers = ['vykar', 'restic']
  const rowsOut = [
    ...Object.entries(STEPS).map(([step, name]) => [step, `${step} ${name}, s`]),
    ['size-after-a', 'repository after the first backup, MB'],
    ['size-after-c', 'repository after the 3 backups, MB'],
  ].filter(([step]) => tools.some((t) => pick(t, step).length > 0))
  let pass = 0
  let fail = 0
  // Targets of steps that did not run at all (cold steps with -C, an older CSV) count as not checked.
  let na = Object.entries(TARGETS)
    .filter(([step]) => !rowsOut.some(([s]) => s === step))
    .reduce((n, [, ts]) => n + ts.length, 0)
  out.push(
    `| step | ${tools.map((t) => `${t} median (min–max)`).join(' | ')} | ${ratioPeers.map((p) => `vger/${p} per repetition`).join(' | ')} | target, every repetition |`,
  )
  out.push(`| --- | ${tools.map(() => '---').join(' | ')} | ${ratioPeers.map(() => '---').join(' | ')} | --- |`)
  for (const [step, name] of rowsOut) {
    const targets = (TARGETS[step] ?? []).map(([peer, limit, shown]) => {
      const c = check(step, peer, limit)
      if (c === 'PASS') pass++
      else if (c === 'FAIL') fail++
      else na++
      return `≤ ${shown} × ${peer}: ${c === 'n/a' ? 'n/a' : `**${c}**`}`
    })
    const ratios = ratioPeers.map((p) => (pick(p, step).length && pick('vger', step).length ? list(perRep(step, p)) : '–'))
    out.push(`| ${name} | ${tools.map((t) => cell(t, step)).join(' | ')} | ${ratios.join(' | ')} | ${targets.join('; ') || '–'} |`)
  }
  out.push('')
  out.push(
    `Targets (issue 18): ${pass} PASS, ${fail} FAIL${na ? `, ${na} not checked (a tool or step was not run)` : ''}; ` +
      `a target passes only when every one of the ${reps.length} repetitions meets it. Ratios are of wall time, ` +
      `each repetition's vger over the same repetition's peer; sizes are allocated bytes (\`du\`), and vger's may be at most 1 % above restic's.`,
  )
  out.push('')
  out.push(quiet())
  out.push('')
}

// Details per tool and step.
out.push(
  `| step | tool | wall s (min–max) | CPU s (user + sys) | peak RSS MiB | MB/s |${remote ? ' requests |' : ''} CPU s outside the tool | failed |`,
)
out.push(`| --- | --- | --- | --- | --- | --- |${remote ? ' --- |' : ''} --- | --- |`)
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
        `| ${f(stat(t, step, 'rss') / 1024, 0)} | ${f(mbs, 0)} |${remote ? ` ${f(stat(t, step, 'req'), 0)} |` : ''} ${f(stat(t, step, 'other'))} ` +
        `| ${rs.filter((r) => r.rc !== 0).length} |`,
    )
  }
}
out.push('')
const peers = tools.filter((t) => t !== 'vger')
if (remote && tools.includes('vger') && peers.length > 0) {
  const keys = ['wall', 'cpu', 'rss', 'req']
  out.push(`| step | ${peers.map((p) => `vger/${p} wall | CPU | RSS | requests`).join(' | ')} |`)
  out.push(`| --- | ${peers.map(() => keys.map(() => '---').join(' | ')).join(' | ')} |`)
  for (const [step, name] of Object.entries(STEPS)) {
    if (pick('vger', step).length === 0) continue
    const cells = peers.map((p) => keys.map((k) => f(ratio(stat('vger', step, k), stat(p, step, k)))).join(' | '))
    out.push(`| ${name} | ${cells.join(' | ')} |`)
  }
  out.push('')
}
if (remote) {
  out.push(`| repository size (MB, logical bytes on the peer) | ` + tools.join(' | ') + ' |')
  out.push('| --- | ' + tools.map(() => '---').join(' | ') + ' |')
  for (const s of ['size-after-a', 'size-after-c']) {
    out.push(
      `| ${s === 'size-after-a' ? 'after the first backup' : 'after the third backup'} | ${tools.map((t) => f(stat(t, s, 'bytes') / 1e6, 0)).join(' | ')} |`,
    )
  }
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
  const repsOf = (t, step) => [...new Set(pick(t, step).map((r) => r.rep))]
  for (const [step, name] of Object.entries(STEPS)) {
    for (const t of tools) {
      const rs = reqRows.filter((r) => r.tool === t && r.step === step)
      if (pick(t, step).length === 0) continue
      const kinds = [...new Set(rs.map((r) => r.kind))]
      const med = kinds
        .map((k) => [
          k,
          median(repsOf(t, step).map((rep) => rs.filter((r) => r.rep === rep && r.kind === k).reduce((a, r) => a + r.count, 0))),
        ])
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      out.push(`| ${name} | ${t} | ${med.length ? med.map(([k, n]) => `${k} ${f(n, 0)}`).join(', ') : '–'} |`)
    }
  }
  out.push('')
}
const checks = tools.map((t) => {
  const rs = pick(t, 'restore-check')
  return `${t} ${rs.filter((r) => r.rc === 0).length}/${rs.length}`
})
out.push(`Restores identical to the source (\`diff -r\`): ${checks.join(', ')}.`)
if (Number.isFinite(version)) {
  out.push('', `\`vger --version\`: ${f(version, 0)} ms (median of 5; target < 150 ms: ${version < 150 ? 'met' : 'not met'}).`)
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
