/**
 * Runs the CLI: parses the command line (declared in command-line.ts), builds the context, maps errors to
 * exit codes. Never throws.
 */
import { type Command, CommanderError } from 'commander'
import { didYouMean } from '../config/problems.js'
import { VgerError, isVgerError } from '../errors.js'
import { type Action, buildProgram, usageError } from './command-line.js'
import { CliContext, type CliIo, type GlobalOptions, type Secrets } from './context.js'
import { EXIT, type ExitCode, exitCodeFor } from './exit.js'
import { Output } from './output.js'

/** Runs the CLI; resolves to the process exit code. Never throws. */
export async function run(argv: string[], io: CliIo): Promise<ExitCode> {
  // Read once and hide from child processes (passcommand, later hooks).
  const secrets: Secrets = { passphrase: io.env.VGER_PASSPHRASE, newPassphrase: io.env.VGER_NEW_PASSPHRASE }
  delete io.env.VGER_PASSPHRASE
  delete io.env.VGER_NEW_PASSPHRASE

  let exitCode: ExitCode = EXIT.ok
  const program = buildProgram(io, async (cmd, action) => {
    exitCode = await execute(io, cmd, secrets, action)
  })
  try {
    await program.parseAsync(argv)
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return EXIT.ok
      // Help shown because a command is missing (`vger`, `vger snapshot`): say so after the help.
      if (e.code === 'commander.help') io.stderr.write(usageError(missingCommand(program, argv.slice(2))))
      return EXIT.usage
    }
    const out = new Output(io.stdout, io.stderr, { json: false, quiet: false, verbose: 1 })
    return exitCodeFor(out.error(e))
  }
  return exitCode
}

/** Why help was shown with an error: no command, or `vger help NAME` naming no command. */
function missingCommand(program: Command, args: string[]): string {
  const i = args.indexOf('help')
  const asked = i >= 0 ? args[i + 1] : undefined
  if (asked === undefined) return 'a command is required'
  const names = program.commands.map((c) => c.name())
  const guess = didYouMean(asked, names)
  return `unknown command '${asked}' (${guess === undefined ? `commands: ${names.join(', ')}` : `did you mean '${guess}'?`})`
}

async function execute(io: CliIo, cmd: Command, secrets: Secrets, action: Action): Promise<ExitCode> {
  const ctx = new CliContext(io, globalOptions(cmd), secrets)
  try {
    const code = await action(ctx)
    if (!ctx.stoppedOnSignal) ctx.throwIfAborted()
    return code
  } catch (e) {
    const interrupted = io.signal.aborted && !isVgerError(e, 'VGER_CANCELLED')
    const err = interrupted ? new VgerError('VGER_CANCELLED', 'interrupted', { cause: e }) : e
    return exitCodeFor(ctx.out.error(err))
  } finally {
    ctx.settle()
  }
}

function globalOptions(cmd: Command): GlobalOptions {
  // commander stores `--no-lock` as `lock: false`.
  const o = cmd.optsWithGlobals<Partial<GlobalOptions> & { lock?: boolean }>()
  return {
    config: o.config,
    repo: o.repo,
    source: o.source ?? [],
    json: o.json === true,
    verbose: o.verbose ?? 0,
    quiet: o.quiet === true,
    ...(o.lockWait === undefined ? {} : { lockWait: o.lockWait }),
    ...(o.lock === false ? { noLock: true } : {}),
    ...(o.trustRepo === true ? { trustRepo: true } : {}),
  }
}
