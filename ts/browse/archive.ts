/**
 * A directory of a snapshot as a tar or zip archive, written as it is read: one file's window in memory at
 * a time, whatever the directory's size (`vger dump`, the web UI's folder download). Names are relative to
 * the directory; one that is not UTF-8 keeps the engine's escaped form (`\xNN`), which tar and zip headers
 * written from JS strings cannot carry otherwise. Hard links are stored as copies of their target's bytes;
 * fifos, devices and sockets are skipped and reported.
 */
import type { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import tar from 'tar-stream'
import yazl from 'yazl'
import type { DirEntry } from '../../crates/vger-napi/index.cjs'
import type { SnapshotDir, SnapshotFs } from './snapshot-fs.js'

export type ArchiveFormat = 'tar' | 'zip'

export interface ArchiveOutcome {
  files: number
  dirs: number
  symlinks: number
  bytes: number
  /** Entries not stored (fifos, devices, sockets; a hard link whose target is gone), with why. */
  skipped: { path: string; reason: string }[]
}

/** One entry to archive: its name in the archive, its path in the snapshot, what the snapshot says of it. */
interface Item {
  name: string
  path: string
  entry: DirEntry
}

const join = (a: string, b: string): string => (a === '' ? b : `${a}/${b}`)

/**
 * Writes directory `path` of `snapshot` (or the single entry there when it is not a directory) to `out` as
 * an archive, entries in name order, depth first. Resolves once the archive is complete and flushed.
 */
export async function writeArchive(
  fs: SnapshotFs,
  snapshot: SnapshotDir,
  path: string,
  top: DirEntry,
  format: ArchiveFormat,
  out: Writable,
  signal?: AbortSignal,
): Promise<ArchiveOutcome> {
  const outcome: ArchiveOutcome = { files: 0, dirs: 0, symlinks: 0, bytes: 0, skipped: [] }
  const writer = format === 'tar' ? tarWriter(out) : zipWriter(out)
  const visit = async (item: Item): Promise<void> => {
    signal?.throwIfAborted()
    const e = item.entry
    switch (e.kind) {
      case 'dir': {
        if (item.name !== '') {
          await writer.dir(item.name, e)
          outcome.dirs += 1
        }
        for (const child of await fs.readDir(snapshot, item.path)) {
          await visit({ name: join(item.name, child.name), path: join(item.path, child.name), entry: child })
        }
        return
      }
      case 'file':
        await writer.file(item.name, e, fs.createReadStream(snapshot, item.path, 0, e.size))
        outcome.files += 1
        outcome.bytes += e.size
        return
      case 'symlink':
        await writer.symlink(item.name, e, e.target ?? '')
        outcome.symlinks += 1
        return
      case 'hardlink': {
        const target = e.target === undefined ? null : await fs.locate([snapshot.name, ...e.target.split('/')])
        if (target === null || target === undefined || target.kind !== 'entry' || target.entry.kind !== 'file') {
          outcome.skipped.push({ path: item.path, reason: `a hard link to ${e.target ?? '?'}, which is not a file in the snapshot` })
          return
        }
        const t = target.entry
        await writer.file(item.name, { ...e, size: t.size, mode: t.mode }, fs.createReadStream(snapshot, target.path, 0, t.size))
        outcome.files += 1
        outcome.bytes += t.size
        return
      }
      default:
        outcome.skipped.push({ path: item.path, reason: `a ${e.kind}, which an archive does not hold` })
    }
  }
  const name = top.kind === 'dir' ? '' : (path.split('/').pop() ?? path)
  await visit({ name, path, entry: top })
  await writer.finish()
  return outcome
}

interface Writer {
  dir(name: string, e: DirEntry): Promise<void>
  file(name: string, e: DirEntry, data: Readable): Promise<void>
  symlink(name: string, e: DirEntry, target: string): Promise<void>
  finish(): Promise<void>
}

const perm = (e: DirEntry): number => e.mode & 0o7777
const mtime = (e: DirEntry): Date => new Date(e.mtimeMs)

function tarWriter(out: Writable): Writer {
  const pack = tar.pack()
  const piped = pipeline(pack, out)
  // Awaited by finish(); until then a failure of `out` (a client that went away) must not be an unhandled rejection.
  piped.catch(() => undefined)
  const header = (name: string, e: DirEntry) => ({
    name,
    mode: perm(e),
    mtime: mtime(e),
    uid: e.uid,
    gid: e.gid,
    uname: e.user,
    gname: e.group,
  })
  const entry = (h: Parameters<tar.Pack['entry']>[0], data?: Readable): Promise<void> =>
    new Promise((resolve, reject) => {
      const sink = pack.entry(h, (err) => (err ? reject(err) : resolve()))
      if (data === undefined) return
      data.on('error', (err) => {
        sink.destroy(err)
        reject(err)
      })
      data.pipe(sink)
    })
  return {
    dir: (name, e) => entry({ ...header(`${name}/`, e), type: 'directory' }),
    file: (name, e, data) => entry({ ...header(name, e), type: 'file', size: e.size }, data),
    symlink: (name, e, target) => entry({ ...header(name, e), type: 'symlink', linkname: target }),
    finish: async () => {
      pack.finalize()
      await piped
    },
  }
}

function zipWriter(out: Writable): Writer {
  const zip = new yazl.ZipFile()
  const piped = pipeline(zip.outputStream, out)
  // Awaited by finish(); until then a failure of `out` (a client that went away) must not be an unhandled rejection.
  piped.catch(() => undefined)
  let failed: Error | undefined
  const options = (e: DirEntry, type: number) => ({ mtime: mtime(e), mode: type | perm(e) })
  // yazl reads each stream only when its turn comes, and a file's stream reads nothing until then: the queue
  // holds small objects, never bytes.
  const drained = async (): Promise<void> => {
    if (failed !== undefined) throw failed
  }
  return {
    dir: async (name, e) => {
      zip.addEmptyDirectory(name, options(e, 0o040000))
      await drained()
    },
    file: async (name, e, data) => {
      data.on('error', (err) => {
        failed = err
        ;(zip.outputStream as unknown as Readable).destroy(err)
      })
      zip.addReadStream(data, name, { ...options(e, 0o100000), size: e.size })
      await drained()
    },
    symlink: async (name, e, target) => {
      zip.addBuffer(Buffer.from(target, 'utf8'), name, options(e, 0o120000))
      await drained()
    },
    finish: async () => {
      zip.end()
      await piped
      if (failed !== undefined) throw failed
    },
  }
}
