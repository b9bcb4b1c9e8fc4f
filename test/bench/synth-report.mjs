// synth-report.mjs CSV SVG - the table and plot of scripts/bench-synth.sh: peak resident memory
// and time of each step against the number of blobs in the index, with the index as a mapped
// table and (where measured) built in memory. Prints Markdown; writes the plot as SVG.
import { readFileSync, writeFileSync } from 'node:fs'

const [csvPath, svgPath] = process.argv.slice(2)
const rows = readFileSync(csvPath, 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => {
    const [blobs, step, index, seconds, kib, rate] = l.split(',')
    return { blobs: Number(blobs), step, index, seconds: Number(seconds), mib: Number(kib) / 1024, rate: Number(rate) }
  })
const sizes = [...new Set(rows.map((r) => r.blobs))].sort((a, b) => a - b)
const get = (n, step, index) => rows.find((r) => r.blobs === n && r.step === step && r.index === index)
const cell = (r, withTime = true) =>
  r === undefined ? '–' : withTime ? `${r.seconds.toFixed(2)} s, ${r.mib.toFixed(0)} MiB` : `${r.mib.toFixed(0)} MiB`
const millions = (n) => `${(n / 1e6).toLocaleString('en')} M`

const lines = [
  '| blobs | build the table (once) | open | open, index in memory | unchanged re-backup | … index in memory | 1 GiB of new data | … index in memory | lookups/s (table / in memory) |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
]
for (const n of sizes) {
  const lk = get(n, 'lookup', 'table')
  const lm = get(n, 'lookup', 'memory')
  const rate = (r) => (r === undefined ? '–' : `${(r.rate / 1e6).toFixed(2)} M`)
  lines.push(
    `| ${millions(n)} | ${cell(get(n, 'build', 'table'))} | ${cell(get(n, 'open', 'table'))} | ${cell(get(n, 'open', 'memory'))} | ` +
      `${cell(get(n, 'rebackup', 'table'))} | ${cell(get(n, 'rebackup', 'memory'))} | ${cell(get(n, 'new', 'table'))} | ` +
      `${cell(get(n, 'new', 'memory'))} | ${rate(lk)} / ${rate(lm)} |`,
  )
}
console.log(lines.join('\n'))

// The plot: peak resident memory (log scale) against blobs (log scale), one line per step and index.
const W = 640
const H = 360
const M = { l: 60, r: 170, t: 20, b: 40 }
const series = [
  ['open', 'table', '#1b9e77', ''],
  ['rebackup', 'table', '#d95f02', ''],
  ['new', 'table', '#7570b3', ''],
  ['open', 'memory', '#1b9e77', '6 4'],
  ['rebackup', 'memory', '#d95f02', '6 4'],
  ['new', 'memory', '#7570b3', '6 4'],
]
const mibs = rows.filter((r) => r.step !== 'lookup' && r.step !== 'build').map((r) => r.mib)
const [x0, x1] = [Math.log10(sizes[0]), Math.log10(sizes.at(-1)) + 1e-9]
const [y0, y1] = [Math.floor(Math.log10(Math.min(...mibs))), Math.ceil(Math.log10(Math.max(...mibs)))]
const px = (n) => M.l + ((Math.log10(n) - x0) / Math.max(x1 - x0, 1e-9)) * (W - M.l - M.r)
const py = (mib) => H - M.b - ((Math.log10(mib) - y0) / Math.max(y1 - y0, 1e-9)) * (H - M.t - M.b)
const svg = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
  `<rect width="${W}" height="${H}" fill="white"/>`,
]
for (let e = y0; e <= y1; e++) {
  const y = py(10 ** e)
  svg.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${y}" y2="${y}" stroke="#ddd"/>`)
  svg.push(`<text x="${M.l - 6}" y="${y + 4}" text-anchor="end">${10 ** e} MiB</text>`)
}
for (const n of sizes) svg.push(`<text x="${px(n)}" y="${H - M.b + 16}" text-anchor="middle">${millions(n)}</text>`)
svg.push(`<text x="${(M.l + W - M.r) / 2}" y="${H - 6}" text-anchor="middle">blobs in the index</text>`)
series.forEach(([step, index, color, dash], i) => {
  const pts = sizes.map((n) => get(n, step, index)).filter(Boolean)
  if (pts.length === 0) return
  const d = pts.map((r) => `${px(r.blobs).toFixed(1)},${py(r.mib).toFixed(1)}`).join(' ')
  svg.push(`<polyline points="${d}" fill="none" stroke="${color}" stroke-width="2" stroke-dasharray="${dash}"/>`)
  for (const r of pts) svg.push(`<circle cx="${px(r.blobs)}" cy="${py(r.mib)}" r="3" fill="${color}"/>`)
  const y = M.t + 16 * i
  svg.push(
    `<line x1="${W - M.r + 10}" x2="${W - M.r + 34}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2" stroke-dasharray="${dash}"/>`,
  )
  svg.push(`<text x="${W - M.r + 40}" y="${y + 4}">${step}, ${index === 'table' ? 'mapped' : 'in memory'}</text>`)
})
svg.push('</svg>')
writeFileSync(svgPath, svg.join('\n') + '\n')
