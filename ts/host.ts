/** Who and where a snapshot is taken: short hostname and user name, as recorded in snapshots. */
import os from 'node:os'

/** The configured hostname, or the machine's name up to the first dot. */
export function shortHostname(configured?: string): string {
  const name = configured ?? os.hostname()
  const short = name.split('.')[0] ?? ''
  return short === '' ? 'localhost' : short
}

/** The current user's name; falls back to $USER or the numeric uid when there is no passwd entry. */
export function currentUsername(env: NodeJS.ProcessEnv = process.env): string {
  try {
    return os.userInfo().username
  } catch {
    return env.USER ?? env.LOGNAME ?? String(process.getuid?.() ?? 'unknown')
  }
}
