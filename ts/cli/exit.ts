/** The process exit codes of `vger`, named where each is decided (docs/errors.md lists them). */
import type { VgerError } from '../errors.js'

export const EXIT = {
  ok: 0,
  /** Any error, including `check` finding problems and a run in which a source or repository failed. */
  error: 1,
  /** VGER_USAGE: an inconsistent command line, or an unconfirmed `vger delete`. */
  usage: 2,
  /** `vger backup` saved every snapshot, but at least one is partial (entries skipped with warnings). */
  partial: 3,
  /** VGER_CANCELLED: Ctrl-C, SIGTERM. */
  interrupted: 130,
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

export function exitCodeFor(e: VgerError): ExitCode {
  if (e.code === 'VGER_USAGE') return EXIT.usage
  if (e.code === 'VGER_CANCELLED') return EXIT.interrupted
  return EXIT.error
}

/** `error` when any repository (or source) failed, else `ok`. */
export function exitFor(failures: readonly unknown[]): ExitCode {
  return failures.length > 0 ? EXIT.error : EXIT.ok
}
