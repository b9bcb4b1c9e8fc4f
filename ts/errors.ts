/**
 * Errors with a stable code.
 *
 * The native addon rejects with JS errors whose `code` is already the engine's `VGER_*` code (its
 * union type `ErrorCode` is generated from the Rust enum into `crates/vger-napi/index.d.cts`);
 * `asVgerError` only re-wraps them in `VgerError`, it never reads a message. Codes raised by the
 * TypeScript layer itself are listed in `TsErrorCode`.
 */
import type { ErrorCode as NativeErrorCode } from '../crates/vger-napi/index.cjs'

export type { NativeErrorCode }

/** Codes raised by the TypeScript layer (config, passphrase, CLI); docs/errors.md has a row for each. */
export const TS_ERROR_CODES = [
  'VGER_CONFIG', // the config file is missing, unreadable or invalid
  'VGER_USAGE', // the command line is inconsistent (exit code 2)
  'VGER_PASSPHRASE_REQUIRED', // an encrypted repository and no way to get a passphrase (native uses it too)
  'VGER_PASSPHRASE_MISMATCH', // the two passphrases typed at `vger init` differ
  'VGER_PASSCOMMAND_FAILED', // encryption.passcommand failed, timed out or printed nothing
  'VGER_CANCELLED', // aborted through an AbortSignal / SIGINT (exit code 130; native uses it too)
  'VGER_NATIVE_UNAVAILABLE', // the native addon is not built or cannot load
  'VGER_RESTORE_INCOMPLETE', // restore finished but some files could not be written
  'VGER_CHECK_FAILED', // vger check found problems (they are listed before this error; exit code 1)
  'VGER_REPO_CHANGED', // the URL holds another repository than this machine used there, or an unencrypted one
  'VGER_REPO_ROLLED_BACK', // the repository is at an older state than this machine saw it (a rolled-back host)
  'VGER_SERVER_START', // vger server (or vger daemon's status page, or vger mount) cannot listen on its address (in use, not permitted)
  'VGER_HOOK_FAILED', // a `before` hook failed, timed out or could not start: the command did not run there (exit code 1)
  'VGER_DAEMON_RUNNING', // vger daemon is already running for this config (the message names its pid)
  'VGER_INTERNAL', // anything that did not carry a code
] as const

export type TsErrorCode = (typeof TS_ERROR_CODES)[number]

/** Every code vger reports. */
export type ErrorCode = TsErrorCode | NativeErrorCode

export class VgerError extends Error {
  override readonly name = 'VgerError'
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

export function isVgerError(e: unknown, code?: ErrorCode): e is VgerError {
  return e instanceof VgerError && (code === undefined || e.code === code)
}

/**
 * Whatever was thrown, as a `VgerError` (idempotent). An error of the addon keeps its `code`; napi's
 * own argument check (`InvalidArg`, e.g. a word outside a string enum) becomes `VGER_INVALID_ARGUMENT`;
 * anything else is `VGER_INTERNAL` with its message.
 */
export function asVgerError(e: unknown): VgerError {
  if (e instanceof VgerError) return e
  const code = (e as { code?: unknown } | null)?.code
  const message = e instanceof Error ? e.message : String(e)
  if (typeof code === 'string' && code.startsWith('VGER_')) return new VgerError(code as ErrorCode, message, { cause: e })
  if (code === 'InvalidArg') return new VgerError('VGER_INVALID_ARGUMENT', message, { cause: e })
  return new VgerError('VGER_INTERNAL', message === '' ? 'unknown error' : message, { cause: e })
}
