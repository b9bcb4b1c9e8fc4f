/**
 * Errors with a stable code.
 *
 * Native rejections arrive as `Error("VGER_SOME_CODE: human text")` (docs/binding.md); `fromNativeError`
 * splits them into a `VgerError` whose `code` is the stable part and whose `message` is the text alone.
 * Codes raised by the TypeScript layer itself are listed in `TsErrorCode`.
 */

/** Codes raised by the TypeScript layer (config, passphrase, CLI). */
export type TsErrorCode =
  | 'VGER_CONFIG' // the config file is missing, unreadable or invalid
  | 'VGER_USAGE' // the command line is inconsistent (exit code 2)
  | 'VGER_PASSPHRASE_REQUIRED' // an encrypted repository and no way to get a passphrase (native uses it too)
  | 'VGER_PASSPHRASE_MISMATCH' // the two passphrases typed at `vger init` differ
  | 'VGER_PASSCOMMAND_FAILED' // encryption.passcommand failed, timed out or printed nothing
  | 'VGER_CANCELLED' // aborted through an AbortSignal / SIGINT (exit code 130; native uses it too)
  | 'VGER_NATIVE_UNAVAILABLE' // the native addon is not built or cannot load
  | 'VGER_RESTORE_INCOMPLETE' // restore finished but some files could not be written
  | 'VGER_NOT_AVAILABLE' // the loaded native addon does not have this feature yet
  | 'VGER_CHECK_FAILED' // vger check found problems (they are listed before this error; exit code 1)
  | 'VGER_REPO_CHANGED' // the URL holds another repository than this machine used there, or an unencrypted one
  | 'VGER_INTERNAL' // anything that did not carry a code

/** Codes of the native engine (vger-types `ErrorCode`); new ones still arrive as plain strings. */
export type NativeErrorCode =
  | 'VGER_IO'
  | 'VGER_NO_SPACE'
  | 'VGER_REPO_NOT_FOUND'
  | 'VGER_REPO_EXISTS'
  | 'VGER_WRONG_PASSPHRASE'
  | 'VGER_PASSPHRASE_REQUIRED'
  | 'VGER_CORRUPT'
  | 'VGER_NEWER_FORMAT'
  | 'VGER_OBJECT_MISSING'
  | 'VGER_ALREADY_EXISTS'
  | 'VGER_INVALID_ARGUMENT'
  | 'VGER_UNSUPPORTED_BACKEND'
  | 'VGER_SNAPSHOT_NOT_FOUND'
  | 'VGER_SNAPSHOT_AMBIGUOUS'
  | 'VGER_DEST_NOT_EMPTY'
  | 'VGER_UNSAFE_PATH'
  | 'VGER_SOURCE_NOT_FOUND'
  | 'VGER_LOCKED'
  | 'VGER_LOCK_LOST'
  | 'VGER_CANCELLED'

/** Any error code; the known ones autocomplete, unknown native codes are still plain strings. */
export type ErrorCode = TsErrorCode | NativeErrorCode | (string & {})

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

const NATIVE_MESSAGE = /^(VGER_[A-Z0-9_]+): ([\s\S]*)$/

/** Turns whatever a native call threw into a `VgerError` (idempotent). */
export function fromNativeError(e: unknown): VgerError {
  if (e instanceof VgerError) return e
  const message = e instanceof Error ? e.message : String(e)
  const match = NATIVE_MESSAGE.exec(message)
  if (match?.[1] !== undefined && match[2] !== undefined) {
    return new VgerError(match[1], match[2], { cause: e })
  }
  return new VgerError('VGER_INTERNAL', message === '' ? 'unknown error' : message, { cause: e })
}
