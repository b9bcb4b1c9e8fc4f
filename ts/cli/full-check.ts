/**
 * `check.full_every`: the full cycle's check reads and authenticates every blob (`--verify-data`) when the
 * last full check of that repository is older than the interval, or when none is recorded.
 *
 * The time of the last successful full check (of the cycle or of `vger check --verify-data`) is kept per
 * repository id in the cache dir, `checks/<id>.json`. Losing the record (`rm -r` of the cache) only brings
 * the next full check forward; a record that cannot be read counts as none. Failing to write it never
 * fails the check: the caller gets the reason as a warning.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'

/** A repository id as the engine writes it (hex). Anything else is never used in a file name. */
const ID = /^[0-9a-f]{16,128}$/

export function fullCheckFile(cacheDir: string, repositoryId: string): string | undefined {
  return ID.test(repositoryId) ? path.join(cacheDir, 'checks', `${repositoryId}.json`) : undefined
}

/** When the last successful full check of the repository ended, if recorded. */
export function lastFullCheck(cacheDir: string, repositoryId: string): Date | undefined {
  const file = fullCheckFile(cacheDir, repositoryId)
  if (file === undefined) return undefined
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as { lastFullCheck?: unknown }
    const when = typeof data.lastFullCheck === 'string' ? new Date(data.lastFullCheck) : undefined
    return when !== undefined && !Number.isNaN(when.getTime()) ? when : undefined
  } catch {
    return undefined
  }
}

/** Records a successful full check; returns a warning when the record cannot be written. */
export function recordFullCheck(cacheDir: string, repositoryId: string, when: Date): string | undefined {
  const file = fullCheckFile(cacheDir, repositoryId)
  if (file === undefined) return `the full check was not recorded: the repository id ${JSON.stringify(repositoryId)} is not hexadecimal`
  const tmp = `${file}.tmp.${randomBytes(6).toString('hex')}`
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
    writeFileSync(tmp, `${JSON.stringify({ lastFullCheck: when.toISOString() })}\n`, { mode: 0o600 })
    renameSync(tmp, file)
    return undefined
  } catch (e) {
    return `could not record the full check in ${file}: ${e instanceof Error ? e.message : String(e)}`
  } finally {
    try {
      rmSync(tmp, { force: true })
    } catch {
      // The directory itself could not be made: there is no temporary file.
    }
  }
}

/**
 * Whether the cycle's check must be a full one: `everySecs` set, and no full check recorded or the last
 * one at least that long ago (a record in the future, from a clock that was wrong, counts as due).
 */
export function fullCheckDue(everySecs: number | undefined, last: Date | undefined, now: Date): boolean {
  if (everySecs === undefined) return false
  if (last === undefined) return true
  const age = now.getTime() - last.getTime()
  return age < 0 || age >= everySecs * 1000
}
