/**
 * The symlink guard of a local store. The engine's local backend opens paths as they are, so a symbolic
 * link planted in a repository directory (by someone with access to the disk) would lead reads and writes
 * outside it. Before every object operation the server looks at each component below the repository's
 * directory with lstat and refuses to go through a link. (Listings never show links: the engine lists
 * plain files only.) This is a check before the operation, not a lock: it protects against links that
 * exist, not against a local user racing the server.
 */
import { lstat } from 'node:fs/promises'
import path from 'node:path'

/** Whether a component of `key` under `root` (the object itself too, with `last`) is a symbolic link. */
export async function throughSymlink(root: string, key: string, last = true): Promise<boolean> {
  const parts = key.split('/')
  const upTo = last ? parts.length : parts.length - 1
  for (let i = 1; i <= upTo; i++) {
    let isLink: boolean
    try {
      isLink = (await lstat(path.join(root, ...parts.slice(0, i)))).isSymbolicLink()
    } catch {
      return false
    }
    if (isLink) return true
  }
  return false
}
