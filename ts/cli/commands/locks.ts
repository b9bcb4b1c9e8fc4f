/**
 * `vger locks` lists the lock objects of every selected repository; `vger break-lock [--dry-run]` removes
 * them all. break-lock needs no passphrase: it lists the locks first when the repository opens without a
 * prompt (unencrypted, or a passphrase from the config or VGER_PASSPHRASE), else it only counts them.
 * Only for locks left by processes that are gone: a live lock protects a running job.
 */
import type { RepositoryConfig } from '../../config/types.js'
import type { LockInfo } from '../../repository.js'
import { Repository } from '../../repository.js'
import type { CliContext } from '../context.js'
import { formatCount, formatTable, formatTime } from '../output.js'
import { exitFor, type ExitCode } from '../exit.js'

export function renderLocks(locks: LockInfo[]): string {
  if (locks.length === 0) return 'No locks.'
  const rows = locks.map((l) => [
    l.key.replace(/^locks\//, '').slice(0, 12),
    l.kind,
    l.live ? 'live' : 'stale',
    l.process,
    l.operation,
    `${l.hostname}:${l.pid}`,
    formatTime(l.created),
    formatTime(l.expires),
  ])
  return formatTable(['Lock', 'Kind', 'State', 'Process', 'Operation', 'Host:PID', 'Created', 'Expires'], rows)
}

export async function locks(ctx: CliContext): Promise<ExitCode> {
  const repos = ctx.repositories('all')
  const { results, failures } = await ctx.eachRepository(repos, async (repo) => {
    const repository = await ctx.open(repo)
    const list = await repository.locks()
    if (repos.length > 1) ctx.out.line(`Repository "${repo.name}" (${repo.url})`)
    ctx.out.line(renderLocks(list))
    return list
  })
  ctx.out.result({ repositories: results.map(({ repo, value }) => ({ repository: repo.name, locks: value })), errors: failures })
  return exitFor(failures)
}

/** The locks, when the repository opens without asking for anything; null otherwise (said on stderr). */
async function listQuietly(ctx: CliContext, repo: RepositoryConfig): Promise<LockInfo[] | null> {
  const info = await ctx.probe(repo)
  const configured = repo.encryption.passphrase !== undefined || ctx.secrets.passphrase !== undefined
  if (info.encryption !== 'none' && !configured) {
    ctx.out.info(`repository "${repo.name}": no passphrase given, so the locks are only counted (vger locks lists them)`)
    return null
  }
  try {
    return await (await ctx.open(repo)).locks()
  } catch (e) {
    ctx.out.info(`repository "${repo.name}": cannot list the locks (${e instanceof Error ? e.message : String(e)}); they are only counted`)
    return null
  }
}

export async function breakLock(ctx: CliContext, flags: { dryRun?: boolean }): Promise<ExitCode> {
  const repos = ctx.repositories('all')
  const { results, failures } = await ctx.eachRepository(repos, async (repo) => {
    if (flags.dryRun === true) {
      // A plan needs the list, so a dry run opens the repository like vger locks.
      const list = await (await ctx.open(repo)).locks()
      if (list.length > 0) ctx.out.line(renderLocks(list))
      ctx.out.line(`Dry run: would remove ${formatCount(list.length, 'lock')} from "${repo.name}"; nothing changed.`)
      return { locks: list, removed: 0, applied: false }
    }
    const list = await listQuietly(ctx, repo)
    if (list !== null && list.length > 0) ctx.out.line(renderLocks(list))
    const live = list?.filter((l) => l.live && l.process !== 'dead') ?? []
    if (live.length > 0)
      ctx.out.warn(`removing ${formatCount(live.length, 'live lock')}: make sure no vger process is still using "${repo.name}"`)
    const removed = await Repository.breakLocks(repo.url, ctx.backendSettings(repo))
    ctx.out.line(`Removed ${formatCount(removed, 'lock')} from "${repo.name}".`)
    return { ...(list === null ? {} : { locks: list }), removed, applied: true }
  })
  ctx.out.result({ repositories: results.map(({ repo, value }) => ({ repository: repo.name, ...value })), errors: failures })
  return exitFor(failures)
}
