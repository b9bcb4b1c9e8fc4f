/** `vger snapshot diff A B`: added, removed, modified and metadata-only changes, with size deltas. */
import type { DiffEntry, DiffOutcome } from '../../repository.js'
import type { CliContext } from '../context.js'
import { displayPath, formatBytes, formatCount, formatTable, shortId } from '../output.js'
import { resolveSnapshot } from '../snapshots.js'
import { EXIT, type ExitCode } from '../exit.js'

export async function snapshotDiff(ctx: CliContext, refA: string, refB: string): Promise<ExitCode> {
  const repo = ctx.repository()
  const repository = await ctx.open(repo)
  const a = await resolveSnapshot(repository, refA, ctx.options.source)
  const b = await resolveSnapshot(repository, refB, ctx.options.source)
  const outcome = await repository.diff(a.id, b.id)
  ctx.out.line(renderDiff(outcome))
  ctx.out.result({ repository: repo.name, ...outcome })
  return EXIT.ok
}

const SIGN: Record<DiffEntry['change'], string> = { added: '+', removed: '-', modified: 'M', metadata: 'm' }

function delta(e: DiffEntry): string {
  const d = (e.newSize ?? 0) - (e.oldSize ?? 0)
  if (e.change === 'metadata' || d === 0) return ''
  return `${d > 0 ? '+' : '-'}${formatBytes(Math.abs(d))}`
}

function size(n: number | undefined): string {
  return n === undefined ? '' : formatBytes(n)
}

export function renderDiff(o: DiffOutcome): string {
  const head = `Snapshot ${shortId(o.a)} → ${shortId(o.b)}`
  const summary =
    `${o.added} added, ${o.removed} removed, ${o.modified} modified, ${o.metadata} metadata only; ` +
    `+${formatBytes(o.bytesAdded)} / -${formatBytes(o.bytesRemoved)}`
  if (o.entries.length === 0) return `${head}: no differences.`
  const rows = o.entries.map((e) => [
    SIGN[e.change],
    e.change === 'metadata' ? `metadata (${e.fields.join(', ')})` : e.change,
    size(e.oldSize),
    size(e.newSize),
    delta(e),
    displayPath(e.kind === 'dir' ? `${e.path}/` : e.path),
  ])
  const table = formatTable(['', 'Change', 'Old size', 'New size', 'Delta', 'Path'], rows, [
    'left',
    'left',
    'right',
    'right',
    'right',
    'left',
  ])
  return `${head}\n${table}\n${formatCount(o.entries.length, 'change')}: ${summary}`
}
