/** Whether the native addon has been built (the binding and e2e suites need it). */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const ADDON_LOADER = fileURLToPath(new URL('../../crates/vger-napi/index.cjs', import.meta.url))

export const addonBuilt = existsSync(ADDON_LOADER)

/** Shown in the suite name when it is skipped. */
export const NO_ADDON_REASON = 'native addon not built (run "npm run build:debug" first)'

/** Argon2 parameters small enough for tests (never for real repositories). */
export const FAST_KDF = { memoryKib: 8192, iterations: 1, parallelism: 1 }

export const isRoot = process.getuid?.() === 0
