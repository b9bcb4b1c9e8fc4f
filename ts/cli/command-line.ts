/**
 * The command line: every command and option, declared with commander. Command modules (and through them the native addon) are imported only when their
 * command runs, so `vger --version` and `vger --help` stay fast and work without the addon.
 * docs/commands.md mentions every command and long option here (test/unit/docs.test.ts checks it).
 */
import { Argument, Command, Option } from 'commander'
import { didYouMean } from '../config/problems.js'
import { COMPRESSION_ALGORITHMS, type GroupByKey } from '../config/schema.js'
import { VgerError } from '../errors.js'
import { packageVersion } from '../version.js'
import type { CliContext, CliIo } from './context.js'
import { type Shell, SHELLS, completionScript } from './completion.js'
import { EXIT, type ExitCode } from './exit.js'
import type { CheckFlags } from './commands/check.js'
import type { PruneFlags } from './commands/prune.js'
import type { RestoreFlags } from './commands/restore.js'
import type { ListFlags } from './commands/list.js'
import type { CopyFlags } from './commands/copy.js'
import {
  collect,
  positiveInt,
  size,
  seconds,
  percent,
  subsetPercent,
  when,
  sinceUntil,
  nonEmpty,
  count,
  keepWithin,
  groupBy,
  duration,
  collectTags,
  tagList,
} from './option-parsers.js'
import { SNAPSHOT_ARG, addSnapshotCommands } from './command-line-snapshot.js'

export type Action = (ctx: CliContext) => Promise<ExitCode>
export type Runner = (cmd: Command, action: Action) => Promise<void>

interface PruneCliFlags {
  dryRun?: boolean
  list?: boolean
  force?: boolean
  keepLast?: number
  keepHourly?: number
  keepDaily?: number
  keepWeekly?: number
  keepMonthly?: number
  keepYearly?: number
  keepWithin?: string
  groupBy?: GroupByKey[]
  compact?: boolean
  tag?: string[][]
}

function pruneFlags(o: PruneCliFlags): PruneFlags {
  const { dryRun, list, force, groupBy, compact, tag, ...keep } = o
  const rules = Object.fromEntries(Object.entries(keep).filter(([, v]) => v !== undefined))
  return {
    ...(dryRun === undefined ? {} : { dryRun }),
    ...(list === undefined ? {} : { list }),
    ...(force === undefined ? {} : { force }),
    ...(Object.keys(rules).length > 0 ? { rules } : {}),
    ...(groupBy === undefined ? {} : { groupBy }),
    ...(compact === undefined ? {} : { compact }),
    ...(tag === undefined ? {} : { tag }),
  }
}

export { packageVersion }

/** A usage error line, as commander's own errors are printed. */
export function usageError(text: string): string {
  const message = text
    .replace(/^error: /, '')
    .trim()
    .replaceAll('\n', ' ')
  return `vger: error[VGER_USAGE]: ${message} (see --help)\n`
}

/**
 * Commander's suggestion for an unknown option weighs every long option up the chain by edit distance,
 * so `check --verify` suggested the root's `--version`. Here the command's own options come first, a
 * prefix match wins (`--verify` → `--verify-data`), and root-only flags (`--version`, `--help`) are left out.
 */
class VgerCommand extends Command {
  override createCommand(name?: string): VgerCommand {
    return new VgerCommand(name)
  }

  /** Called by commander for an unknown flag (not in its typings, hence no `override`). */
  unknownOption(flag: string): void {
    const own = this.options.map((o) => o.long).filter((l): l is string => l !== undefined)
    const inherited: string[] = []
    for (let c = this.parent; c !== null; c = c.parent) {
      for (const o of c.options) if (o.long !== undefined && o.long !== '--version') inherited.push(o.long)
    }
    const strip = (f: string): string => f.replace(/^--/, '')
    const name = strip(flag)
    const guess = flag.startsWith('--') ? (didYouMean(name, own.map(strip)) ?? didYouMean(name, inherited.map(strip))) : undefined
    const hint = guess === undefined ? '' : ` (did you mean --${guess}?)`
    this.error(`error: unknown option '${flag}'${hint}`, { code: 'commander.unknownOption' })
  }
}

export function buildProgram(io: CliIo, runAction: Runner): Command {
  const program = new VgerCommand('vger')
  // Inherited by every subcommand created below.
  program
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(usageError(s)),
    })
    .configureHelp({ showGlobalOptions: true })
    .showSuggestionAfterError()

  program
    .description(
      'Fast, encrypted, deduplicating backups.\n\n' +
        'Without a command: the full cycle for every repository (backup of all sources, prune, compact, check).',
    )
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('-c, --config <path>', 'config file (default: $VGER_CONFIG, ./vger.yaml, ~/.config/vger/config.yaml, /etc/vger/config.yaml)')
    .option('-R, --repo <label|url>', 'repository label or URL (default: every configured repository)')
    .option('-S, --source <label>', 'source label: restricts backup, list, find and "latest" (repeatable)', collect)
    .option('--json', 'print the result as JSON on stdout, progress as JSON lines on stderr')
    .option('-v, --verbose', 'more detail (stack traces on errors); repeatable', (_: string, n: number) => n + 1, 0)
    .option('-q, --quiet', 'no progress or status messages')
    .option('--lock-wait <secs>', 'wait this long for a conflicting lock before failing with VGER_LOCKED (default 600)', seconds)
    .option('--no-lock', 'reading commands (restore, check, list, snapshot ...) take no lock; writing commands refuse it')
    .option(
      '--trust-repo',
      'accept a repository that changed identity or was rolled back since this machine last used it, and remember it as it is now',
    )
    .argument('[command]', 'a command (see below); none runs the full cycle')
    // Taken so that an unknown command with arguments is reported as unknown, not as "too many arguments".
    .argument('[args...]')
    .helpCommand('help [command]', 'show the help of a command')
    .usage('[options] [command] [args...]')
    .action(async (command: string | undefined, _args: string[], _opts, cmd: Command) => {
      if (command !== undefined) {
        const names = cmd.commands.map((c) => c.name())
        const guess = didYouMean(command, names)
        const hint = guess === undefined ? `commands: ${names.join(', ')}` : `did you mean '${guess}'?`
        return runAction(cmd, () => {
          throw new VgerError('VGER_USAGE', `unknown command '${command}' (${hint}; see --help)`)
        })
      }
      await runAction(cmd, async (ctx) => (await import('./commands/cycle.js')).cycle(ctx))
    })

  program
    .command('config')
    .description('write a commented starter config file')
    .option('-d, --dest <path>', 'where to write it (default: ./vger.yaml); never overwrites')
    .action(async (opts: { dest?: string }, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/config.js')).writeStarterConfig(ctx, opts))
    })

  program
    .command('init')
    .description('create the repository (every configured one, or the one chosen with -R)')
    .option(
      '--copy-chunker-params-from <repo>',
      'name and cut data as this repository (label or URL) does, so vger copy between them moves only missing data',
    )
    .action(async (opts: { copyChunkerParamsFrom?: string }, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/init.js')).init(ctx, opts))
    })

  program
    .command('backup')
    .description('back up the configured sources (one snapshot each, -S to pick), or PATHS as one snapshot')
    .argument('[paths...]', 'files or directories to back up instead of the configured sources')
    .option('-l, --label <label>', 'snapshot label for PATHS (default: the directory name, or "default")')
    .option('-e, --exclude <pattern>', 'gitignore-style pattern to skip (repeatable)', collect, [])
    .option('--iexclude <pattern>', 'like --exclude, matched without regard to case (repeatable)', collect)
    .option('--exclude-file <file>', 'read --exclude patterns from FILE, one per line (# comments)', collect)
    .option('--iexclude-file <file>', 'read --iexclude patterns from FILE', collect)
    .option('--files-from <file>', 'back up the paths listed in FILE, one per line (# comments), with any PATHS', collect)
    .option('--exclude-larger-than <size>', 'skip regular files larger than SIZE (e.g. 1GiB)', size)
    .option('--exclude-caches', 'skip directories holding a CACHEDIR.TAG with the standard signature')
    .option('--exclude-if-present <name>', 'skip directories holding an entry called NAME (repeatable)', collect)
    .option('-x, --one-file-system', 'do not cross into other filesystems (mount points are kept empty)')
    .option('-n, --dry-run', 'read and chunk as a backup would, and say what it would add; store nothing')
    .option('--host <name>', "the hostname to record (default: the config's hostname, else the machine's)", nonEmpty)
    .option('--time <time>', 'the time to record instead of now ("2026-12-01 10:00", local, or ISO 8601 with a zone)', when)
    .option('--tag <tags>', 'tags for the snapshots, comma-separated (repeatable)', (v: string, p: string[] | undefined) => [
      ...(p ?? []),
      ...tagList(v),
    ])
    .option('--description <text>', 'a description for the snapshots (see vger snapshot info)')
    .addOption(new Option('--compression <algorithm>', 'override the configured compression').choices(COMPRESSION_ALGORITHMS))
    .option('--stdin', 'store standard input as a file (see --stdin-filename) in a snapshot of its own')
    .option('--stdin-from-command', 'run the command given after -- and store its standard output (it must exit 0)')
    .option('--stdin-filename <name>', 'the file name --stdin or --stdin-from-command stores (default "stdin")')
    .action(async (paths: string[], opts, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/backup.js')).backup(ctx, paths, opts))
    })

  program
    .command('list')
    .description('list snapshots (-S to restrict to source labels)')
    .option('--last <n>', 'only the newest N snapshots of each repository (after the other filters)', positiveInt)
    .option('--host <hostname>', 'only snapshots taken on this host')
    .option('--path <path>', 'only snapshots whose source paths include PATH (repeatable: all of them)', collect)
    .option('--since <time>', 'only snapshots at or after TIME: a date ("2026-11-01", "2026-11-01 08:00") or an age (7d, 36h)', sinceUntil)
    .option('--until <time>', 'only snapshots at or before TIME (a date or an age, as --since)', sinceUntil)
    .option('--group-by <keys>', 'show groups by host, label and/or paths (comma-separated; "" for one) with their totals', groupBy)
    .option('--tag <tags>', 'only snapshots with all of these comma-separated tags (repeatable: any of the groups)', collectTags)
    .action(async (opts: ListFlags, cmd: Command) => {
      await runAction(cmd, async (ctx) =>
        (await import('./commands/list.js')).list(ctx, {
          ...opts,
          ...(opts.path === undefined ? {} : { path: opts.path.map((p) => ctx.resolvePath(p)) }),
        }),
      )
    })

  program
    .command('info')
    .description('repository details and totals: snapshots, original, compressed, deduplicated and stored sizes')
    .action(async (_opts, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/info.js')).info(ctx))
    })

  program
    .command('restore')
    .description('restore a snapshot into a new or empty directory, or with --overwrite into an existing tree')
    .argument('<snapshot>', SNAPSHOT_ARG)
    .argument('<dest>', 'destination directory (must be empty or not exist, unless --overwrite is given)')
    .option('-i, --include <glob>', 'restore only paths matching this glob (* may cross /); repeatable, any may match', collect)
    .option('--pattern <glob>', 'the same as --include', collect)
    .option(
      '--exclude <glob>',
      'do not restore paths matching this glob (nor what is under them); wins over --include; repeatable',
      collect,
    )
    .addOption(
      new Option(
        '--overwrite <mode>',
        'restore into an existing tree: never (keep what is there), if-changed (keep what already matches; continues an interrupted restore) or always',
      ).choices(['never', 'if-changed', 'always']),
    )
    .option('--delete', 'with --overwrite: remove what the destination holds and the snapshot does not (where the patterns select it)')
    .option('-n, --dry-run', 'say what would be created, replaced, kept and deleted, and how many bytes written; write nothing')
    .action(async (id: string, dest: string, opts: RestoreFlags, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/restore.js')).restore(ctx, id, dest, opts))
    })

  program
    .command('dump')
    .description('write a file of a snapshot to stdout, or a directory as a tar (or zip) archive')
    .argument('<snapshot>', SNAPSHOT_ARG)
    .argument('<path>', 'the file or directory inside the snapshot ("/" or "." for all of it)')
    .addOption(new Option('--archive <format>', 'archive format for a directory (default tar)').choices(['tar', 'zip']))
    .action(async (id: string, path: string, opts: { archive?: 'tar' | 'zip' }, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/dump.js')).dump(ctx, id, path, opts))
    })

  program
    .command('mount')
    .description('serve the snapshots (or one) read-only over WebDAV and the web UI, until Ctrl-C (docs/mount.md)')
    .argument('[snapshot]', `serve only this snapshot: ${SNAPSHOT_ARG}`)
    .option('--listen <host:port>', 'address to serve on (default 127.0.0.1:8318); any other than loopback requires the printed token')
    .action(async (id: string | undefined, opts: { listen?: string }, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/mount.js')).mount(ctx, id, opts))
    })

  program
    .command('copy')
    .description('copy snapshots to another repository (-R picks the source), storing only what it lacks')
    .argument('[snapshots...]', `${SNAPSHOT_ARG}; none: every snapshot the filters keep`)
    .requiredOption('--to <repo>', 'the destination: a configured label, or a URL')
    .option('--host <hostname>', 'only snapshots taken on this host')
    .option('--tag <tags>', 'only snapshots with all of these comma-separated tags (repeatable: any of the groups)', collectTags)
    .option('--since <time>', 'only snapshots at or after TIME (a date or an age, as list takes it)', sinceUntil)
    .option('--until <time>', 'only snapshots at or before TIME', sinceUntil)
    .option('--last <n>', 'only the newest N snapshots (after the other filters)', positiveInt)
    .option('-n, --dry-run', 'count what would be copied, store nothing')
    .action(async (ids: string[], opts: CopyFlags, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/copy.js')).copy(ctx, ids, opts))
    })

  addSnapshotCommands(program, runAction)
  addMaintenanceCommands(program, runAction)

  const server = program
    .command('server')
    .description('serve repositories to vger clients over HTTP(S) (rest:// and rests:// URLs); --config names the server.yaml')
    .action(async (_opts, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/server.js')).server(ctx))
    })
  server
    .command('hash-token')
    .description('print a token (read from stdin, or a random one) and the SHA-256 that server.yaml holds for it')
    .action(async (_opts, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/server.js')).hashTokenCommand(ctx))
    })

  program
    .command('daemon')
    .description('run the full cycle of each repository on its schedule (config "schedule"), until SIGTERM; SIGHUP reloads the config')
    .option(
      '--status-listen <host:port>',
      'serve the status as JSON (GET /status) and HTML (GET /) on this loopback address, e.g. 127.0.0.1:8317',
    )
    .option('--status-allow-remote', 'let --status-listen use an address that is not loopback (the page has no authentication)')
    .action(async (opts: { statusListen?: string; statusAllowRemote?: boolean }, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/daemon.js')).daemon(ctx, opts))
    })

  const key = program.command('key').description('manage the repository keys: one per passphrase')
  key
    .command('list')
    .description('list the key files; "In use" is the one this passphrase opened')
    .action(async (_opts, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/key.js')).listKeys(ctx))
    })
  key
    .command('add')
    .description('add a passphrase (VGER_NEW_PASSPHRASE, or asked twice); the others keep working')
    .action(async (_opts, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/key.js')).addKey(ctx))
    })
  key
    .command('remove')
    .description('remove a key file by id (a unique prefix); never the one in use')
    .argument('<id>', 'the key id, as vger key list shows it')
    .action(async (id: string, _opts, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/key.js')).removeKey(ctx, id))
    })
  key
    .command('change-passphrase')
    .description('re-wrap the repository key with a new passphrase (VGER_NEW_PASSPHRASE, or asked twice)')
    .action(async (_opts, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/key.js')).changePassphrase(ctx))
    })

  return program
}

function addMaintenanceCommands(program: Command, runAction: Runner): void {
  program
    .command('prune')
    .description('delete the snapshots the configured retention rules do not keep (-S to restrict to labels)')
    .option('-n, --dry-run', 'show the plan, change nothing')
    .option('--list', 'list every snapshot, kept or removed, with the rules that decided it')
    .option('--force', 'apply even when the rules would remove every snapshot of a group')
    .option('--keep-last <n>', 'keep the newest N snapshots (rules on the command line replace the configured ones)', count)
    .option('--keep-hourly <n>', 'keep the newest snapshot of each of the last N hours that have one', count)
    .option('--keep-daily <n>', 'keep the newest snapshot of each of the last N days that have one', count)
    .option('--keep-weekly <n>', 'keep the newest snapshot of each of the last N ISO weeks that have one', count)
    .option('--keep-monthly <n>', 'keep the newest snapshot of each of the last N months that have one', count)
    .option('--keep-yearly <n>', 'keep the newest snapshot of each of the last N years that have one', count)
    .option('--keep-within <duration>', 'keep every snapshot newer than this (e.g. 7d, 2w, 6m, 1y)', keepWithin)
    .option('--group-by <keys>', 'what makes a series: a comma-separated list of host, label, paths ("" for one group)', groupBy)
    .option('--compact', 'then compact: give the space of the removed snapshots back in the same run')
    .option('--tag <tags>', 'only snapshots with all of these comma-separated tags (repeatable: any of the groups)', collectTags)
    .action(async (opts: PruneCliFlags, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/prune.js')).prune(ctx, pruneFlags(opts)))
    })

  program
    .command('compact')
    .description('give space back: repack or delete packs no snapshot (fully) uses, consolidate the index')
    .option('--threshold <pct>', 'repack packs more than this percent unused (default 10)', percent)
    .option('--max-repack-size <size>', 'repack at most this much per run (e.g. 500MiB)', size)
    .option('-n, --dry-run', 'show the plan, change nothing')
    .action(async (opts: { threshold?: number; maxRepackSize?: number; dryRun?: boolean }, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/compact.js')).compact(ctx, opts))
    })

  program
    .command('check')
    .description('verify that every snapshot is restorable; name what is damaged and the files it affects')
    .option('--verify-data', 'also read, decrypt and re-hash every blob of every pack')
    .option('--read-data-subset <pct>', 'verify the data of a random PCT percent of the packs', subsetPercent)
    .option('--verify-on-server', 'have the vger server hash every pack against its id (nothing is downloaded)')
    .option('--repair', 'rebuild the index from the packs and salvage damaged packs, then check again')
    .option('-n, --dry-run', 'with --repair: show what the repair would do, change nothing')
    .action(async (opts: CheckFlags, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/check.js')).check(ctx, opts))
    })

  program
    .command('delete')
    .description('delete the whole repository (asks you to type its label, or --yes-delete-this-repo)')
    .option('--yes-delete-this-repo', 'do not ask (for scripts)')
    .option('-n, --dry-run', 'show how many objects and bytes it would remove, change nothing')
    .action(async (opts: { yesDeleteThisRepo?: boolean; dryRun?: boolean }, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/delete.js')).deleteRepository(ctx, opts))
    })

  program
    .command('cache')
    .description('show the local cache (file cache, remote metadata, in-flight backups); --clear removes the first two')
    .option('--clear', 'remove the file cache and the remote metadata copies (the next backup reads every file again)')
    .option('-n, --dry-run', 'with --clear: say what would be removed, remove nothing')
    .action(async (opts: { clear?: boolean; dryRun?: boolean }, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/cache.js')).cache(ctx, opts))
    })

  program
    .command('completion')
    .description('print a completion script for bash, zsh or fish (see docs/commands.md to install it)')
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .action(async (shell: Shell, _opts, cmd: Command) => {
      await runAction(cmd, async (ctx) => {
        ctx.io.stdout.write(completionScript(shell, program))
        return EXIT.ok
      })
    })

  program
    .command('locks')
    .description('list the lock objects of the repository: kind, live or stale, operation, host and pid')
    .action(async (_opts, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/locks.js')).locks(ctx))
    })

  program
    .command('break-lock')
    .description('remove every lock object (only when the processes holding them are gone)')
    .option('-n, --dry-run', 'list the locks it would remove, change nothing')
    .action(async (opts: { dryRun?: boolean }, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/locks.js')).breakLock(ctx, opts))
    })
}
