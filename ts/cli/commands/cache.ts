/**
 * `vger cache [--clear] [-n]`: what the local cache holds (`cache_dir`), and removing it. The parts:
 * `files/` (the file cache, which lets a backup skip reading unchanged files), `index/` (each repository's index as
 * a sorted, memory-mapped table, so an open reads only the segments written since and memory does not grow with
 * the repository), `metadata/` (copies of remote repositories' index segments, snapshots and packs of trees, so
 * listing and an unchanged re-backup download nothing again), `inflight/` (the records that let an interrupted
 * backup resume) and `checks/` (when each repository last had a full check, for `check.full_every`). `--clear`
 * removes the first three; the next backup then reads every file, the next open rebuilds the index table, and the
 * next command downloads the metadata again. In-flight records are kept: they are what a resumed backup needs; so
 * are the check records (without them the next cycle would read every pack).
 */
import { lstatSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import type { CliContext } from '../context.js'
import { formatBytes, formatCount, formatTable } from '../output.js'
import { EXIT, type ExitCode } from '../exit.js'

const PARTS = [
  { name: 'files', what: 'file cache (skips reading unchanged files)', clear: true },
  { name: 'index', what: 'index tables (memory-mapped; rebuilt from the segments)', clear: true },
  { name: 'metadata', what: 'remote metadata (index segments, snapshots, tree packs)', clear: true },
  { name: 'inflight', what: 'records of running or interrupted backups', clear: false },
  { name: 'checks', what: 'when each repository last had a full check (check.full_every)', clear: false },
] as const

interface Usage {
  files: number
  bytes: number
}

function usage(dir: string): Usage {
  const out = { files: 0, bytes: 0 }
  let entries
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return out
  }
  for (const e of entries) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) {
      const u = usage(p)
      out.files += u.files
      out.bytes += u.bytes
    } else {
      out.files += 1
      out.bytes += lstatSync(p).size
    }
  }
  return out
}

export async function cache(ctx: CliContext, opts: { clear?: boolean; dryRun?: boolean }): Promise<ExitCode> {
  const dir = ctx.config().cacheDir
  const parts = PARTS.map((p) => ({ ...p, ...usage(path.join(dir, p.name)) }))
  const clearing = opts.clear === true
  const removed = clearing ? parts.filter((p) => p.clear && p.files > 0) : []
  if (clearing && opts.dryRun !== true) {
    for (const p of removed) rmSync(path.join(dir, p.name), { recursive: true, force: true })
  }
  const rows = parts.map((p) => [p.name, p.what, formatCount(p.files, 'file'), formatBytes(p.bytes)])
  ctx.out.line(`Cache ${dir}`)
  ctx.out.line(formatTable(['part', 'holds', 'files', 'size'], rows, ['left', 'left', 'right', 'right']))
  if (clearing) {
    const n = removed.reduce((s, p) => s + p.bytes, 0)
    const verb = opts.dryRun === true ? 'Would remove' : 'Removed'
    ctx.out.line(
      removed.length === 0
        ? 'Nothing to remove.'
        : `${verb} ${removed.map((p) => p.name).join(' and ')} (${formatBytes(n)}); the next backup reads every file again.`,
    )
  }
  ctx.out.result({
    dir,
    parts: parts.map(({ name, files, bytes }) => ({ name, files, bytes })),
    ...(clearing ? { removed: removed.map((p) => p.name), dryRun: opts.dryRun === true } : {}),
  })
  return EXIT.ok
}
