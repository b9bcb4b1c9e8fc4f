/** `vger snapshot list SNAPSHOT [--path P]`: the entries of one snapshot, like `ls -l`. */
import type { ListEntry } from '../../native-types.js'
import type { CliContext } from '../context.js'
import { formatBytes, formatMode, formatTable, formatTime } from '../output.js'

export async function snapshotList(ctx: CliContext, snapshot: string, opts: { path?: string }): Promise<number> {
  const repo = ctx.repository()
  const repository = await ctx.open(repo)
  const entries = await repository.listContents(snapshot, { path: opts.path })
  ctx.out.line(renderEntries(entries))
  ctx.out.result({ repository: repo.name, snapshot, entries })
  return 0
}

export function renderEntries(entries: ListEntry[]): string {
  if (entries.length === 0) return 'No entries.'
  const rows = entries.map((e) => [
    formatMode(e.kind, e.mode),
    e.kind === 'file' || e.kind === 'hardlink' ? formatBytes(e.size) : '-',
    formatTime(e.mtime),
    e.target === undefined ? e.path : `${e.path} -> ${e.target}`,
  ])
  return formatTable(['Mode', 'Size', 'Modified', 'Path'], rows, ['left', 'right', 'left', 'left'])
}
