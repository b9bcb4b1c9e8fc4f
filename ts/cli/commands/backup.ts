/**
 * `vger backup [PATHS...]`: with no paths, one snapshot per configured source; with paths, one ad-hoc
 * snapshot of all of them. Exit code 3 when a snapshot was saved but some entries were skipped.
 */
import path from 'node:path'
import { labelForPaths } from '../../config/resolve.js'
import type { SourceConfig } from '../../config/types.js'
import { VgerError } from '../../errors.js'
import type { BackupOutcome, CompressionAlgorithm } from '../../native-types.js'
import type { CliContext, Failure } from '../context.js'
import { formatBytes, formatCount, formatDuration, shortId } from '../output.js'
import { progressDisplay } from '../progress.js'

export interface BackupFlags {
  label?: string
  exclude: string[]
  compression?: CompressionAlgorithm
}

interface Saved extends BackupOutcome {
  repository: string
  source: string
}

export function backupSources(ctx: CliContext, paths: string[], flags: BackupFlags): SourceConfig[] {
  const config = ctx.config()
  if (paths.length > 0) {
    const abs = paths.map((p) => ctx.resolvePath(p))
    const exclude = [...config.excludePatterns, ...flags.exclude]
    return [{ label: flags.label ?? labelForPaths(abs), paths: abs, exclude }]
  }
  if (flags.label !== undefined) {
    throw new VgerError('VGER_USAGE', '--label names an ad-hoc snapshot: give the paths too (vger backup --label L PATH...)')
  }
  if (config.sources.length === 0) {
    const where = config.file ?? 'the config (none found, so the built-in default applies)'
    throw new VgerError(
      'VGER_USAGE',
      `nothing to back up: no sources in ${where}; run "vger backup PATH..." or add "sources:" to the config`,
    )
  }
  return config.sources.map((s) => ({ ...s, exclude: [...s.exclude, ...flags.exclude] }))
}

export async function backup(ctx: CliContext, paths: string[], flags: BackupFlags): Promise<number> {
  const sources = backupSources(ctx, paths, flags)
  const repos = ctx.repositories('all')
  const hostname = ctx.hostname()
  const username = ctx.username()
  const saved: Saved[] = []
  const failures: Failure[] = []

  const run = await ctx.eachRepository(repos, async (repo) => {
    const repository = await ctx.open(repo)
    for (const source of sources) {
      ctx.throwIfAborted()
      const title = repos.length > 1 ? `${source.label} → ${repo.name}` : source.label
      const progress = progressDisplay(ctx.out, `backup ${title}`, { repository: repo.name, source: source.label })
      try {
        const outcome = await repository.backup({
          paths: source.paths,
          label: source.label,
          exclude: source.exclude,
          hostname,
          username,
          compression: flags.compression ?? repo.compression.algorithm,
          zstdLevel: repo.compression.zstdLevel,
          cacheDir: cacheDir(ctx),
          signal: ctx.signal,
          onProgress: progress.onProgress,
        })
        progress.finish()
        saved.push({ repository: repo.name, source: source.label, ...outcome })
        report(ctx, repo.name, source.label, outcome)
      } catch (e) {
        progress.finish()
        if (ctx.signal.aborted || sources.length === 1) throw e
        failures.push(ctx.fail(e, repo.name, source.label))
      }
    }
  })
  failures.push(...run.failures)

  ctx.out.result({ snapshots: saved, errors: failures })
  if (failures.length > 0) return 1
  return saved.some((s) => s.partial) ? 3 : 0
}

/** `$XDG_CACHE_HOME/vger`, else `~/.cache/vger`. */
export function cacheDir(ctx: CliContext): string {
  const xdg = ctx.io.env.XDG_CACHE_HOME
  return path.join(xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(ctx.home, '.cache'), 'vger')
}

function report(ctx: CliContext, repository: string, source: string, o: BackupOutcome): void {
  const s = o.stats
  const entries = [formatCount(s.files, 'file'), formatCount(s.dirs, 'dir')]
  if (s.symlinks > 0) entries.push(formatCount(s.symlinks, 'symlink'))
  if (s.others > 0) entries.push(formatCount(s.others, 'other'))
  ctx.out.line(
    `Snapshot ${shortId(o.snapshotId)} of "${source}" saved to "${repository}": ${entries.join(', ')}, ` +
      `${formatBytes(s.bytes)} (${formatBytes(s.newBytes)} new, ${formatBytes(s.storedBytes)} stored) ` +
      `in ${formatDuration(o.durationMs)}`,
  )
  if (!o.partial && o.warnings.length === 0) return
  // Warnings go to stderr in every mode; in --json mode they are also in the result.
  for (const w of o.warnings) ctx.out.warn(`${w.path}: ${w.message} [${w.code}]`)
  if (o.warningsOmitted > 0) ctx.out.warn(`${o.warningsOmitted} more warnings not shown`)
  if (o.partial) {
    ctx.out.warn(`snapshot ${shortId(o.snapshotId)} is partial: ${formatCount(s.skipped, 'entry', 'entries')} skipped`)
  }
}
