/**
 * `vger restore SNAPSHOT DEST [--include GLOB]... [--exclude GLOB]... [--overwrite MODE] [--delete] [--dry-run]`:
 * into a new or empty directory, or with `--overwrite` into an existing tree (docs/commands.md).
 */
import { VgerError, asVgerError } from '../../errors.js'
import type { CliContext } from '../context.js'
import { displayPath, formatBytes, formatCount, shortId } from '../output.js'
import { progressDisplay } from '../progress.js'
import { resolveSnapshot } from '../snapshots.js'
import { EXIT, type ExitCode } from '../exit.js'

/** `vger restore`'s options as commander parses them. */
export interface RestoreFlags {
  include?: string[]
  pattern?: string[]
  exclude?: string[]
  overwrite?: 'never' | 'if-changed' | 'always'
  delete?: boolean
  dryRun?: boolean
}

export async function restore(ctx: CliContext, ref: string, dest: string, opts: RestoreFlags): Promise<ExitCode> {
  if (opts.delete === true && opts.overwrite === undefined) {
    throw new VgerError('VGER_USAGE', '--delete works only with --overwrite (never, if-changed or always)')
  }
  const repo = ctx.repository()
  const target = ctx.resolvePath(dest)
  const repository = await ctx.open(repo)
  const snapshot = await resolveSnapshot(repository, ref, ctx.options.source)
  const dryRun = opts.dryRun === true
  const progress = progressDisplay(ctx.out, `restore ${shortId(snapshot.id)}`, { repository: repo.name, snapshot: snapshot.id })
  const outcome = await repository
    .restore({
      snapshot: snapshot.id,
      dest: target,
      patterns: [...(opts.include ?? []), ...(opts.pattern ?? [])],
      excludes: opts.exclude ?? [],
      overwrite: opts.overwrite,
      delete: opts.delete === true,
      dryRun,
      threads: repo.limits.threads,
      signal: ctx.signal,
      onProgress: progress.onProgress,
    })
    .catch((e: unknown) => {
      // Files already in place are kept by a rerun with if-changed (the data written so far is not lost).
      if (asVgerError(e).code === 'VGER_CANCELLED' && !dryRun) {
        ctx.out.warn(
          `the restore into ${displayPath(target)} was interrupted; run the same command with --overwrite if-changed to continue it (files already complete are kept)`,
        )
      }
      throw e
    })
    .finally(() => progress.finish())

  const extra: string[] = []
  if (outcome.replaced > 0) extra.push(`${formatCount(outcome.replaced, 'entry', 'entries')} replaced`)
  if (outcome.unchanged > 0) extra.push(`${formatCount(outcome.unchanged, 'entry', 'entries')} unchanged`)
  if (outcome.deleted > 0) extra.push(`${formatCount(outcome.deleted, 'entry', 'entries')} deleted`)
  if (outcome.skipped.length > 0) extra.push(`${formatCount(outcome.skipped.length, 'entry', 'entries')} skipped`)
  const parts = [formatCount(outcome.files, 'file'), formatCount(outcome.dirs, 'dir')]
  if (outcome.symlinks > 0) parts.push(formatCount(outcome.symlinks, 'symlink'))
  if (outcome.others > 0) parts.push(formatCount(outcome.others, 'other'))
  const tail = extra.length > 0 ? `; ${extra.join(', ')}` : ''
  if (dryRun) {
    for (const c of outcome.changes) if (c.action !== 'unchanged') ctx.out.line(`${c.action.padEnd(9)} ${displayPath(c.path)}`)
    ctx.out.line(
      `Would restore ${parts.join(', ')} (${formatBytes(outcome.bytes)} written)${tail} from snapshot ${shortId(snapshot.id)} to ${displayPath(target)}; nothing was written`,
    )
  } else {
    ctx.out.line(
      `Restored ${parts.join(', ')} (${formatBytes(outcome.bytes)})${tail} from snapshot ${shortId(snapshot.id)} to ${displayPath(target)}`,
    )
  }
  ctx.out.result({ repository: repo.name, snapshot: snapshot.id, label: snapshot.label, dest: target, dryRun, ...outcome })
  for (const s of outcome.skipped) ctx.out.warn(`${displayPath(s.path)}: not restored: ${s.reason}`)

  if (outcome.errors.length === 0) return EXIT.ok
  for (const e of outcome.errors) ctx.out.warn(`${displayPath(e.path)}: ${displayPath(e.message)} [${e.code}]`)
  throw new VgerError(
    'VGER_RESTORE_INCOMPLETE',
    `${formatCount(outcome.errors.length, 'file')} could not be restored (listed above); damaged data is never written`,
  )
}
