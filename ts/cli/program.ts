/**
 * The commander tree. Command modules (and through them the native addon) are imported only when their
 * command runs, so `vger --version` and `vger --help` stay fast and work without the addon.
 */
import { readFileSync } from 'node:fs'
import { Command, CommanderError, Option } from 'commander'
import { VgerError, isVgerError } from '../errors.js'
import { COMPRESSION_ALGORITHMS } from '../config/schema.js'
import { CliContext, type CliIo, type GlobalOptions } from './context.js'
import { Output } from './output.js'

export const EXIT = { ok: 0, error: 1, usage: 2, partial: 3, interrupted: 130 } as const

type Action = (ctx: CliContext) => Promise<number>

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
  const envPassphrase = io.env.VGER_PASSPHRASE
  delete io.env.VGER_PASSPHRASE

  let exitCode: number = EXIT.ok
  const program = buildProgram(io, async (cmd, action) => {
    exitCode = await execute(io, cmd, envPassphrase, action)
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

async function execute(io: CliIo, cmd: Command, envPassphrase: string | undefined, action: Action): Promise<number> {
  const ctx = new CliContext(io, globalOptions(cmd), envPassphrase)
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
  return { config: o.config, repo: o.repo, json: o.json === true, verbose: o.verbose ?? 0, quiet: o.quiet === true }
}

function usageError(text: string): string {
  const message = text.replace(/^error: /, '').trim().replaceAll('\n', ' ')
  return `vger: error[VGER_USAGE]: ${message} (see --help)\n`
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

type Runner = (cmd: Command, action: Action) => Promise<void>

export function buildProgram(io: CliIo, runAction: Runner): Command {
  const program = new Command('vger')
  // Inherited by every subcommand created below.
  program
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(usageError(s)),
    })
    .showSuggestionAfterError()

  program
    .description('Fast, encrypted, deduplicating backups')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option(
      '-c, --config <path>',
      'config file (default: $VGER_CONFIG, ./vger.yaml, ~/.config/vger/config.yaml, /etc/vger/config.yaml)',
    )
    .option('-R, --repo <label|url>', 'repository label or URL (default: every configured repository)')
    .option('--json', 'print the result as JSON on stdout, progress as JSON lines on stderr')
    .option('-v, --verbose', 'more detail (stack traces on errors); repeatable', (_: string, n: number) => n + 1, 0)
    .option('-q, --quiet', 'no progress or status messages')

  program
    .command('init')
    .description('create the repository (every configured one, or the one chosen with -R)')
    .action(async (_opts, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/init.js')).init(ctx))
    })

  program
    .command('backup')
    .description('back up the configured sources (one snapshot each), or PATHS as one snapshot')
    .argument('[paths...]', 'files or directories to back up instead of the configured sources')
    .option('-l, --label <label>', 'snapshot label for PATHS (default: the directory name, or "default")')
    .option('-e, --exclude <pattern>', 'gitignore-style pattern to skip (repeatable)', collect, [])
    .addOption(new Option('--compression <algorithm>', 'override the configured compression').choices(COMPRESSION_ALGORITHMS))
    .action(async (paths: string[], opts, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/backup.js')).backup(ctx, paths, opts))
    })

  program
    .command('list')
    .description('list snapshots')
    .action(async (_opts, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/list.js')).list(ctx))
    })

  const snapshot = program.command('snapshot').description('work with one snapshot')
  snapshot
    .command('list')
    .description('list the files in a snapshot')
    .argument('<snapshot>', 'snapshot id (or a unique prefix), or "latest"')
    .option('-p, --path <subtree>', 'only this subtree')
    .action(async (id: string, opts: { path?: string }, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/snapshot-list.js')).snapshotList(ctx, id, opts))
    })

  program
    .command('restore')
    .description('restore a snapshot into an empty or new directory')
    .argument('<snapshot>', 'snapshot id (or a unique prefix), or "latest"')
    .argument('<dest>', 'destination directory (must be empty or not exist)')
    .option('--pattern <glob>', 'restore only paths matching this glob (* may cross /)')
    .action(async (id: string, dest: string, opts: { pattern?: string }, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/restore.js')).restore(ctx, id, dest, opts))
    })

  return program
}
