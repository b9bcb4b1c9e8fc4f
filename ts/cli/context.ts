/**
 * What every command needs: global flags, the config, repository selection, passphrases and the
 * AbortSignal. The native addon is imported lazily, on the first `open`/`init`.
 */
import os from 'node:os'
import path from 'node:path'
import { inertWarning } from '../config/inert.js'
import { loadConfig } from '../config/load.js'
import { knownRepositoriesFile } from '../config/paths.js'
import { type Selection, selectRepositories } from '../config/select.js'
import type { EncryptionConfig, RepositoryConfig, VgerConfig } from '../config/types.js'
import { applyNice } from './limits.js'
import { VgerError, asVgerError, isVgerError } from '../errors.js'
import { currentUsername, shortHostname } from '../host.js'
import { KnownRepositories, type Seen } from '../known-repos.js'
import { backendSettings } from '../backend-settings.js'
import type { BackendSettings, KdfParams, RepoInfo } from '../repository.js'
import { type Prompter, resolvePassphrase } from '../passphrase.js'
import type { Repository } from '../repository.js'
import { configSecrets } from './hooks.js'
import { lockEventPrinter } from './lock-events.js'
import { Output, type Stream } from './output.js'
import { promptHidden, promptLine } from './prompt.js'

export interface CliIo {
  stdout: Stream
  stderr: Stream & NodeJS.WritableStream
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  env: NodeJS.ProcessEnv
  cwd: string
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal
}

export interface GlobalOptions {
  config?: string
  repo?: string
  /** `-S/--source LABEL`, repeatable: restricts backups, lists and `latest` to these source labels. */
  source: string[]
  json: boolean
  verbose: number
  quiet: boolean
  /** `--lock-wait SECS`: how long to wait for a conflicting lock (default: the engine's 600 s). */
  lockWait?: number
  /** `--no-lock`: reading commands take no lock; writing commands then refuse to run. */
  noLock?: boolean
  /** `--trust-repo`: accept a changed or rolled-back repository and remember it as it is now. */
  trustRepo?: boolean
}

/** Errors that would fail the same way for every repository: stop at once instead of repeating them. */
const FATAL = new Set([
  'VGER_CONFIG',
  'VGER_USAGE',
  'VGER_CANCELLED',
  'VGER_NATIVE_UNAVAILABLE',
  'VGER_PASSPHRASE_REQUIRED',
  'VGER_PASSPHRASE_MISMATCH',
  'VGER_PASSCOMMAND_FAILED',
])

/** Test-only: `VGER_TEST_KDF=fast` makes `vger init` use a tiny Argon2 cost so e2e tests run quickly. */
const TEST_KDF: KdfParams = { memoryKib: 8192, iterations: 1, parallelism: 1 }

export interface Secrets {
  passphrase?: string
  newPassphrase?: string
}

export interface Failure {
  repository: string
  source?: string
  code: string
  message: string
}

export class CliContext {
  readonly out: Output
  /** Keyed by the encryption settings object, so repositories sharing settings share the passphrase. */
  readonly #passphrases = {
    open: new Map<EncryptionConfig, Promise<string>>(),
    new: new Map<EncryptionConfig, Promise<string>>(),
  }
  #config: VgerConfig | undefined
  #known: KnownRepositories | undefined
  /** Set by a command that ends on SIGINT/SIGTERM by design (vger server): it then exits 0, not 130. */
  stoppedOnSignal = false
  /** Repositories opened by this command, by URL: their generation is remembered when it ends. */
  readonly #opened = new Map<string, Repository>()
  /** Passphrases resolved by this command (from any source): kept out of hook environments. */
  readonly #resolved = new Set<string>()
  /** `limits.nice` problems already reported. */
  readonly #niceWarned = new Set<string>()

  constructor(
    readonly io: CliIo,
    readonly options: GlobalOptions,
    /** VGER_PASSPHRASE and VGER_NEW_PASSPHRASE, read once at startup. */
    readonly secrets: Secrets = {},
    /** A config already loaded (vger daemon gives each job the one it last loaded); else read on first use. */
    config?: VgerConfig,
  ) {
    this.out = new Output(io.stdout, io.stderr, options)
    this.#config = config
  }

  get signal(): AbortSignal {
    return this.io.signal
  }

  get home(): string {
    return this.io.env.HOME ?? os.homedir()
  }

  config(): VgerConfig {
    if (this.#config === undefined) {
      const config = loadConfig({ configFile: this.options.config, env: this.io.env, cwd: this.io.cwd, home: this.home })
      for (const key of config.inert) this.out.warn(inertWarning(config.file ?? 'the config', key))
      this.#config = config
    }
    return this.#config
  }

  repositories(selection: Selection): RepositoryConfig[] {
    return selectRepositories(this.config(), this.options.repo, selection, { cwd: this.io.cwd, home: this.home })
  }

  /** The one repository a command such as restore works on. */
  repository(): RepositoryConfig {
    const [repo] = this.repositories('one')
    if (repo === undefined) throw new VgerError('VGER_CONFIG', 'no repository is configured')
    return repo
  }

  resolvePath(p: string): string {
    return path.resolve(this.io.cwd, p)
  }

  hostname(): string {
    return shortHostname(this.config().hostname)
  }

  username(): string {
    return currentUsername(this.io.env)
  }

  /** A prompt on the terminal, when stdin and stderr are both terminals. */
  prompter(): Prompter | undefined {
    const stdin = this.io.stdin
    if (stdin.isTTY !== true || this.io.stderr.isTTY !== true) return undefined
    return (question) => promptHidden(question, { input: stdin, output: this.io.stderr })
  }

  /** An echoing one-line prompt for confirmations, when stdin and stderr are both terminals. */
  confirmer(): ((question: string) => Promise<string>) | undefined {
    const stdin = this.io.stdin
    if (stdin.isTTY !== true || this.io.stderr.isTTY !== true) return undefined
    return (question) => promptLine(question, { input: stdin, output: this.io.stderr })
  }

  /** Resolved once per encryption settings (and purpose), so several repositories prompt only once. */
  passphrase(repo: RepositoryConfig, { confirm = false } = {}): Promise<string> {
    const cache = confirm ? this.#passphrases.new : this.#passphrases.open
    let pending = cache.get(repo.encryption)
    if (pending === undefined) {
      const prompt = this.prompter()
      pending = resolvePassphrase({
        repository: repo.name,
        encryption: repo.encryption,
        configFile: this.config().file,
        envPassphrase: this.secrets.passphrase,
        confirm,
        prompt,
        warn: (m) => this.out.warn(m),
        env: this.io.env,
      }).then((r) => {
        this.#resolved.add(r.passphrase)
        return r.passphrase
      })
      cache.set(repo.encryption, pending)
    }
    return pending
  }

  /**
   * Opens a repository. It is probed first (the unencrypted config only), so a missing repository is
   * reported as such, and an unencrypted one opens, without asking for a passphrase.
   */
  async open(repo: RepositoryConfig): Promise<Repository> {
    const seen = await this.probe(repo)
    const trust = this.options.trustRepo === true
    if (!trust) this.knownRepositories().check(repo.url, repo.name, seen)
    const { Repository } = await import('../repository.js')
    this.throwIfAborted()
    const passphrase = seen.encryption !== 'none' ? await this.passphrase(repo) : undefined
    const lockWaitSecs = this.options.lockWait
    this.applyLimits(repo)
    const backend = this.backendSettings(repo)
    const opened = await Repository.open({
      url: repo.url,
      ...(backend === undefined ? {} : { backend }),
      passphrase,
      ...(lockWaitSecs === undefined ? {} : { lockWaitSecs }),
      ...(this.options.noLock === true ? { noLock: true } : {}),
      cacheDir: this.config().cacheDir,
      onLockEvent: lockEventPrinter(this.out, repo.name),
    })
    for (const w of opened.openWarnings()) this.out.warn(`repository "${repo.name}": ${w.path}: ${w.message} [${w.code}]`)
    // Segments are authenticated, so the generation is as trustworthy as the key: refuse to go back silently.
    if (trust) {
      // The repository is taken as it is now: the old record (another id, a higher generation) goes.
      this.forget(repo.url)
    } else {
      const remembered = this.knownRepositories().checkGeneration(repo.url, repo.name, opened.generation())
      opened.raiseGeneration(remembered)
    }
    // Recorded only once the key opened it: for an encrypted repository that authenticates the id.
    this.remember(repo.url, opened.info(), opened.generation())
    this.#opened.set(repo.url, opened)
    return opened
  }

  /**
   * Every secret this command knows: VGER_PASSPHRASE and VGER_NEW_PASSPHRASE as read at startup, the
   * passphrases it resolved, and the config's secret values. No hook's environment holds any of them.
   */
  secretValues(): string[] {
    const fromConfig = this.#config === undefined ? [] : configSecrets(this.#config)
    const own = [this.secrets.passphrase, this.secrets.newPassphrase].filter((s): s is string => s !== undefined)
    return [...own, ...this.#resolved, ...fromConfig]
  }

  /** Records the generation each repository opened by this command reached (run when the command ends). */
  settle(): void {
    for (const [url, opened] of this.#opened) {
      let generation: number
      try {
        generation = opened.generation()
      } catch {
        continue
      }
      this.remember(url, opened.info(), generation)
    }
    this.#opened.clear()
  }

  /** The repositories this machine has used (repository swap and downgrade protection). */
  knownRepositories(): KnownRepositories {
    this.#known ??= new KnownRepositories(knownRepositoriesFile({ env: this.io.env, home: this.home }))
    return this.#known
  }

  /** Records the repository at `url` (after init or open); a failure to write is a warning. */
  remember(url: string, seen: Seen, generation?: number): void {
    const warning = this.knownRepositories().remember(url, seen, new Date(), generation)
    if (warning !== undefined) this.out.warn(warning)
  }

  /** Drops the record of `url` (after `vger delete`); a failure to write is a warning. */
  forget(url: string): void {
    this.#opened.delete(url)
    const warning = this.knownRepositories().forget(url)
    if (warning !== undefined) this.out.warn(warning)
  }

  /** The engine's settings for a remote repository (config, then the AWS environment variables). */
  backendSettings(repo: RepositoryConfig): BackendSettings | undefined {
    return backendSettings(repo, this.io.env, this.config().cacheDir)
  }

  /** Fails with a helpful VGER_REPO_NOT_FOUND when there is no repository at `repo.url`. */
  async probe(repo: RepositoryConfig): Promise<RepoInfo> {
    const { Repository } = await import('../repository.js')
    try {
      return await Repository.probe(repo.url, this.backendSettings(repo))
    } catch (e) {
      if (!isVgerError(e, 'VGER_REPO_NOT_FOUND')) throw e
      const pick = this.config().repositories.length > 1 ? ` -R ${repo.name}` : ''
      throw new VgerError(
        'VGER_REPO_NOT_FOUND',
        `no repository at ${repo.url} (repository "${repo.name}"); create it with "vger init${pick}", or check the URL and -R`,
        { cause: e },
      )
    }
  }

  /** KDF parameters for `vger init`: the native default, unless the test-only VGER_TEST_KDF=fast is set. */
  initKdf(): KdfParams | undefined {
    if (this.io.env.VGER_TEST_KDF !== 'fast') return undefined
    this.out.warn('VGER_TEST_KDF=fast: using a weak key derivation meant for tests only')
    return TEST_KDF
  }

  /**
   * Runs `fn` for each repository. Errors specific to one repository are printed and collected so the
   * others still run; errors that would repeat everywhere (config, passphrase, cancel) end the command.
   */
  async eachRepository<T>(
    repos: RepositoryConfig[],
    fn: (repo: RepositoryConfig) => Promise<T>,
  ): Promise<{ results: { repo: RepositoryConfig; value: T }[]; failures: Failure[] }> {
    const results: { repo: RepositoryConfig; value: T }[] = []
    const failures: Failure[] = []
    for (const repo of repos) {
      try {
        this.applyLimits(repo)
        results.push({ repo, value: await fn(repo) })
      } catch (e) {
        const err = asVgerError(e)
        if (FATAL.has(err.code) || this.signal.aborted || repos.length === 1) throw err
        failures.push(this.fail(err, repo.name))
      }
    }
    return { results, failures }
  }

  /** Applies `repo`'s `limits.nice` to the process (hooks, dump commands and the engine's threads). */
  applyLimits(repo: RepositoryConfig): void {
    const problem = applyNice(repo.limits.nice)
    if (problem !== undefined && !this.#niceWarned.has(problem)) {
      this.#niceWarned.add(problem)
      this.out.warn(`repository "${repo.name}": ${problem}`)
    }
  }

  /** Prints a non-fatal error and returns it as a JSON-friendly record. */
  fail(e: unknown, repository: string, source?: string): Failure {
    const where = `repository "${repository}"${source === undefined ? '' : `, source "${source}"`}`
    const err = this.out.error(e, where)
    return { repository, ...(source === undefined ? {} : { source }), code: err.code, message: err.message }
  }

  throwIfAborted(): void {
    if (this.signal.aborted) throw new VgerError('VGER_CANCELLED', 'interrupted')
  }
}

export function isCancelled(e: unknown): boolean {
  return isVgerError(e, 'VGER_CANCELLED')
}
