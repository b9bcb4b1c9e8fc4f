/**
 * The entry point of the standalone executable (`npm run build:exe`, scripts/build-exe.mjs): a Node.js
 * single executable application whose blob holds this CLI bundled into one CommonJS file and the native
 * addon as the asset `vger.node`.
 *
 * The addon cannot be loaded from memory, so it is written once to a per-user cache file named by its
 * SHA-256 (`$XDG_CACHE_HOME/vger/engine`, `~/Library/Caches/vger/engine`, `%LOCALAPPDATA%\vger\engine`;
 * `VGER_EXE_CACHE` overrides), checked against that hash before every load, and `process.dlopen`ed.
 * A file that does not match (truncated, replaced) is written again.
 */
import { createHash } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import path from 'node:path'
import { getAsset } from 'node:sea'
import { setAddonSource } from '../repository.js'
import { setPackageVersion } from '../version.js'

declare const VGER_VERSION: string

function cacheDir(): string {
  const env = process.env
  if (env.VGER_EXE_CACHE) return env.VGER_EXE_CACHE
  const home = homedir()
  if (process.platform === 'win32') return path.join(env.LOCALAPPDATA ?? path.join(home, 'AppData', 'Local'), 'vger', 'engine')
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Caches', 'vger', 'engine')
  const base = env.XDG_CACHE_HOME ?? (home === '' ? path.join(tmpdir(), `vger-${process.getuid?.() ?? 'user'}`) : path.join(home, '.cache'))
  return path.join(base, 'vger', 'engine')
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')

function readIfSame(file: string, digest: string): boolean {
  try {
    return sha256(readFileSync(file)) === digest
  } catch {
    return false
  }
}

/** The embedded addon as a file on disk: the cached copy when its hash matches, else a fresh one. */
function addonFile(): string {
  const bytes = new Uint8Array(getAsset('vger.node'))
  const digest = sha256(bytes)
  const dir = cacheDir()
  const file = path.join(dir, `vger-${VGER_VERSION}-${digest.slice(0, 16)}.node`)
  if (readIfSame(file, digest)) return file
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const partial = `${file}.${process.pid}.tmp`
  writeFileSync(partial, bytes, { mode: 0o700 })
  chmodSync(partial, 0o700)
  renameSync(partial, file)
  return file
}

function loadEmbeddedAddon(): unknown {
  const module = { exports: {} as unknown }
  process.dlopen(module, addonFile())
  return module.exports
}

setPackageVersion(VGER_VERSION)
setAddonSource(loadEmbeddedAddon)

const args = process.argv.slice(2)
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${VGER_VERSION}\n`)
} else {
  // Node gives a single executable the argv shape of `node main.js ...`: argv[1] is the executable again.
  void import('./start.js').then(({ start }) => start())
}
