/**
 * Where config files and the default repository live.
 *
 * Search order: `--config`, `$VGER_CONFIG`, `./vger.yaml`, `$XDG_CONFIG_HOME/vger/config.yaml`
 * (or `~/.config/vger/config.yaml`), `/etc/vger/config.yaml`. The first two must exist when given.
 */
import { existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Env } from './interpolate.js'
import { ConfigError } from './problems.js'

export type ConfigOrigin = 'flag' | 'env' | 'project' | 'user' | 'system'

export interface FoundConfig {
  file: string
  origin: ConfigOrigin
}

export interface Locations {
  env: Env
  cwd: string
  home: string
  /** Default '/etc'. */
  systemDir?: string
}

export function defaultLocations(env: Env = process.env): Locations {
  return { env, cwd: process.cwd(), home: env.HOME ?? os.homedir() }
}

/** `~` and `~/x` → the home directory. */
export function expandHome(p: string, home: string): string {
  if (p === '~') return home
  return p.startsWith('~/') ? path.join(home, p.slice(2)) : p
}

function xdgDir(env: Env, name: 'XDG_CONFIG_HOME' | 'XDG_DATA_HOME', home: string, fallback: string): string {
  const dir = env[name]
  // The XDG spec says relative values are invalid and must be ignored.
  return dir !== undefined && path.isAbsolute(dir) ? dir : path.join(home, fallback)
}

export function candidateFiles(loc: Locations): FoundConfig[] {
  return [
    { file: path.join(loc.cwd, 'vger.yaml'), origin: 'project' },
    { file: path.join(xdgDir(loc.env, 'XDG_CONFIG_HOME', loc.home, '.config'), 'vger', 'config.yaml'), origin: 'user' },
    { file: path.join(loc.systemDir ?? '/etc', 'vger', 'config.yaml'), origin: 'system' },
  ]
}

/** The config file to use, or null when there is none (the embedded default then applies). */
export function findConfigFile(flag: string | undefined, loc: Locations, exists = existsSync): FoundConfig | null {
  const explicit: [string | undefined, ConfigOrigin, string][] = [
    [flag, 'flag', '--config'],
    [loc.env.VGER_CONFIG, 'env', 'VGER_CONFIG'],
  ]
  for (const [given, origin, what] of explicit) {
    if (given === undefined || given === '') continue
    const file = path.resolve(loc.cwd, expandHome(given, loc.home))
    if (!exists(file)) {
      throw new ConfigError(`config file ${file} (from ${what}) does not exist; check the path or remove ${what}`)
    }
    return { file, origin }
  }
  return candidateFiles(loc).find((c) => exists(c.file)) ?? null
}

/** `$XDG_DATA_HOME/vger` or `~/.local/share/vger`: vger's data directory on this machine. */
export function dataDir(loc: Pick<Locations, 'env' | 'home'>): string {
  return path.join(xdgDir(loc.env, 'XDG_DATA_HOME', loc.home, path.join('.local', 'share')), 'vger')
}

/** `<data dir>/repo`: the repository of the embedded default config. */
export function defaultRepositoryPath(loc: Pick<Locations, 'env' | 'home'>): string {
  return path.join(dataDir(loc), 'repo')
}

/** `<data dir>/known-repositories.json`: the id and encryption seen at each repository URL (ts/known-repos.ts). */
export function knownRepositoriesFile(loc: Pick<Locations, 'env' | 'home'>): string {
  return path.join(dataDir(loc), 'known-repositories.json')
}
