/** `vger restore SNAPSHOT DEST [--pattern GLOB]...`: into an empty or new directory. */
import { VgerError } from '../../errors.js'
import type { CliContext } from '../context.js'
import { displayPath, formatBytes, formatCount, shortId } from '../output.js'
import { progressDisplay } from '../progress.js'
import { resolveSnapshot } from '../snapshots.js'
import { EXIT, type ExitCode } from '../exit.js'

export async function restore(ctx: CliContext, ref: string, dest: string, opts: { pattern?: string[] }): Promise<ExitCode> {
  const repo = ctx.repository()
  const target = ctx.resolvePath(dest)
  const repository = await ctx.open(repo)
  const snapshot = await resolveSnapshot(repository, ref, ctx.options.source)
  const progress = progressDisplay(ctx.out, `restore ${shortId(snapshot.id)}`, { repository: repo.name, snapshot: snapshot.id })
  const outcome = await repository
    .restore({
      snapshot: snapshot.id,
      dest: target,
      patterns: opts.pattern ?? [],
      threads: repo.limits.threads,
      signal: ctx.signal,
      onProgress: progress.onProgress,
    })
    .finally(() => progress.finish())

  const parts = [formatCount(outcome.files, 'file'), formatCount(outcome.dirs, 'dir')]
  if (outcome.symlinks > 0) parts.push(formatCount(outcome.symlinks, 'symlink'))
  if (outcome.others > 0) parts.push(formatCount(outcome.others, 'other'))
  const skipped = outcome.skipped.length > 0 ? `; ${formatCount(outcome.skipped.length, 'entry', 'entries')} skipped` : ''
  ctx.out.line(
    `Restored ${parts.join(', ')} (${formatBytes(outcome.bytes)})${skipped} from snapshot ${shortId(snapshot.id)} to ${displayPath(target)}`,
  )
  ctx.out.result({ repository: repo.name, snapshot: snapshot.id, label: snapshot.label, dest: target, ...outcome })
  for (const s of outcome.skipped) ctx.out.warn(`${displayPath(s.path)}: not restored: ${s.reason}`)

  if (outcome.errors.length === 0) return EXIT.ok
  for (const e of outcome.errors) ctx.out.warn(`${displayPath(e.path)}: ${displayPath(e.message)} [${e.code}]`)
  throw new VgerError(
    'VGER_RESTORE_INCOMPLETE',
    `${formatCount(outcome.errors.length, 'file')} could not be restored (listed above); damaged data is never written`,
  )
}
