/**
 * What to tell someone whose native engine did not load (`VGER_NATIVE_UNAVAILABLE`).
 *
 * Three situations, three next steps: a supported platform whose prebuilt package is missing (reinstall,
 * without `--omit=optional`), a platform without a prebuilt package (build from source), and a git
 * checkout where the addon has not been built yet (`npm run build:native`). docs/platforms.md lists the
 * platforms.
 */
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The napi-rs platform names that have a prebuilt `vger-<name>` package (package.json `optionalDependencies`). */
export const PREBUILT_PLATFORMS = [
  'linux-x64-gnu',
  'linux-x64-musl',
  'linux-arm64-gnu',
  'linux-arm64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
] as const

export interface HostPlatform {
  platform: string
  arch: string
  /** Linux only: true on musl (Alpine), false on glibc. */
  musl: boolean
}

/** The napi-rs name of a platform, e.g. `linux-x64-gnu` or `darwin-arm64`. */
export function platformName(host: HostPlatform): string {
  if (host.platform === 'linux') return `${host.platform}-${host.arch}-${host.musl ? 'musl' : 'gnu'}`
  if (host.platform === 'win32') return `${host.platform}-${host.arch}-msvc`
  return `${host.platform}-${host.arch}`
}

/** This process's platform (musl detected the way the napi-rs loader does it: from the libc report). */
export function currentPlatform(): HostPlatform {
  let musl = false
  if (process.platform === 'linux') {
    try {
      musl = readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
    } catch {
      const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header
      musl = header?.glibcVersionRuntime === undefined
    }
  }
  return { platform: process.platform, arch: process.arch, musl }
}

/** True when vger runs from a git checkout (the Rust sources sit next to the loader), not from an npm install. */
export function runningFromCheckout(): boolean {
  try {
    return existsSync(fileURLToPath(new URL('../crates/vger-napi/Cargo.toml', import.meta.url)))
  } catch {
    return false // a bundle (the standalone executable) has no file URL of its own
  }
}

/**
 * What went wrong, in one line. The napi-rs loader's "Cannot find native binding" text advises deleting
 * package-lock.json, which is wrong for an installed CLI; it means that neither the addon file next to the
 * loader nor the platform package was found.
 */
export function loadFailureDetail(e: unknown): string {
  const first = e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e)
  if (first.startsWith('Cannot find native binding')) return 'no engine for this platform is installed'
  return first
}

/** The message of `VGER_NATIVE_UNAVAILABLE`: what failed and the next step for this situation. */
export function nativeUnavailableMessage(detail: string, host: HostPlatform, fromCheckout: boolean): string {
  const name = platformName(host)
  const what = `the native engine could not be loaded (${detail})`
  if (fromCheckout) {
    return `${what}; this is a git checkout: build the engine with "npm run build:native" (needs Rust, see README.md)`
  }
  if ((PREBUILT_PLATFORMS as readonly string[]).includes(name)) {
    return (
      `${what}; the prebuilt engine for ${name} is the package "vger-${name}", which npm installs as an optional ` +
      `dependency: reinstall vger (for example "npm install -g vger") without --omit=optional or --no-optional, ` +
      `or download the standalone executable of the release`
    )
  }
  return (
    `${what}; there is no prebuilt engine for ${name} (prebuilt: ${PREBUILT_PLATFORMS.join(', ')}): ` +
    `build vger from source (git clone, then "npm install && npm run build", needs Rust; see docs/platforms.md)`
  )
}
