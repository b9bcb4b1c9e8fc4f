/**
 * The repositories this machine has created or opened: for each URL, the repository id and encryption mode
 * seen there. Before a repository is opened, what its URL now holds is compared with that record, so a
 * repository replaced behind vger's back (another id at the same URL) or downgraded to `none` (an attacker
 * with write access to the storage swapping in an unencrypted repository to receive plaintext backups) is
 * refused before a passphrase is used or a byte is written. Like SSH's known_hosts: the first contact is
 * trusted, later changes are not. Once opened, the repository's index generation is compared with the highest
 * one seen there, so a storage host that rolled the whole repository back to an older state is noticed.
 *
 * The file is `$XDG_DATA_HOME/vger/known-repositories.json` (default `~/.local/share/vger/`), written
 * atomically (temporary file and rename). Failing to write it never fails a command; the caller gets the
 * reason as a warning.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { VgerError } from './errors.js'

export interface KnownRepository {
  id: string
  encryption: string
  /** RFC 3339: when this machine first created or opened the repository at this URL. */
  firstSeen: string
  /** The highest index generation this machine saw there (absent until it opened the repository). */
  generation?: number
}

interface KnownFile {
  version: 1
  repositories: Record<string, KnownRepository>
}

/** What a URL holds now: the unencrypted config's id and encryption mode. */
export interface Seen {
  id: string
  encryption: string
}

export class KnownRepositories {
  constructor(readonly file: string) {}

  /** Throws VGER_REPO_CHANGED when `url` held another repository, or an encrypted one and now holds `none`. */
  check(url: string, name: string, seen: Seen): void {
    const known = this.#read().repositories[url]
    if (known === undefined) return
    const fix =
      'If you replaced or re-created it yourself, run the command again with --trust-repo (or remove the entry for ' +
      `${JSON.stringify(url)} from ${this.file}); otherwise treat the storage as compromised and do not use it`
    if (known.encryption !== 'none' && seen.encryption === 'none') {
      throw new VgerError(
        'VGER_REPO_CHANGED',
        `repository "${name}" at ${url} was encrypted (${known.encryption}) when this machine last used it and is now ` +
          `unencrypted: refusing to send data to it. ${fix}`,
      )
    }
    if (known.id !== seen.id) {
      throw new VgerError(
        'VGER_REPO_CHANGED',
        `repository "${name}" at ${url} has id ${seen.id.slice(0, 8)}, but this machine knew repository ` +
          `${known.id.slice(0, 8)} there (first used ${known.firstSeen}): it was replaced. ${fix}`,
      )
    }
  }

  /**
   * Throws VGER_REPO_ROLLED_BACK when this machine saw the repository at `url` at a higher index generation
   * than it has now: the storage was set back to an older state (snapshots and data written since are gone).
   * Returns the generation remembered (0 if none).
   */
  checkGeneration(url: string, name: string, generation: number): number {
    const known = this.#read().repositories[url]
    const remembered = known?.generation ?? 0
    if (generation < remembered) {
      throw new VgerError(
        'VGER_REPO_ROLLED_BACK',
        `repository "${name}" at ${url} is at index generation ${generation}, but this machine saw it at ` +
          `generation ${remembered}: the storage was rolled back to an older state, and snapshots or data written ` +
          'since may be gone. Find out what happened to the storage before you write to it; if you restored the ' +
          'repository from an older copy yourself, run the command again with --trust-repo (or remove the entry for ' +
          `${JSON.stringify(url)} from ${this.file})`,
      )
    }
    return remembered
  }

  /**
   * Records what `url` holds (keeping the first-seen time of an unchanged record, and the highest generation
   * seen); returns a warning on failure.
   */
  remember(url: string, seen: Seen, now: Date = new Date(), generation?: number): string | undefined {
    return this.#update((repos) => {
      const known = repos[url]
      if (known?.id === seen.id && known.encryption === seen.encryption) {
        if (generation === undefined || generation <= (known.generation ?? 0)) return false
        known.generation = generation
        return true
      }
      repos[url] = {
        id: seen.id,
        encryption: seen.encryption,
        firstSeen: now.toISOString(),
        ...(generation === undefined ? {} : { generation }),
      }
      return true
    })
  }

  /** Drops the record of `url` (after `vger delete`); returns a warning on failure. */
  forget(url: string): string | undefined {
    return this.#update((repos) => {
      if (repos[url] === undefined) return false
      delete repos[url]
      return true
    })
  }

  #update(change: (repos: Record<string, KnownRepository>) => boolean): string | undefined {
    try {
      const data = this.#read()
      if (!change(data.repositories)) return undefined
      mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 })
      const tmp = `${this.file}.tmp.${randomBytes(6).toString('hex')}`
      try {
        writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 })
        renameSync(tmp, this.file)
      } finally {
        rmSync(tmp, { force: true })
      }
      return undefined
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e)
      return `could not record the repository in ${this.file}: ${reason}`
    }
  }

  #read(): KnownFile {
    let text: string
    try {
      text = readFileSync(this.file, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, repositories: {} }
      throw new VgerError('VGER_CONFIG', `cannot read ${this.file}: ${(e as Error).message}`)
    }
    try {
      const data = JSON.parse(text) as Partial<KnownFile>
      if (data.version === 1 && typeof data.repositories === 'object' && data.repositories !== null) {
        const repositories: Record<string, KnownRepository> = {}
        for (const [url, r] of Object.entries(data.repositories)) {
          if (typeof r?.id === 'string' && typeof r.encryption === 'string' && typeof r.firstSeen === 'string') {
            const g = r.generation
            repositories[url] = {
              id: r.id,
              encryption: r.encryption,
              firstSeen: r.firstSeen,
              ...(typeof g === 'number' && Number.isSafeInteger(g) && g >= 0 ? { generation: g } : {}),
            }
          }
        }
        return { version: 1, repositories }
      }
    } catch {
      // reported below
    }
    throw new VgerError(
      'VGER_CONFIG',
      `${this.file} is not a vger known-repositories file; fix it or remove it (vger then trusts each repository again on first use)`,
    )
  }
}
