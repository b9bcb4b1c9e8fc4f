/**
 * For every key path of the config schema, how it earns its place (read by config-keys.test.ts):
 *
 * - `refused`: vger knows the key and refuses it; loading a config that sets it fails with VGER_CONFIG and
 *   the reason.
 * - `acts`: setting `set` (a non-default value) changes `read`, which is what a command hands on: the
 *   engine's options (`backendSettings`, `pruneOptions`), the hook plan, the resolved fields the backup
 *   reads. `shown` names where the effect is observed: a test (an `it` name in a `.test.ts` file, a `fn`
 *   in a Rust test) or, for settings only a real service would show, the engine code that applies them.
 * - `pending`: a feature being built elsewhere (limits, schedule, command dumps); only allowed for the key
 *   paths under PENDING in config-keys.test.ts, and such keys must still warn (ts/config/inert.ts).
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { backendSettings } from '../../ts/backend-settings.js'
import { pruneOptions } from '../../ts/cli/commands/prune.js'
import type { CliContext } from '../../ts/cli/context.js'
import { fullCheckDue } from '../../ts/cli/full-check.js'
import { hookTimeoutMs } from '../../ts/cli/hooks.js'
import { jobLimits } from '../../ts/cli/limits.js'
import { timingOf } from '../../ts/daemon/schedule.js'
import { HOOK_COMMANDS, HOOK_EVENTS, HOOK_KEYS } from '../../ts/config/schema.js'
import type { RepositoryConfig, VgerConfig } from '../../ts/config/types.js'
import { planHooks, planSourceHooks } from '../../ts/hooks/plan.js'
import { tempDir } from '../helpers/temp-dir.js'

/** A named test (`.test.ts`: the `it` name; `.rs`: the `fn` name), or engine code that applies a setting. */
export type Ref = { file: string; test: string } | { file: string; code: string }

/** The raw config before the key is set (parsed YAML): add companions, change the repository URL. */
export type Patch = (raw: Raw) => void
export type Raw = Record<string, unknown> & { repositories: Record<string, unknown>[]; sources: (Record<string, unknown> | string)[] }

export type Proof =
  | { refused: true; set: unknown }
  | { pending: string }
  | { set: unknown; read: (c: VgerConfig) => unknown; shown: Ref[]; patch?: Patch; mentions?: string }

const T = (file: string, test: string): Ref => ({ file, test })
const CODE = (file: string, code: string): Ref => ({ file, code })

// Where effects are shown.
const CLI = 'test/e2e/cli.test.ts'
const COMMANDS = 'test/e2e/commands.test.ts'
const EFFECTS = 'test/e2e/config-effects.test.ts'
const HOOKS_E2E = 'test/e2e/hooks.test.ts'
const HOOKS_UNIT = 'test/unit/hooks.test.ts'
const MAINTENANCE = 'test/e2e/maintenance.test.ts'
const SOURCES = 'test/e2e/source-options.test.ts'
const S3 = 'test/e2e/remote-s3.test.ts'
const SFTP = 'test/e2e/remote-sftp.test.ts'
const SERVER = 'test/e2e/server.test.ts'
const RETENTION_RS = 'crates/vger-core/tests/retention.rs'
const FILTER_RS = 'crates/vger-core/tests/source_filter.rs'
const STORAGE_RS = 'crates/vger-storage/src/lib.rs'

const several = T(CLI, 'with several repositories: backs up to all, and restore needs -R')
const perSource = T(CLI, 'backup without paths makes one snapshot per configured source')
const compression = T(EFFECTS, 'compression: algorithm none stores the data as it is; zstd_level 19 stores less than zstd_level 1')
const chunker = T(EFFECTS, 'chunker: init records min_size, avg_size and max_size, and a file is cut at those sizes')
const routing = T(EFFECTS, "exclude_patterns applies to every source; a source's repos sends it only there; paths make one snapshot")
const s3Round = T(S3, 'init, backup, restore identical, check --verify-data clean')
const sftpRound = T(SFTP, 'init, backup, restore identical, check --verify-data clean')
const fullToken = T(SERVER, 'init, backup, list, restore, check --verify-data, prune and compact with a full token')
const swapIn = T(
  'test/e2e/known-repos.test.ts',
  'init and open record the repository; an unencrypted swap-in is refused and receives nothing',
)
const passcommand = T(CLI, 'takes the passphrase from a passcommand')
const plainPassphrase = T('test/unit/cli.test.ts', 'prefers a plain-text config passphrase, with a warning that does not print it')
const sourceOptions = T(SOURCES, 'a config with exclude_if_present and git_ignore backs up exactly what they leave')
const hookOrder = T(HOOKS_E2E, 'run in order around a backup and a check, with the documented environment and placeholders, and no secret')
const hookFailed = T(HOOKS_E2E, 'a failing before_backup stops the backup; failed and finally run with the error')
const hookPerCommand = T(
  HOOKS_E2E,
  'the keys of each command run around that command only, in the cycle and alone; failed_* after a failure',
)
const planOrder = T(HOOKS_UNIT, 'runs before hooks global bare, repository bare, global specific, repository specific')
const planReverse = T(HOOKS_UNIT, 'runs after, failed and finally hooks in the reverse order')
const sourceHooks = T(HOOKS_UNIT, 'takes a source its bare keys only, in the order written')
const pruneList = T(MAINTENANCE, 'prune --dry-run --list shows every decision with its rules and changes nothing; prune applies it')
const perSourceRule = T(
  MAINTENANCE,
  'prune refuses to empty a group without --force (VGER_INVALID_ARGUMENT, nothing removed), and a per-source rule wins',
)
const cycleDefects = T('test/e2e/user-defects.test.ts', "vykar's compact.threshold, check.max_percent and check.full_every act")
const fullCheck = T(
  'test/e2e/full-check.test.ts',
  'makes the cycle check every pack when none is recorded or the last full check is too old',
)

/** Rust's retention tests, by rule. */
const RULE_TESTS: Record<string, string> = {
  keep_last: 'keep_last_keeps_the_newest_n',
  keep_hourly: 'keep_hourly_keeps_the_newest_of_each_hour',
  keep_daily: 'keep_daily_skips_empty_days',
  keep_weekly: 'keep_weekly_uses_iso_weeks_across_new_year',
  keep_monthly: 'keep_monthly_keeps_the_newest_of_each_month',
  keep_yearly: 'keep_yearly_keeps_the_newest_of_each_year',
  keep_within: 'keep_within_is_measured_from_now',
}

const first = (c: VgerConfig): RepositoryConfig => c.repositories[0] as RepositoryConfig
const src = (c: VgerConfig) => c.sources[0]
/** What the engine is handed for the first repository's storage. */
const settings = (c: VgerConfig) => backendSettings(first(c), {}, c.cacheDir)
/** What the engine's prune is handed for the first repository. */
const prune = (c: VgerConfig) =>
  pruneOptions({ config: () => c, options: { source: [] } } as unknown as CliContext, first(c), {}, new Date('2026-01-01T00:00:00Z'))
/** Every hook command that would run, by event and command, for the first repository. */
const plan = (c: VgerConfig) =>
  HOOK_COMMANDS.flatMap((cmd) =>
    HOOK_EVENTS.flatMap((e) => planHooks(e, cmd, c.hooks, first(c).hooks).map((h) => `${e}/${cmd}/${h.scope}: ${h.command}`)),
  )
const sourcePlan = (c: VgerConfig) => HOOK_EVENTS.flatMap((e) => planSourceHooks(e, src(c)?.hooks ?? {}).map((h) => `${e}: ${h.command}`))

const url =
  (u: string): Patch =>
  (raw) => {
    ;(raw.repositories[0] as Record<string, unknown>).url = u
  }
const S3_URL = url('s3://bucket/prefix')
const SFTP_URL = url('sftp://backup@host/srv/r')

/** Proofs for a retention section at `at` (top level, repository or source). */
function retention(at: string, read: (c: VgerConfig) => unknown, shown: Ref, groupBy: boolean): Record<string, Proof> {
  const out: Record<string, Proof> = { [at]: { set: { keep_daily: 3 }, read, shown: [shown] } }
  for (const [key, fn] of Object.entries(RULE_TESTS))
    out[`${at}.${key}`] = { set: key === 'keep_within' ? '3d' : 3, read, shown: [shown, T(RETENTION_RS, fn)] }
  if (groupBy) {
    out[`${at}.group_by`] = {
      set: ['label'],
      read,
      shown: [
        T('test/unit/cycle.test.ts', 'a repository override brings its own rules and grouping'),
        T(RETENTION_RS, 'groups_by_paths_as_a_set'),
      ],
    }
  }
  return out
}

/** Proofs for a hooks section at `at`, with the keys it takes. */
function hooks(at: string, keys: readonly string[], read: (c: VgerConfig) => unknown, shown: Ref[]): Record<string, Proof> {
  const out: Record<string, Proof> = { [at]: { set: { before: 'true' }, read, shown } }
  for (const key of keys) out[`${at}.${key}`] = { set: `echo ${key}`, read, shown }
  return out
}

const LIMITS_E2E = 'test/e2e/limits.test.ts'
const DAEMON_E2E = 'test/e2e/daemon.test.ts'
const DUMPS_E2E = 'test/e2e/dumps.test.ts'
const niceTest = T(LIMITS_E2E, 'nice applies to the whole process: hooks and the commands engine threads start run at that niceness')
const rateTest = T(LIMITS_E2E, 'upload, download and source-read limits hold a job to its rate')
const daemonRuns = T(
  DAEMON_E2E,
  'runs the cycle every 2 s (a snapshot each, shown on /status), refuses a second daemon, reloads on SIGHUP, stops on SIGTERM',
)
const badCron = T(DAEMON_E2E, 'a bad cron expression is a config error at its line and column; no schedule says what to do')
const catchUp = T(
  'test/unit/daemon-planner.test.ts',
  'a forward jump of the wall clock (machine slept) gives one run, then the normal plan (cron)',
)
const dumpFails = T(DUMPS_E2E, 'a dump that fails half-way fails the backup: no snapshot, the failed hook runs, the next run works')
const dumpStreams = T(DUMPS_E2E, 'MiB dump streams into a snapshot with bounded memory and no temporary file, and restores byte for byte')

/** Proofs for a `limits` section at `at` (`lim` reads it from the resolved config). */
function limits(at: string, lim: (c: VgerConfig) => RepositoryConfig['limits']): Record<string, Proof> {
  const s3 = (c: VgerConfig) => backendSettings({ ...first(c), limits: lim(c) }, {}, c.cacheDir)
  const local = (c: VgerConfig) => backendSettings({ ...first(c), limits: lim(c) })
  return {
    [at]: { set: { nice: 5 }, read: (c) => lim(c).nice, shown: [niceTest] },
    [`${at}.connections`]: {
      set: 3,
      patch: S3_URL,
      read: (c) => s3(c)?.connections,
      shown: [CODE('crates/vger-storage/src/remote.rs', 'ConcurrentLimitLayer::new(connections)')],
      mentions: 'connections',
    },
    [`${at}.threads`]: {
      set: 3,
      read: (c) => jobLimits(lim(c)).threads,
      shown: [CODE('crates/vger-napi/src/repo.rs', 'threads: opts.threads.unwrap_or(0) as usize')],
      mentions: 'threads',
    },
    [`${at}.nice`]: { set: 5, read: (c) => lim(c).nice, shown: [niceTest] },
    [`${at}.upload_mib_per_sec`]: { set: 4, read: (c) => local(c)?.uploadBytesPerSec, shown: [rateTest] },
    [`${at}.download_mib_per_sec`]: { set: 4, read: (c) => local(c)?.downloadBytesPerSec, shown: [rateTest] },
    [`${at}.read_mib_per_sec`]: { set: 4, read: (c) => jobLimits(lim(c)).readBytesPerSec, shown: [rateTest] },
  }
}

/** Proofs for a `schedule` section at `at`: what the daemon plans from it. */
function schedule(at: string, sched: (c: VgerConfig) => RepositoryConfig['schedule']): Record<string, Proof> {
  const timing = (c: VgerConfig) => timingOf(sched(c))
  // A repository's cadence must come with `enabled: true`.
  const enabled: Patch | undefined = at.startsWith('repositories')
    ? (raw) => void ((raw.repositories[0] as Record<string, unknown>).schedule = { enabled: true })
    : undefined
  const withEnabled = enabled === undefined ? {} : { patch: enabled }
  return {
    [at]: { set: { enabled: true, every: '2s' }, read: (c) => [sched(c).enabled, timing(c)], shown: [daemonRuns] },
    [`${at}.enabled`]: { set: true, read: (c) => sched(c).enabled, shown: [daemonRuns, badCron] },
    [`${at}.every`]: { set: '2s', read: timing, shown: [daemonRuns], ...withEnabled },
    [`${at}.cron`]: { set: '0 3 * * *', read: timing, shown: [badCron], ...withEnabled },
    [`${at}.on_startup`]: { set: true, read: (c) => sched(c).onStartup, shown: [daemonRuns] },
    [`${at}.jitter_seconds`]: { set: 30, read: (c) => sched(c).jitterSeconds, shown: [daemonRuns, catchUp] },
  }
}

/** An env file holding FROM_FILE=from-the-file, for `env_file`. */
function envFile(): string {
  const file = path.join(tempDir(), 'vger.env')
  writeFileSync(file, 'FROM_FILE=from-the-file\n')
  return file
}

export const PROOFS: Record<string, Proof> = {
  repositories: { set: [{ url: '/a', label: 'a' }, { url: '/b' }], read: (c) => c.repositories.map((r) => r.url), shown: [several] },
  'repositories[].url': { set: '/elsewhere', read: (c) => first(c).url, shown: [several] },
  'repositories[].label': { set: 'nas', read: (c) => first(c).name, shown: [several] },
  'repositories[].allow_insecure_http': {
    set: true,
    patch: url('s3://minio.lan:9000/bucket/x'),
    read: (c) => settings(c)?.allowInsecureHttp,
    shown: [s3Round, T('test/unit/config-schema.test.ts', 'accepts plain http with allow_insecure_http')],
  },
  'repositories[].endpoint': {
    set: 'https://s3.example.com',
    patch: S3_URL,
    read: (c) => settings(c)?.endpoint,
    shown: [CODE(STORAGE_RS, 'b = b.endpoint(e)')],
  },
  'repositories[].region': { set: 'eu-west-1', patch: S3_URL, read: (c) => settings(c)?.region, shown: [s3Round] },
  'repositories[].profile': {
    set: 'backup',
    patch: S3_URL,
    read: (c) => settings(c)?.profile,
    shown: [CODE(STORAGE_RS, 'b = b.profile(p)')],
  },
  'repositories[].storage_class': {
    set: 'STANDARD_IA',
    patch: S3_URL,
    read: (c) => settings(c)?.storageClass,
    shown: [CODE(STORAGE_RS, 'b = b.default_storage_class(c)')],
  },
  'repositories[].virtual_host_style': {
    set: true,
    patch: S3_URL,
    read: (c) => settings(c)?.virtualHostStyle,
    shown: [CODE(STORAGE_RS, 'b = b.enable_virtual_host_style()')],
  },
  'repositories[].access_key_id': {
    set: 'AKIA1',
    patch: (raw) => {
      S3_URL(raw)
      ;(raw.repositories[0] as Record<string, unknown>).secret_access_key = 'secret'
      ;(raw.repositories[0] as Record<string, unknown>).access_key_id = 'AKIA0'
    },
    read: (c) => settings(c)?.accessKeyId,
    shown: [s3Round],
  },
  'repositories[].secret_access_key': {
    set: 'other-secret',
    patch: (raw) => {
      S3_URL(raw)
      ;(raw.repositories[0] as Record<string, unknown>).access_key_id = 'AKIA0'
      ;(raw.repositories[0] as Record<string, unknown>).secret_access_key = 'secret'
    },
    read: (c) => settings(c)?.secretAccessKey,
    shown: [s3Round, T(S3, 'the secret key appears in no output of any command')],
  },
  'repositories[].sftp_key': { set: '/keys/id', patch: SFTP_URL, read: (c) => settings(c)?.sftpKey, shown: [sftpRound] },
  'repositories[].sftp_known_hosts': {
    set: '/keys/known',
    patch: SFTP_URL,
    read: (c) => settings(c)?.sftpKnownHosts,
    shown: [T(SFTP, 'a host key that is not the trusted one is refused, naming the known_hosts file, and nothing is written')],
  },
  'repositories[].sftp_timeout': { set: 7, patch: SFTP_URL, read: (c) => settings(c)?.timeoutSecs, shown: [sftpRound] },
  'repositories[].access_token': {
    set: 'tok',
    patch: url('rest://127.0.0.1:8080/r'),
    read: (c) => settings(c)?.restToken,
    shown: [fullToken],
  },
  'repositories[].rest_token': {
    set: 'tok',
    patch: url('rest://127.0.0.1:8080/r'),
    read: (c) => settings(c)?.restToken,
    shown: [
      fullToken,
      T(
        'test/unit/config-vykar.test.ts',
        'loads without the refused keys, with compact, check, rest_token, retry and sftp_timeout applied',
      ),
    ],
  },
  'repositories[].webdav_password': {
    set: 'pw',
    patch: url('webdavs://me@dav.example/r'),
    read: (c) => settings(c)?.webdavPassword,
    shown: [T('test/e2e/remote-webdav.test.ts', 'a wrong password is VGER_REMOTE_AUTH, and no password appears in any output')],
  },
  'repositories[].tls_ca': {
    set: '/etc/vger/ca.pem',
    patch: url('rests://host:8443/r'),
    read: (c) => settings(c)?.tlsCa,
    shown: [T(SERVER, "serves HTTPS; the client trusts the server's certificate through tls_ca")],
  },
  'repositories[].s3_soft_delete': { refused: true, set: true },
  'repositories[].min_pack_size': { refused: true, set: '64MiB' },
  'repositories[].max_pack_size': { refused: true, set: '64MiB' },
  'repositories[].retry': { set: { max_retries: 2 }, patch: S3_URL, read: (c) => settings(c)?.maxRetries, shown: [fullToken, s3Round] },
  'repositories[].retry.max_retries': { set: 2, patch: S3_URL, read: (c) => settings(c)?.maxRetries, shown: [fullToken, s3Round] },
  'repositories[].retry.retry_delay_ms': { set: 20, patch: S3_URL, read: (c) => settings(c)?.retryDelayMs, shown: [fullToken, s3Round] },
  'repositories[].retry.retry_max_delay_ms': {
    set: 200,
    patch: S3_URL,
    read: (c) => settings(c)?.retryMaxDelayMs,
    shown: [fullToken, s3Round],
  },
  'repositories[].encryption': { set: { mode: 'none' }, read: (c) => first(c).encryption, shown: [swapIn] },
  'repositories[].encryption.mode': { set: 'none', read: (c) => first(c).encryption.mode, shown: [swapIn] },
  'repositories[].encryption.passphrase': { set: 'pw', read: (c) => first(c).encryption.passphrase, shown: [plainPassphrase] },
  'repositories[].encryption.passcommand': { set: 'pass show x', read: (c) => first(c).encryption.passcommand, shown: [passcommand] },
  'repositories[].compression': { set: { algorithm: 'zstd' }, read: (c) => first(c).compression, shown: [compression] },
  'repositories[].compression.algorithm': { set: 'zstd', read: (c) => first(c).compression.algorithm, shown: [compression] },
  'repositories[].compression.zstd_level': { set: 19, read: (c) => first(c).compression.zstdLevel, shown: [compression] },
  ...retention('repositories[].retention', prune, pruneList, true),
  ...limits('repositories[].limits', (c) => first(c).limits),
  ...schedule('repositories[].schedule', (c) => first(c).schedule),
  ...hooks('repositories[].hooks', HOOK_KEYS, plan, [hookOrder, hookPerCommand, planOrder, planReverse]),

  sources: { set: ['/a', { path: '/b', label: 'b' }], read: (c) => c.sources.map((s) => s.label), shown: [perSource] },
  'sources[].path': { set: '/elsewhere', read: (c) => src(c)?.paths, shown: [perSource] },
  'sources[].paths': {
    set: ['/x', '/y'],
    patch: (raw) => void (raw.sources[0] = { paths: ['/src'], label: 'src' }),
    read: (c) => src(c)?.paths,
    shown: [routing],
  },
  'sources[].label': { set: 'docs', read: (c) => src(c)?.label, shown: [T(COMMANDS, 'init, then backup -S picks one configured source')] },
  'sources[].exclude': {
    set: ['*.tmp'],
    read: (c) => src(c)?.exclude,
    shown: [T(COMMANDS, 'info shows the totals from stats()'), T('crates/vger-core/tests/lifecycle.rs', 'excludes_and_patterns')],
  },
  'sources[].exclude_if_present': { set: ['.nobackup'], read: (c) => src(c)?.excludeIfPresent, shown: [sourceOptions] },
  'sources[].one_file_system': {
    set: true,
    read: (c) => src(c)?.oneFileSystem,
    shown: [T(FILTER_RS, 'one_file_system_keeps_mount_points_empty')],
  },
  'sources[].git_ignore': { set: true, read: (c) => src(c)?.gitIgnore, shown: [sourceOptions] },
  'sources[].xattrs': {
    set: { enabled: false },
    read: (c) => src(c)?.xattrs,
    shown: [sourceOptions, T(FILTER_RS, 'xattrs_are_recorded_unless_turned_off')],
  },
  'sources[].xattrs.enabled': {
    set: false,
    read: (c) => src(c)?.xattrs,
    shown: [sourceOptions, T(FILTER_RS, 'xattrs_are_recorded_unless_turned_off')],
  },
  'sources[].repos': {
    set: ['r'],
    patch: (raw) => void raw.repositories.push({ url: '/other', label: 'other' }),
    read: (c) => src(c)?.repos,
    shown: [routing],
  },
  ...retention('sources[].retention', (c) => prune(c).byLabel, perSourceRule, false),
  ...hooks('sources[].hooks', HOOK_EVENTS, sourcePlan, [hookOrder, sourceHooks]),
  'sources[].command_dumps': {
    set: [{ name: 'db.sql', command: 'pg_dump db' }],
    read: (c) => src(c)?.commandDumps,
    shown: [dumpStreams, dumpFails],
  },
  'sources[].command_dumps[].name': {
    set: 'other.sql',
    patch: (raw) => void ((raw.sources[0] as Record<string, unknown>).command_dumps = [{ name: 'db.sql', command: 'pg_dump db' }]),
    read: (c) => src(c)?.commandDumps,
    shown: [dumpStreams],
  },
  'sources[].command_dumps[].command': {
    set: 'mysqldump db',
    patch: (raw) => void ((raw.sources[0] as Record<string, unknown>).command_dumps = [{ name: 'db.sql', command: 'pg_dump db' }]),
    read: (c) => src(c)?.commandDumps,
    shown: [dumpFails],
  },

  exclude_patterns: { set: ['*.log'], read: (c) => src(c)?.exclude, shown: [routing] },
  exclude_if_present: { set: ['.nobackup'], read: (c) => src(c)?.excludeIfPresent, shown: [sourceOptions] },
  one_file_system: { set: true, read: (c) => src(c)?.oneFileSystem, shown: [T(FILTER_RS, 'one_file_system_keeps_mount_points_empty')] },
  git_ignore: { set: true, read: (c) => src(c)?.gitIgnore, shown: [sourceOptions] },
  xattrs: {
    set: { enabled: false },
    read: (c) => src(c)?.xattrs,
    shown: [sourceOptions, T(FILTER_RS, 'xattrs_are_recorded_unless_turned_off')],
  },
  'xattrs.enabled': {
    set: false,
    read: (c) => src(c)?.xattrs,
    shown: [sourceOptions, T(FILTER_RS, 'xattrs_are_recorded_unless_turned_off')],
  },
  encryption: { set: { mode: 'none' }, read: (c) => first(c).encryption, shown: [swapIn] },
  'encryption.mode': { set: 'none', read: (c) => first(c).encryption.mode, shown: [swapIn] },
  'encryption.passphrase': { set: 'pw', read: (c) => first(c).encryption.passphrase, shown: [plainPassphrase] },
  'encryption.passcommand': { set: 'pass show x', read: (c) => first(c).encryption.passcommand, shown: [passcommand] },
  compression: { set: { algorithm: 'none' }, read: (c) => first(c).compression, shown: [compression] },
  'compression.algorithm': { set: 'none', read: (c) => first(c).compression.algorithm, shown: [compression] },
  'compression.zstd_level': { set: 9, read: (c) => first(c).compression.zstdLevel, shown: [compression] },
  chunker: { set: { avg_size: '2MiB' }, read: (c) => c.chunker, shown: [chunker] },
  'chunker.min_size': { set: '256KiB', read: (c) => c.chunker.minSize, shown: [chunker] },
  'chunker.avg_size': { set: '2MiB', read: (c) => c.chunker.avgSize, shown: [chunker] },
  'chunker.max_size': { set: '4MiB', read: (c) => c.chunker.maxSize, shown: [chunker] },
  ...retention('retention', prune, pruneList, true),
  ...limits('limits', (c) => first(c).limits),
  ...schedule('schedule', (c) => first(c).schedule),
  ...hooks('hooks', HOOK_KEYS, plan, [hookOrder, hookFailed, hookPerCommand, planOrder, planReverse]),
  hook_timeout: {
    set: 1,
    read: (c) => hookTimeoutMs({}, c.hookTimeoutSecs),
    shown: [T(HOOKS_E2E, 'hook_timeout in the config sets the limit; VGER_HOOK_TIMEOUT overrides it')],
  },
  compact: { set: { threshold: 60 }, read: (c) => c.compact.threshold, shown: [cycleDefects] },
  'compact.threshold': { set: 60, read: (c) => c.compact.threshold, shown: [cycleDefects] },
  check: { set: { max_percent: 5 }, read: (c) => c.check.maxPercent, shown: [cycleDefects] },
  'check.max_percent': { set: 5, read: (c) => c.check.maxPercent, shown: [cycleDefects] },
  'check.full_every': {
    set: '60d',
    read: (c) => fullCheckDue(c.check.fullEvery, new Date(0), new Date()),
    shown: [fullCheck, cycleDefects],
  },
  hostname: { set: 'laptop', read: (c) => c.hostname, shown: [T(CLI, 'list shows the snapshot')] },
  cache_dir: { set: '/var/cache/vger', read: (c) => c.cacheDir, shown: [fullCheck] },
  env_file: {
    set: envFile(),
    patch: (raw) => void (raw.hostname = '${FROM_FILE:-unset}'),
    read: (c) => c.hostname,
    shown: [T('test/unit/config-schema.test.ts', 'loads KEY=VALUE files before expansion; the environment wins')],
  },
}
