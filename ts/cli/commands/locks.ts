/**
 * `vger locks` lists the lock objects of every selected repository; `vger break-lock [--dry-run]` removes
 * them all. Only for locks left by processes that are gone: a live lock protects a running job.
 */
import type { LockInfo } from '../../native-types.js'
import type { CliContext } from '../context.js'
import { formatCount, formatTable, formatTime } from '../output.js'

export function renderLocks(locks: LockInfo[]): string {
  if (locks.length === 0) return 'No locks.'
  const rows = locks.map((l) => [
    l.key.replace(/^locks\//, '').slice(0, 12),
    l.kind,
    l.live ? 'live' : 'stale',
    l.operation,
    `${l.hostname}:${l.pid}`,
    formatTime(l.created),
    formatTime(l.expires),
  ])
  return formatTable(['Lock', 'Kind', 'State', 'Operation', 'Host:PID', 'Created', 'Expires'], rows)
}

export async function locks(ctx: CliContext): Promise<number> {
  const repos = ctx.repositories('all')
  const { results, failures } = await ctx.eachRepository(repos, async (repo) => {
    const repository = await ctx.open(repo)
    const list = await repository.locks()
    if (repos.length > 1) ctx.out.line(`Repository "${repo.name}" (${repo.url})`)
    ctx.out.line(renderLocks(list))
    return list
  })
  ctx.out.result({ repositories: results.map(({ repo, value }) => ({ repository: repo.name, locks: value })), errors: failures })
  return failures.length > 0 ? 1 : 0
}

export async function breakLock(ctx: CliContext, flags: { dryRun?: boolean }): Promise<number> {
  const repos = ctx.repositories('all')
  const { results, failures } = await ctx.eachRepository(repos, async (repo) => {
    const repository = await ctx.open(repo)
    const list = await repository.locks()
    if (list.length > 0) ctx.out.line(renderLocks(list))
    if (flags.dryRun === true) {
      ctx.out.line(`Dry run: would remove ${formatCount(list.length, 'lock')} from "${repo.name}"; nothing changed.`)
      return { locks: list, removed: 0, applied: false }
    }
    const live = list.filter((l) => l.live)
    if (live.length > 0) ctx.out.warn(`removing ${formatCount(live.length, 'live lock')}: make sure no vger process is still using "${repo.name}"`)
    const removed = await repository.breakLock()
    ctx.out.line(`Removed ${formatCount(removed, 'lock')} from "${repo.name}".`)
    return { locks: list, removed, applied: true }
  })
  ctx.out.result({ repositories: results.map(({ repo, value }) => ({ repository: repo.name, ...value })), errors: failures })
  return failures.length > 0 ? 1 : 0
}
