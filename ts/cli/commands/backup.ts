/**
 * `vger backup [PATHS...]`: with no paths, one snapshot per configured source (`-S` picks sources); with
 * paths, one ad-hoc snapshot of all of them. Exit code 3 when a snapshot was saved but some entries were
 * skipped.
 */
import { makeSource } from '../../config/defaults.js'
import { didYouMean } from '../../config/problems.js'
import { labelForPaths } from '../../config/resolve.js'
import type { RepositoryConfig, SourceConfig } from '../../config/types.js'
import { VgerError } from '../../errors.js'
import type { BackupOutcome, CompressionAlgorithm, StreamSpec } from '../../repository.js'
import { scrubbedEnv } from '../../hooks/plan.js'
import type { CliContext, Failure } from '../context.js'
import { displayPath, formatBytes, formatCount, formatDuration, shortId } from '../output.js'
import { progressDisplay } from '../progress.js'
import { failureError, withHooks } from '../hooks.js'
import { EXIT, type ExitCode } from '../exit.js'
import { jobLimits } from '../limits.js'
import { type FilterFlags, pathsFrom, withFilters } from '../backup-filters.js'

export interface BackupFlags extends FilterFlags {
  label?: string
  compression?: CompressionAlgorithm
  /** Read and count, store nothing (`--dry-run`). */
  dryRun?: boolean
  /** The hostname the snapshots record, instead of the config's `hostname` or the machine's (`--host`). */
  host?: string
  /** The time the snapshots record instead of now, in ms since the epoch (`--time`). */
  time?: number
  /** Tags every snapshot of this run carries (`--tag`, comma-separated and repeatable). */
  tag?: string[]
  /** A description every snapshot of this run carries (`--description`). */
  description?: string
  /** Store standard input as a file (`--stdin`); `paths` must be empty. */
  stdin?: boolean
  /** Run `paths` as a command and store its standard output (`--stdin-from-command`). */
  stdinFromCommand?: boolean
  /** The file name standard input or the command's output gets in the snapshot (default `stdin`). */
  stdinFilename?: string
}

/** Where dump commands' output goes in the snapshot. */
export const DUMPS_DIR = 'vger-dumps'

export interface Saved extends BackupOutcome {
  repository: string
  source: string
}

export interface BackupRun {
  saved: Saved[]
  failures: Failure[]
}

export function backupSources(ctx: CliContext, paths: string[], flags: BackupFlags): SourceConfig[] {
  const config = ctx.config()
  if (flags.stdin === true || flags.stdinFromCommand === true) return [stdinSource(ctx, paths, flags)]
  if (flags.stdinFilename !== undefined) {
    throw new VgerError('VGER_USAGE', '--stdin-filename names what --stdin or --stdin-from-command stores: give one of them too')
  }
  const listed = pathsFrom(ctx, flags)
  if (paths.length > 0 || listed.length > 0) {
    if (ctx.options.source.length > 0) {
      throw new VgerError('VGER_USAGE', '-S picks configured sources; with PATHS, name the snapshot with --label instead')
    }
    const abs = [...paths.map((p) => ctx.resolvePath(p)), ...listed]
    const source = makeSource(flags.label ?? labelForPaths(abs), abs, { ...config, exclude: config.excludePatterns })
    return [withFilters(ctx, source, flags)]
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
  return selectSources(config.sources, ctx.options.source).map((s) => withFilters(ctx, s, flags))
}

/** The ad-hoc source of `--stdin` or `--stdin-from-command -- CMD ARGS...`. */
function stdinSource(ctx: CliContext, args: string[], flags: BackupFlags): SourceConfig {
  if (flags.stdin === true && flags.stdinFromCommand === true) {
    throw new VgerError('VGER_USAGE', '--stdin and --stdin-from-command exclude each other: give one')
  }
  if (ctx.options.source.length > 0) {
    throw new VgerError('VGER_USAGE', '-S picks configured sources; --stdin makes a snapshot of its own (name it with --label)')
  }
  const name = flags.stdinFilename ?? 'stdin'
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new VgerError('VGER_USAGE', `--stdin-filename "${name}" must be a plain file name (no "/")`)
  }
  if (flags.stdin === true && args.length > 0) {
    throw new VgerError(
      'VGER_USAGE',
      "--stdin reads standard input: give no PATHS (to store a command's output, use --stdin-from-command -- CMD ARGS...)",
    )
  }
  if (flags.stdinFromCommand === true && args.length === 0) {
    throw new VgerError('VGER_USAGE', 'give the command after --: vger backup --stdin-from-command -- pg_dump mydb')
  }
  if (flags.stdin === true && ctx.repositories('all').length > 1) {
    throw new VgerError('VGER_USAGE', 'standard input can be read once: pick one repository with -R')
  }
  const config = ctx.config()
  const source = makeSource(flags.label ?? name, [], { ...config, exclude: config.excludePatterns })
  source.stdin = flags.stdin === true ? { path: name } : { path: name, command: args }
  return source
}

/** The streams a source stores: its command dumps (`sh -c`, under `vger-dumps/`) and `--stdin`'s. */
function streamsOf(ctx: CliContext, repo: RepositoryConfig, source: SourceConfig): StreamSpec[] {
  const env = (name: string): Record<string, string> => ({
    ...scrubbedEnv(ctx.io.env, ctx.secretValues()),
    VGER_COMMAND: 'backup',
    VGER_REPOSITORY: repo.name,
    VGER_SOURCE_LABEL: source.label,
    VGER_DUMP_NAME: name,
  })
  const streams: StreamSpec[] = source.commandDumps.map((d) => ({
    path: `${DUMPS_DIR}/${d.name}`,
    command: ['sh', '-c', d.command],
    env: env(d.name),
    cwd: ctx.io.cwd,
  }))
  const s = source.stdin
  if (s?.command !== undefined) streams.push({ path: s.path, command: s.command, env: env(s.path), cwd: ctx.io.cwd })
  else if (s !== undefined) streams.push({ path: s.path, stdin: true })
  return streams
}

/** The sources named by `-S` (all when none is given); an unknown label is a usage error. */
export function selectSources(sources: SourceConfig[], labels: readonly string[]): SourceConfig[] {
  if (labels.length === 0) return sources
  const known = sources.map((s) => s.label)
  for (const label of labels) {
    if (known.includes(label)) continue
    const guess = didYouMean(label, known)
    const hint = guess === undefined ? `; configured: ${known.join(', ')}` : ` (did you mean "${guess}"?)`
    throw new VgerError('VGER_USAGE', `no source labelled "${label}"${hint}`)
  }
  return sources.filter((s) => labels.includes(s.label))
}

export async function backup(ctx: CliContext, paths: string[], flags: BackupFlags): Promise<ExitCode> {
  const run = await runBackups(ctx, backupSources(ctx, paths, flags), flags)
  ctx.out.result({ snapshots: run.saved, errors: run.failures })
  return backupExitCode(run)
}

export function backupExitCode(run: BackupRun): ExitCode {
  if (run.failures.length > 0) return EXIT.error
  return run.saved.some((s) => s.partial) ? EXIT.partial : EXIT.ok
}

/** Backs up `sources` to every selected repository (a source's `repos` restricts where it goes). */
export async function runBackups(
  ctx: CliContext,
  sources: SourceConfig[],
  flags: Pick<BackupFlags, 'compression' | 'dryRun' | 'host' | 'time' | 'tag' | 'description'>,
): Promise<BackupRun> {
  const repos = ctx.repositories('all')
  const dryRun = flags.dryRun === true
  // A dry run stores nothing, so it runs no hook: an `after` hook would report a backup that never was.
  const hooked: typeof withHooks = dryRun ? (_ctx, _scope, fn) => fn() : withHooks
  const hostname = flags.host ?? ctx.hostname()
  const username = ctx.username()
  const saved: Saved[] = []
  const failures: Failure[] = []
  const runnable = sources.filter((s) => s.paths.length > 0 || s.commandDumps.length > 0 || s.stdin !== undefined)
  const goesTo = (source: SourceConfig, repo: RepositoryConfig): boolean =>
    source.repos === undefined || (repo.label !== undefined && source.repos.includes(repo.label))

  const run = await ctx.eachRepository(repos, async (repo) => {
    const mine = runnable.filter((s) => goesTo(s, repo))
    if (mine.length === 0) return
    // The repository's backup hooks see a source that failed (while the others went on) as a failure.
    const mineFailed = (): Failure | undefined => failures.find((f) => f.repository === repo.name)
    await hooked(
      ctx,
      { command: 'backup', repo },
      () => backupTo(repo, mine),
      () => {
        const f = mineFailed()
        return f === undefined ? undefined : failureError(f)
      },
    )
  })
  failures.push(...run.failures)
  return { saved, failures }

  async function backupTo(repo: RepositoryConfig, mine: SourceConfig[]): Promise<void> {
    const repository = await ctx.open(repo)
    for (const source of mine) {
      ctx.throwIfAborted()
      const title = repos.length > 1 ? `${source.label} → ${repo.name}` : source.label
      try {
        await hooked(ctx, { command: 'backup', repo, source }, async () => {
          const progress = progressDisplay(ctx.out, `backup ${title}`, { repository: repo.name, source: source.label })
          const outcome = await repository
            .backup({
              paths: source.paths,
              label: source.label,
              exclude: source.exclude,
              excludeIfPresent: source.excludeIfPresent,
              oneFileSystem: source.oneFileSystem,
              gitIgnore: source.gitIgnore,
              xattrs: source.xattrs,
              iexclude: source.iexclude,
              excludeCaches: source.excludeCaches,
              ...(source.excludeLargerThan === undefined ? {} : { excludeLargerThan: source.excludeLargerThan }),
              hostname,
              username,
              compression: flags.compression ?? repo.compression.algorithm,
              zstdLevel: repo.compression.zstdLevel,
              cacheDir: ctx.config().cacheDir,
              streams: streamsOf(ctx, repo, source),
              ...jobLimits(repo.limits),
              dryRun,
              ...(flags.time === undefined ? {} : { timeMs: flags.time }),
              ...(flags.tag === undefined ? {} : { tags: flags.tag }),
              ...(flags.description === undefined ? {} : { description: flags.description }),
              signal: ctx.signal,
              onProgress: progress.onProgress,
            })
            .finally(() => progress.finish())
          saved.push({ repository: repo.name, source: source.label, ...outcome })
          report(ctx, repo.name, source.label, outcome, dryRun)
        })
      } catch (e) {
        if (ctx.signal.aborted || mine.length === 1) throw e
        failures.push(ctx.fail(e, repo.name, source.label))
      }
    }
  }
}

function report(ctx: CliContext, repository: string, source: string, o: BackupOutcome, dryRun: boolean): void {
  const s = o.stats
  const entries = [formatCount(s.files, 'file'), formatCount(s.dirs, 'dir')]
  if (s.symlinks > 0) entries.push(formatCount(s.symlinks, 'symlink'))
  if (s.others > 0) entries.push(formatCount(s.others, 'other'))
  if (dryRun) {
    ctx.out.line(
      `Dry run of "${source}" to "${repository}": ${entries.join(', ')}, ${formatBytes(s.bytes)}; ` +
        `would add ${formatCount(s.newChunks, 'chunk')}, ${formatBytes(s.newBytes)} before compression (nothing was stored)`,
    )
  } else {
    ctx.out.line(
      `Snapshot ${shortId(o.snapshotId)} of "${source}" saved to "${repository}": ${entries.join(', ')}, ` +
        `${formatBytes(s.bytes)} (${formatBytes(s.newBytes)} new, ${formatBytes(s.storedBytes)} stored) ` +
        `in ${formatDuration(o.durationMs)}`,
    )
  }
  const c = o.changes
  const added = dryRun ? `${formatBytes(s.newBytes)} would be added` : `${formatBytes(s.storedBytes)} added to the repository`
  ctx.out.line(`  files: ${c.new} new, ${c.changed} changed, ${c.unmodified} unmodified; ${added}`)
  if (!o.partial && o.warnings.length === 0) return
  // Warnings go to stderr in every mode; in --json mode they are also in the result.
  for (const w of o.warnings) ctx.out.warn(`${displayPath(w.path)}: ${displayPath(w.message)} [${w.code}]`)
  if (o.warningsOmitted > 0) ctx.out.warn(`${o.warningsOmitted} more warnings not shown`)
  if (o.partial && !dryRun) {
    ctx.out.warn(`snapshot ${shortId(o.snapshotId)} is partial: ${formatCount(s.skipped, 'entry', 'entries')} skipped`)
  }
}
