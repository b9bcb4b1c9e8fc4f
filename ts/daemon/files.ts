/**
 * Where a daemon keeps its lock and state: `<cache dir>/daemon/<id>.pid` and `<id>.state.json`, where `<id>`
 * is the first 16 hex digits of the SHA-256 of the config file's absolute path. So one daemon runs per
 * config file, and daemons of different config files do not meet. They stay where they were at start
 * when a reload changes `cache_dir`.
 */
import { createHash } from 'node:crypto'
import path from 'node:path'

export interface DaemonFiles {
  lock: string
  state: string
}

export function daemonFiles(cacheDir: string, configFile: string | null): DaemonFiles {
  const id = createHash('sha256')
    .update(configFile ?? '(built-in config)')
    .digest('hex')
    .slice(0, 16)
  const dir = path.join(cacheDir, 'daemon')
  return { lock: path.join(dir, `${id}.pid`), state: path.join(dir, `${id}.state.json`) }
}
