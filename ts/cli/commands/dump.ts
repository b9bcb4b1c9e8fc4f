/**
 * `vger dump SNAPSHOT PATH [--archive tar|zip]`: a file's bytes, or a directory as a tar (or zip) archive, to
 * stdout, streamed as read (docs/commands.md). `vger dump latest etc/hosts | diff - /etc/hosts`.
 */
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { type ArchiveFormat, writeArchive } from '../../browse/archive.js'
import { bytesToEscaped } from '../../browse/names.js'
import { SnapshotFs, snapshotDirName } from '../../browse/snapshot-fs.js'
import { VgerError } from '../../errors.js'
import type { CliContext } from '../context.js'
import { EXIT, type ExitCode } from '../exit.js'
import { shortId } from '../output.js'
import { resolveSnapshot } from '../snapshots.js'

export interface DumpFlags {
  archive?: ArchiveFormat
}

/** A path as typed (`/etc/hosts`, `etc/hosts`, `.`) in the engine's escaped form, without leading `/`. */
export function typedPathToEscaped(typed: string): string {
  return typed
    .split('/')
    .filter((part) => part !== '' && part !== '.')
    .map((part) => {
      if (part === '..') throw new VgerError('VGER_USAGE', `"${typed}": ".." cannot name a path inside a snapshot`)
      return bytesToEscaped(Buffer.from(part, 'utf8'))
    })
    .join('/')
}

export async function dump(ctx: CliContext, ref: string, typed: string, flags: DumpFlags): Promise<ExitCode> {
  const out = ctx.io.stdout as unknown as Writable
  if (typeof out.once !== 'function') {
    throw new VgerError('VGER_USAGE', 'vger dump writes bytes to standard output, which this caller does not provide')
  }
  if (ctx.io.stdout.isTTY === true) {
    ctx.out.warn('writing to a terminal; redirect the output (vger dump … > FILE) or pipe it')
  }
  const repo = ctx.repository()
  const repository = await ctx.open(repo)
  const summary = await resolveSnapshot(repository, ref, ctx.options.source)
  const fs = new SnapshotFs(repository, { only: summary.id })
  const snapshot = { name: snapshotDirName(summary), snapshot: summary }
  const path = typedPathToEscaped(typed)
  const located = await fs.locate([snapshot.name, ...(path === '' ? [] : path.split('/'))])
  if (located === undefined || located.kind !== 'entry') {
    throw new VgerError(
      'VGER_USAGE',
      `"${typed}" is not in snapshot ${shortId(summary.id)}; list it with "vger snapshot list ${shortId(summary.id)}"`,
    )
  }
  const entry = located.entry
  if (entry.kind === 'file' && flags.archive === undefined) {
    await pipeline(fs.createReadStream(snapshot, path, 0, entry.size), out, { end: false, signal: ctx.signal })
    return EXIT.ok
  }
  if (entry.kind !== 'dir' && entry.kind !== 'file' && flags.archive === undefined) {
    throw new VgerError(
      'VGER_USAGE',
      `"${typed}" is a ${entry.kind}: only a file or a directory can be dumped (give --archive for one entry)`,
    )
  }
  const format = flags.archive ?? 'tar'
  const endless = new Writable({
    write: (chunk: Buffer, _enc, done) => (out.write(chunk) ? done() : out.once('drain', () => done())),
  })
  const outcome = await writeArchive(fs, snapshot, path, entry, format, endless, ctx.signal)
  for (const s of outcome.skipped) ctx.out.warn(`${s.path}: skipped (${s.reason})`)
  ctx.out.info(
    `dumped ${outcome.files} files, ${outcome.dirs} directories, ${outcome.symlinks} symlinks (${outcome.bytes} bytes) as ${format}`,
  )
  return EXIT.ok
}
