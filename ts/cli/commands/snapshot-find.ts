/**
 * `vger snapshot find [PATH] [--name GLOB] [--iname GLOB] [--type f|d|l] [--since D] [--larger S]
 * [--smaller S] [--last N]`: for every matching path, its versions across the chosen snapshots.
 */
import type { FindOptions, FindResult, SnapshotSummary } from '../../repository.js'
import type { CliContext } from '../context.js'
import { displayPath, formatBytes, formatTable, formatTime, shortId } from '../output.js'
import { snapshotsByTime } from '../snapshots.js'
import { EXIT, type ExitCode } from '../exit.js'
import { hasTags } from './list.js'

export interface FindFlags {
  name?: string
  iname?: string
  type?: 'f' | 'd' | 'l'
  /** Seconds. */
  since?: number
  larger?: number
  smaller?: number
  last?: number
  /** Only snapshots with every tag of one of these groups (`--tag`). */
  tag?: string[][]
}

const KIND = { f: 'file', d: 'dir', l: 'symlink' } as const

/** The snapshots to search, oldest first: by -S labels, then --since, then the newest --last. */
export function findScope(all: SnapshotSummary[], labels: readonly string[], flags: FindFlags, now = Date.now()): SnapshotSummary[] {
  const since = flags.since
  const recent = since === undefined ? all : all.filter((s) => Date.parse(s.time) >= now - since * 1000)
  const labelled = (labels.length === 0 ? recent : recent.filter((s) => labels.includes(s.label))).filter((s) => hasTags(s, flags.tag))
  return flags.last === undefined ? labelled : labelled.slice(-flags.last)
}

export function findOptions(snapshots: SnapshotSummary[], path: string | undefined, flags: FindFlags): FindOptions {
  const opts: FindOptions = { snapshots: snapshots.map((s) => s.id) }
  if (path !== undefined) opts.path = path.replace(/^\/+|\/+$/g, '')
  if (flags.name !== undefined) opts.name = flags.name
  if (flags.iname !== undefined) opts.iname = flags.iname
  if (flags.type !== undefined) opts.kind = KIND[flags.type]
  if (flags.larger !== undefined) opts.larger = flags.larger
  if (flags.smaller !== undefined) opts.smaller = flags.smaller
  return opts
}

export async function snapshotFind(ctx: CliContext, path: string | undefined, flags: FindFlags): Promise<ExitCode> {
  const repo = ctx.repository()
  const repository = await ctx.open(repo)
  const snapshots = findScope(snapshotsByTime(await repository.listSnapshots()), ctx.options.source, flags)
  const results = snapshots.length === 0 ? [] : await repository.find(findOptions(snapshots, path, flags))
  ctx.out.line(renderFind(results, snapshots.length))
  ctx.out.result({ repository: repo.name, snapshots: snapshots.map((s) => s.id), results })
  return EXIT.ok
}

export function renderFind(results: FindResult[], searched: number): string {
  if (results.length === 0) return `No matches in ${searched} snapshot${searched === 1 ? '' : 's'}.`
  const blocks = results.map((r) => {
    const rows = r.versions.map((v) => [
      shortId(v.snapshot),
      formatTime(v.time),
      v.status,
      r.kind === 'dir' ? '-' : formatBytes(v.size),
      formatTime(v.mtime),
    ])
    const table = formatTable(['Snapshot', 'Time', 'Status', 'Size', 'Modified'], rows, ['left', 'left', 'left', 'right', 'left'])
    return `${displayPath(r.kind === 'dir' ? `${r.path}/` : r.path)}\n${table.replace(/^/gm, '  ')}`
  })
  return blocks.join('\n\n')
}
