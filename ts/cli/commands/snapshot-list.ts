/** `vger snapshot list SNAPSHOT [PATH]`: the entries of one snapshot, like `ls -l`. */
import type { ListEntry } from '../../repository.js'
import type { CliContext } from '../context.js'
import { displayPath, formatBytes, formatMode, formatTable, formatTime } from '../output.js'
import { resolveSnapshot } from '../snapshots.js'
import { EXIT, type ExitCode } from '../exit.js'

export async function snapshotList(ctx: CliContext, ref: string, opts: { path?: string }): Promise<ExitCode> {
  const repo = ctx.repository()
  const repository = await ctx.open(repo)
  const snapshot = await resolveSnapshot(repository, ref, ctx.options.source)
  const entries = await repository.listContents(snapshot.id, { path: opts.path })
  ctx.out.line(renderEntries(entries))
  ctx.out.result({ repository: repo.name, snapshot: snapshot.id, ...(opts.path === undefined ? {} : { path: opts.path }), entries })
  return EXIT.ok
}

export function renderEntries(entries: ListEntry[]): string {
  if (entries.length === 0) return 'No entries.'
  const rows = entries.map((e) => [
    formatMode(e.kind, e.mode),
    e.kind === 'file' || e.kind === 'hardlink' ? formatBytes(e.size) : '-',
    formatTime(e.mtime),
    e.target === undefined ? displayPath(e.path) : `${displayPath(e.path)} -> ${displayPath(e.target)}`,
  ])
  return formatTable(['Mode', 'Size', 'Modified', 'Path'], rows, ['left', 'right', 'left', 'left'])
}
