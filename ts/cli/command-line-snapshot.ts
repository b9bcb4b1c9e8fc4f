/**
 * The `snapshot` commands: list, info, find, diff and delete, and the changes to what a snapshot
 * says about itself (tags, pin, description), each of which replaces the snapshot by a new one.
 */
import { Command, Option } from 'commander'
import type { Runner } from './command-line.js'
import { collect, collectTags, duration, positiveInt, size, tagList } from './option-parsers.js'

export const SNAPSHOT_ARG = 'snapshot id (a unique prefix of at least 4 hex digits), or "latest" (newest, among -S labels if given)'

export function addSnapshotCommands(program: Command, runAction: Runner): void {
  const snapshot = program.command('snapshot').description('work with snapshots: list, info, find, diff, delete')
  snapshot
    .command('list')
    .description('list the files in a snapshot, like ls -l')
    .argument('<snapshot>', SNAPSHOT_ARG)
    .argument('[path]', 'only this subtree (/-separated, relative to the snapshot root)')
    .option('-p, --path <subtree>', 'the same as the PATH argument')
    .action(async (id: string, sub: string | undefined, opts: { path?: string }, cmd: Command) => {
      const path = sub ?? opts.path
      await runAction(cmd, async (ctx) => (await import('./commands/snapshot-list.js')).snapshotList(ctx, id, { path }))
    })

  snapshot
    .command('info')
    .description('the metadata and statistics of one snapshot')
    .argument('<snapshot>', SNAPSHOT_ARG)
    .action(async (id: string, _opts, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/snapshot-info.js')).snapshotInfo(ctx, id))
    })

  snapshot
    .command('find')
    .description('find files across snapshots: a timeline per path (added, modified, unchanged)')
    .argument('[path]', 'only under this path (/-separated, relative to the snapshot root)')
    .option('--name <glob>', 'the file name matches this glob')
    .option('--iname <glob>', 'like --name, ignoring case')
    .addOption(new Option('--type <type>', 'f (file), d (directory) or l (symlink)').choices(['f', 'd', 'l']))
    .option('--since <duration>', 'only snapshots newer than this (24h, 7d, 2w, 6m, 1y)', duration)
    .option('--larger <size>', 'only files larger than SIZE (e.g. 10MiB)', size)
    .option('--smaller <size>', 'only files smaller than SIZE', size)
    .option('--last <n>', 'only the newest N snapshots', positiveInt)
    .option('--tag <tags>', 'only snapshots with all of these comma-separated tags (repeatable: any of the groups)', collectTags)
    .action(async (path: string | undefined, opts, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/snapshot-find.js')).snapshotFind(ctx, path, opts))
    })

  snapshot
    .command('delete')
    .description('delete snapshots (their data is reclaimed by vger compact)')
    .argument('<snapshots...>', `${SNAPSHOT_ARG}; several may be given`)
    .option('-n, --dry-run', 'show what would be deleted, change nothing')
    .action(async (ids: string[], opts: { dryRun?: boolean }, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/snapshot-delete.js')).snapshotDelete(ctx, ids, opts))
    })

  const tag = snapshot
    .command('tag')
    .description('change the tags of snapshots (each changed snapshot gets a new id; see docs/commands.md)')
  for (const [verb, what] of [
    ['add', 'add these tags'],
    ['remove', 'remove these tags'],
    ['set', 'replace the tags by these ("" for none)'],
  ] as const) {
    tag
      .command(verb)
      .description(`${what} (comma-separated) on the given snapshots`)
      .argument('<tags>', 'comma-separated tags: 1 to 128 printable characters each, no commas', (v: string) =>
        verb === 'set' && v === '' ? [] : tagList(v),
      )
      .argument('<snapshots...>', `${SNAPSHOT_ARG}; several may be given`)
      .option('-n, --dry-run', 'show what would change, change nothing')
      .action(async (list: string[], ids: string[], opts: { dryRun?: boolean }, cmd: Command) => {
        const change = verb === 'add' ? { addTags: list } : verb === 'remove' ? { removeTags: list } : { setTags: list }
        await runAction(cmd, async (ctx) => (await import('./commands/snapshot-change.js')).snapshotChange(ctx, ids, change, opts))
      })
  }

  for (const [verb, pinned] of [
    ['pin', true],
    ['unpin', false],
  ] as const) {
    snapshot
      .command(verb)
      .description(pinned ? 'pin snapshots: prune and snapshot delete leave them' : 'unpin snapshots: retention applies to them again')
      .argument('<snapshots...>', `${SNAPSHOT_ARG}; several may be given`)
      .option('-n, --dry-run', 'show what would change, change nothing')
      .action(async (ids: string[], opts: { dryRun?: boolean }, cmd: Command) => {
        await runAction(cmd, async (ctx) => (await import('./commands/snapshot-change.js')).snapshotChange(ctx, ids, { pinned }, opts))
      })
  }

  snapshot
    .command('describe')
    .description('set the description of a snapshot ("" removes it)')
    .argument('<snapshot>', SNAPSHOT_ARG)
    .argument('<text>', 'the description')
    .option('-n, --dry-run', 'show what would change, change nothing')
    .action(async (id: string, text: string, opts: { dryRun?: boolean }, cmd: Command) => {
      await runAction(cmd, async (ctx) =>
        (await import('./commands/snapshot-change.js')).snapshotChange(ctx, [id], { description: text }, opts),
      )
    })

  snapshot
    .command('rewrite')
    .description('make new snapshots without the paths the --exclude patterns match (e.g. a secret saved by mistake)')
    .argument('<snapshots...>', `${SNAPSHOT_ARG}; several may be given`)
    .requiredOption('-e, --exclude <pattern>', 'glob over the path from the snapshot root; * may cross / (repeatable)', collect)
    .option('--forget', 'remove the original snapshots once their rewrites are stored (then run vger compact)')
    .option('-n, --dry-run', 'show what would be removed, change nothing')
    .action(async (ids: string[], opts: { exclude: string[]; forget?: boolean; dryRun?: boolean }, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/snapshot-rewrite.js')).snapshotRewrite(ctx, ids, opts))
    })

  snapshot
    .command('diff')
    .description('what changed between two snapshots: added, removed, modified, metadata only')
    .argument('<a>', 'the older snapshot (id prefix or "latest")')
    .argument('<b>', 'the newer snapshot (id prefix or "latest")')
    .action(async (a: string, b: string, _opts, cmd: Command) => {
      await runAction(cmd, async (ctx) => (await import('./commands/snapshot-diff.js')).snapshotDiff(ctx, a, b))
    })
}
