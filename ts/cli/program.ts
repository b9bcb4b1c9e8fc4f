/**
 * Runs the CLI: parses the command line (the tree is in tree.ts), builds the context, maps errors to exit
 * codes. Never throws.
 */
import { readFileSync } from 'node:fs'
import { type Command, CommanderError } from 'commander'
import { VgerError, isVgerError } from '../errors.js'
import { CliContext, type CliIo, type GlobalOptions, type Secrets } from './context.js'
import { Output } from './output.js'
import { type Action, buildProgram } from './tree.js'

export const EXIT = { ok: 0, error: 1, usage: 2, partial: 3, interrupted: 130 } as const

export function packageVersion(): string {
  // ../../package.json from both ts/cli/ and dist/cli/.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }
  return pkg.version ?? '0.0.0'
}

export function exitCodeFor(e: VgerError): number {
  if (e.code === 'VGER_USAGE') return EXIT.usage
  if (e.code === 'VGER_CANCELLED') return EXIT.interrupted
  return EXIT.error
}

/** Runs the CLI; resolves to the process exit code. Never throws. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  // Read once and hide from child processes (passcommand, later hooks).
  const secrets: Secrets = { passphrase: io.env.VGER_PASSPHRASE, newPassphrase: io.env.VGER_NEW_PASSPHRASE }
  delete io.env.VGER_PASSPHRASE
  delete io.env.VGER_NEW_PASSPHRASE

  let exitCode: number = EXIT.ok
  const program = buildProgram(io, async (cmd, action) => {
    exitCode = await execute(io, cmd, secrets, action)
  })
  try {
    await program.parseAsync(argv)
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return EXIT.ok
      // Help shown because a command is missing (`vger`, `vger snapshot`): say so after the help.
      if (e.code === 'commander.help') io.stderr.write(usageError('a command is required'))
      return EXIT.usage
    }
    const out = new Output(io.stdout, io.stderr, { json: false, quiet: false, verbose: 1 })
    return exitCodeFor(out.error(e))
  }
  return exitCode
}

async function execute(io: CliIo, cmd: Command, secrets: Secrets, action: Action): Promise<number> {
  const ctx = new CliContext(io, globalOptions(cmd), secrets)
  try {
    const code = await action(ctx)
    ctx.throwIfAborted()
    return code
  } catch (e) {
    const interrupted = io.signal.aborted && !isVgerError(e, 'VGER_CANCELLED')
    const err = interrupted ? new VgerError('VGER_CANCELLED', 'interrupted', { cause: e }) : e
    return exitCodeFor(ctx.out.error(err))
  }
}

function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals<Partial<GlobalOptions>>()
  return {
    config: o.config,
    repo: o.repo,
    source: o.source ?? [],
    json: o.json === true,
    verbose: o.verbose ?? 0,
    quiet: o.quiet === true,
    ...(o.lockWait === undefined ? {} : { lockWait: o.lockWait }),
  }
}

export function usageError(text: string): string {
  const message = text.replace(/^error: /, '').trim().replaceAll('\n', ' ')
  return `vger: error[VGER_USAGE]: ${message} (see --help)\n`
}

