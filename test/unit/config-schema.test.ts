/** The full config surface: every section parsed, validated with positions, resolved and typed. */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig, parseConfig } from '../../ts/config/load.js'
import { ConfigError } from '../../ts/config/problems.js'
import { STARTER_CONFIG } from '../../ts/config/starter.js'
import { parseCron, parseInterval, parseRetentionDuration, parseSize } from '../../ts/config/units.js'
import { parseRepositoryUrl } from '../../ts/config/url.js'
import { tempDir } from '../helpers/temp-dir.js'

const FILE = '/etc/vger/test.yaml'
const HOME = '/home/tester'
const REPO = 'repositories:\n  - url: /backups/main\n'

const parse = (text: string, env: Record<string, string> = {}) => parseConfig(text, FILE, { env, home: HOME })

function problems(text: string, env: Record<string, string> = {}): string[] {
  try {
    parse(text, env)
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return (e as ConfigError).problems.map((p) => `${p.line}:${p.col}: ${p.message}`)
  }
  throw new Error('expected the config to be rejected')
}

const FULL = `repositories:
  - url: /backups/local
    label: local
    hooks:
      after_backup: "echo local done"
  - url: s3://minio.lan:9000/bucket/vger
    label: remote
    region: eu-west-1
    access_key_id: AKIA
    secret_access_key: secret
    encryption:
      passcommand: pass show remote
    compression:
      algorithm: zstd
      zstd_level: 9
    retention:
      keep_daily: 30
    limits:
      upload_mib_per_sec: 5
    schedule:
      enabled: true
      cron: "0 3 * * *"
  - url: sftp://backup@nas:2222/srv/vger
    label: nas
    sftp_key: ~/.ssh/id_ed25519
  - url: https://backup.example.com/repo
    label: rest
    access_token: tok
sources:
  - ~/notes
  - path: /srv/db
    label: databases
    exclude: ["*.tmp"]
    exclude_if_present: [.nobackup]
    one_file_system: true
    git_ignore: true
    xattrs: {enabled: true}
    repos: [local, remote]
    retention: {keep_last: 3}
    hooks:
      before: pg_dump db > /srv/db/db.sql
      finally: [rm -f /srv/db/db.sql, sync]
  - label: dumps
    command_dumps:
      - name: app.sql
        command: pg_dump app
exclude_patterns: [.cache/]
exclude_if_present: [.vgerignore]
one_file_system: false
git_ignore: false
xattrs: {enabled: false}
encryption: {mode: aes256gcm, passcommand: pass show vger}
compression: {algorithm: lz4}
chunker: {min_size: 256KiB, avg_size: 1MiB, max_size: 4MiB}
retention:
  keep_last: 2
  keep_hourly: 24
  keep_daily: 7
  keep_weekly: 4
  keep_monthly: 6
  keep_yearly: 1
  keep_within: 2d
limits: {connections: 4, threads: 2, nice: 10, upload_mib_per_sec: 0, download_mib_per_sec: 50}
schedule: {enabled: true, every: 6h, on_startup: true, jitter_seconds: 300}
hooks:
  before: echo start
  failed: [notify-send failed]
  finally_check: echo checked
hostname: laptop
cache_dir: ~/.cache/vger-custom
`

describe('every config key', () => {
  const c = parse(FULL)

  it('resolves repositories with their locations and overrides (wholesale, no field merge)', () => {
    const [local, remote, nas, rest] = c.repositories
    expect(local).toMatchObject({
      name: 'local',
      location: { backend: 'local', path: '/backups/local' },
      encryption: c.encryption,
      compression: c.compression,
    })
    expect(local?.hooks).toEqual({ after_backup: ['echo local done'] })
    expect(remote).toMatchObject({
      location: { backend: 's3', endpoint: 'https://minio.lan:9000', bucket: 'bucket', prefix: 'vger', insecure: false },
      backend: { region: 'eu-west-1', accessKeyId: 'AKIA', secretAccessKey: 'secret', allowInsecureHttp: false },
      encryption: { mode: 'auto', passcommand: 'pass show remote' },
      compression: { algorithm: 'zstd', zstdLevel: 9 },
      retention: { keepDaily: 30 },
      limits: { threads: 0, nice: 0, uploadMibPerSec: 5, downloadMibPerSec: 0, readMibPerSec: 0 },
      schedule: { enabled: true, cron: '0 3 * * *', onStartup: false, jitterSeconds: 0 },
    })
    expect(remote?.schedule.every).toBeUndefined()
    expect(nas).toMatchObject({
      location: { backend: 'sftp', user: 'backup', host: 'nas', port: 2222, path: '/srv/vger' },
      backend: { sftpKey: `${HOME}/.ssh/id_ed25519` },
    })
    expect(rest).toMatchObject({
      location: { backend: 'rest', url: 'https://backup.example.com/repo', insecure: false },
      backend: { accessToken: 'tok' },
    })
  })

  it('resolves sources: inherited options, own options, hooks as lists, dumps', () => {
    const [notes, db, dumps] = c.sources
    expect(notes).toMatchObject({
      label: 'notes',
      paths: [`${HOME}/notes`],
      exclude: ['.cache/'],
      excludeIfPresent: ['.vgerignore'],
      oneFileSystem: false,
    })
    expect(db).toEqual({
      label: 'databases',
      paths: ['/srv/db'],
      exclude: ['.cache/', '*.tmp'],
      excludeIfPresent: ['.nobackup'],
      oneFileSystem: true,
      gitIgnore: true,
      xattrs: true,
      iexclude: [],
      excludeCaches: false,
      repos: ['local', 'remote'],
      retention: { keepLast: 3 },
      hooks: { before: ['pg_dump db > /srv/db/db.sql'], finally: ['rm -f /srv/db/db.sql', 'sync'] },
      commandDumps: [],
    })
    expect(dumps).toMatchObject({ label: 'dumps', paths: [], commandDumps: [{ name: 'app.sql', command: 'pg_dump app' }] })
  })

  it('resolves the top-level sections with units', () => {
    expect(c.chunker).toEqual({ minSize: 256 * 1024, avgSize: 1024 * 1024, maxSize: 4 * 1024 * 1024 })
    expect(c.retention).toEqual({
      keepLast: 2,
      keepHourly: 24,
      keepDaily: 7,
      keepWeekly: 4,
      keepMonthly: 6,
      keepYearly: 1,
      keepWithin: '2d',
    })
    expect(c.limits).toEqual({ connections: 4, threads: 2, nice: 10, uploadMibPerSec: 0, downloadMibPerSec: 50, readMibPerSec: 0 })
    expect(c.schedule).toEqual({ enabled: true, every: 6 * 3600, onStartup: true, jitterSeconds: 300 })
    expect(c.hooks).toEqual({ before: ['echo start'], failed: ['notify-send failed'], finally_check: ['echo checked'] })
    expect(c.cacheDir).toBe(`${HOME}/.cache/vger-custom`)
    expect(c.hostname).toBe('laptop')
  })

  it('accepts the starter config written by `vger config`', () => {
    const starter = parse(STARTER_CONFIG)
    expect(starter.repositories.map((r) => r.name)).toEqual(['local'])
    expect(starter.sources.map((s) => s.label)).toEqual(['documents'])
    expect(starter.retention).toEqual({ keepDaily: 7, keepWeekly: 4, keepMonthly: 6 })
  })
})

describe('validation of the new sections, with positions', () => {
  it.each([
    ['an unknown retention key', `${REPO}retention:\n  keep_dayly: 3\n`, '4:3: unknown key "keep_dayly" (did you mean "keep_daily"?)'],
    [
      'a negative keep count',
      `${REPO}retention:\n  keep_last: -1\n`,
      '4:14: expected retention.keep_last to be an integer of at least 0, got a number (-1)',
    ],
    [
      'a bad keep_within',
      `${REPO}retention:\n  keep_within: 2 days\n`,
      '4:16: expected retention.keep_within to be a duration such as 24h, 7d, 2w, 6m (months) or 1y, got "2 days"',
    ],
    [
      'a bad size',
      `${REPO}chunker:\n  avg_size: 2 lemons\n`,
      '4:13: expected chunker.avg_size to be a size such as 2MiB, 512KiB or 1048576, got "2 lemons"',
    ],
    [
      'chunker sizes out of order',
      `${REPO}chunker:\n  min_size: 4MiB\n  avg_size: 1MiB\n`,
      '4:3: chunker.min_size must be from 64 B to 1 MiB, got 4194304 bytes',
    ],
    [
      'chunker min above avg',
      `${REPO}chunker:\n  min_size: 1MiB\n  avg_size: 512KiB\n`,
      '4:3: chunker sizes must satisfy min_size <= avg_size <= max_size, got 1048576 / 524288 / 8388608 bytes',
    ],
    [
      'threads out of range',
      `${REPO}limits:\n  threads: 500\n`,
      '4:12: expected limits.threads to be an integer from 0 to 128, got a number (500)',
    ],
    ['nice out of range', `${REPO}limits:\n  nice: 20\n`, '4:9: expected limits.nice to be an integer from -20 to 19, got a number (20)'],
    [
      'every and cron together',
      `${REPO}schedule:\n  every: 1h\n  cron: "0 * * * *"\n`,
      '4:3: use either "every" or "cron" in schedule, not both',
    ],
    [
      'a cron with 4 fields',
      `${REPO}schedule:\n  cron: "0 3 * *"\n`,
      '4:9: expected schedule.cron to be a cron expression with 5 fields (minute hour day month weekday), got 4: "0 3 * *"',
    ],
    [
      'a cron hour out of range',
      `${REPO}schedule:\n  cron: "0 25 * * *"\n`,
      '4:9: schedule.cron: cron hour "25" is out of range 0-23 in "0 25 * * *"',
    ],
    [
      'a cron range croner refuses',
      `${REPO}schedule:\n  cron: "5-2 * * * *"\n`,
      `4:9: schedule.cron: invalid cron expression "5-2 * * * *" (From value is larger than to value: '5-2'); expected a cron expression such as "0 3 * * *" (minute hour day month weekday)`,
    ],
    [
      'a cron that never matches',
      `${REPO}schedule:\n  cron: "0 0 31 2 *"\n`,
      '4:9: schedule.cron: the cron expression "0 0 31 2 *" never matches a date; expected a cron expression such as "0 3 * * *" (minute hour day month weekday)',
    ],
    [
      'a bad interval',
      `${REPO}schedule:\n  every: 1w\n`,
      '4:10: expected schedule.every to be an interval such as 30m (minutes), 6h or 1d, got "1w"',
    ],
    ['a boolean that is a string', `${REPO}one_file_system: "yes"\n`, '3:18: expected one_file_system to be true or false, got "yes"'],
    [
      'an unknown hook',
      `${REPO}hooks:\n  before_restore: x\n`,
      '4:3: unknown key "before_restore"; valid keys in hooks: before, after, failed, finally, before_backup, after_backup, failed_backup, finally_backup, before_prune, after_prune, failed_prune, finally_prune, before_compact, after_compact, failed_compact, finally_compact, before_check, after_check, failed_check, finally_check',
    ],
    [
      'a command hook on a source',
      `${REPO}sources:\n  - path: /a\n    hooks:\n      before_backup: x\n`,
      '6:7: unknown key "before_backup"; valid keys in sources[0].hooks: before, after, failed, finally',
    ],
    ['a hook that is a mapping', `${REPO}hooks:\n  before: {a: b}\n`, '4:11: expected hooks.before to be a string, got a mapping'],
    [
      'an unsupported URL scheme',
      'repositories:\n  - url: ftp://host/x\n',
      '2:10: repositories[0].url: unsupported URL scheme "ftp://" in "ftp://host/x"; expected a local path, file:///path, s3://bucket[/prefix], s3://host[:port]/bucket[/prefix], sftp://[user@]host[:port]/path, rests://host[:port]/repo, rest://host[:port]/repo or webdavs://[user@]host[:port]/path',
    ],
    [
      'an S3 URL without bucket',
      'repositories:\n  - url: s3+https://minio:9000\n',
      '2:10: repositories[0].url: "s3+https://minio:9000": no bucket after the host: s3://host[:port]/bucket[/prefix]',
    ],
    [
      'plain http without consent',
      'repositories:\n  - url: http://nas/repo\n',
      '2:10: repositories[0].url uses plain http; set "allow_insecure_http: true" in repositories[0] to accept that (credentials and metadata travel unencrypted)',
    ],
    [
      'a source naming an unknown repository',
      'repositories:\n  - url: /a\n    label: usb\nsources:\n  - path: /x\n    repos: [ubs]\n',
      '6:13: sources[0].repos names "ubs", which is not a repository label (did you mean "usb"?)',
    ],
    [
      'a dump name with a slash',
      `${REPO}sources:\n  - label: d\n    command_dumps:\n      - name: a/b\n        command: x\n`,
      '6:15: sources[0].command_dumps[0].name "a/b" must be a plain file name (no "/" or "\\")',
    ],
    [
      'a dump-only source without label',
      `${REPO}sources:\n  - command_dumps:\n      - {name: a, command: x}\n`,
      '4:5: sources[0] has only command dumps: give it a "label"',
    ],
    [
      'a duplicate dump name',
      `${REPO}sources:\n  - label: d\n    command_dumps:\n      - {name: a, command: x}\n      - {name: a, command: y}\n`,
      '7:16: duplicate name "a" in sources[0].command_dumps (first used at line 6)',
    ],
    [
      'a repository schedule with a cadence but not enabled',
      'repositories:\n  - url: /a\n    schedule:\n      every: 1h\n',
      '4:7: repositories[0].schedule sets "every" or "cron" but not "enabled: true"; add it, or remove the cadence',
    ],
  ])('%s', (_, text, expected) => {
    expect(problems(text)).toEqual([expected])
  })

  it('accepts plain http with allow_insecure_http', () => {
    expect(parse('repositories:\n  - url: http://nas/repo\n    allow_insecure_http: true\n').repositories[0]?.location).toEqual({
      backend: 'rest',
      url: 'http://nas/repo',
      insecure: true,
    })
  })
})

describe('env_file and ${VAR}', () => {
  it('loads KEY=VALUE files before expansion; the environment wins', () => {
    const dir = tempDir()
    writeFileSync(path.join(dir, 'vger.env'), '# comment\nexport REPO_DIR="/mnt/usb"\nLABEL=usb\nHOST=\'from-file\'\n\n')
    const file = path.join(dir, 'vger.yaml')
    writeFileSync(file, 'env_file: vger.env\nrepositories:\n  - url: ${REPO_DIR}/vger\n    label: ${LABEL}\nhostname: ${HOST}\n')
    const c = loadConfig({ configFile: file, env: { HOST: 'from-env' }, cwd: dir, home: HOME })
    expect(c.repositories[0]).toMatchObject({ url: '/mnt/usb/vger', name: 'usb' })
    expect(c.hostname).toBe('from-env')
    expect(c.envFiles).toEqual([path.join(dir, 'vger.env')])
  })

  it('reports a missing env file at its position, and a bad line in it', () => {
    const dir = tempDir()
    const file = path.join(dir, 'vger.yaml')
    writeFileSync(file, 'env_file: [missing.env]\nrepositories:\n  - url: /r\n')
    expect(() => loadConfig({ configFile: file, env: {}, cwd: dir, home: HOME })).toThrow(
      `${file}:1:12: env_file ${path.join(dir, 'missing.env')} does not exist`,
    )
    writeFileSync(path.join(dir, 'bad.env'), 'OK=1\nnot a line\n')
    writeFileSync(file, 'env_file: bad.env\nrepositories:\n  - url: /r\n')
    expect(() => loadConfig({ configFile: file, env: {}, cwd: dir, home: HOME })).toThrow(
      `${path.join(dir, 'bad.env')}:2:1: expected KEY=VALUE`,
    )
  })

  it('names an unset ${VAR} with its file, line and column', () => {
    expect(() => parse('repositories:\n  - url: /r\nhostname: ${MISSING_HOST}\n')).toThrow(
      `${FILE}:3:11: environment variable "MISSING_HOST" is not set (export it, or write \${MISSING_HOST:-default})`,
    )
  })
})

describe('units', () => {
  it.each([
    ['2MiB', 2 * 1024 ** 2],
    ['512k', 512 * 1024],
    ['1.5G', 1.5 * 1024 ** 3],
    ['10MB', 10_000_000],
    ['100', 100],
    [4096, 4096],
  ])('size %s', (input, bytes) => expect(parseSize(input)).toEqual({ value: bytes }))

  it('rejects bad sizes', () => {
    expect(parseSize('-1')).toHaveProperty('error')
    expect(parseSize('2 parsecs')).toHaveProperty('error')
    expect(parseSize(1.5)).toHaveProperty('error')
  })

  it('reads retention durations (m = 30 days) and intervals (m = minutes)', () => {
    expect(parseRetentionDuration('24h')).toEqual({ value: 86400 })
    expect(parseRetentionDuration('2w')).toEqual({ value: 14 * 86400 })
    expect(parseRetentionDuration('6m')).toEqual({ value: 180 * 86400 })
    expect(parseRetentionDuration('1y')).toEqual({ value: 365 * 86400 })
    expect(parseRetentionDuration(3)).toEqual({ value: 3 * 86400 })
    expect(parseRetentionDuration('0d')).toHaveProperty('error')
    expect(parseInterval('30m')).toEqual({ value: 1800 })
    expect(parseInterval('90s')).toEqual({ value: 90 })
  })

  it('checks cron expressions', () => {
    expect(parseCron('*/15 2-4 * * mon-fri')).toEqual({ value: '*/15 2-4 * * mon-fri' })
    expect(parseCron('0 0 32 * *')).toHaveProperty('error')
    expect(parseCron('0 3 * * 7')).toEqual({ value: '0 3 * * 7' })
    expect(parseCron('*/0 * * * *')).toHaveProperty('error')
    expect(parseCron('0 0 30 2 *')).toHaveProperty('error')
  })

  it('parses every repository URL form', () => {
    expect(parseRepositoryUrl('/r')).toEqual({ value: { backend: 'local', path: '/r' } })
    expect(parseRepositoryUrl('file:///mnt/r')).toEqual({ value: { backend: 'local', path: '/mnt/r' } })
    expect(parseRepositoryUrl('s3+http://minio:9000/b')).toEqual({
      value: { backend: 's3', endpoint: 'http://minio:9000', bucket: 'b', prefix: '', insecure: true },
    })
    // S3: the bucket form (endpoint from the config or AWS) and vykar's host form, told apart as the engine does.
    expect(parseRepositoryUrl('s3://backups/laptop/home')).toEqual({
      value: { backend: 's3', bucket: 'backups', prefix: 'laptop/home', insecure: false },
    })
    expect(parseRepositoryUrl('s3://s3.example.com/b/p')).toEqual({
      value: { backend: 's3', endpoint: 'https://s3.example.com', bucket: 'b', prefix: 'p', insecure: false },
    })
    expect(parseRepositoryUrl('s3://my.bucket/p', { endpoint: 'http://127.0.0.1:9000' })).toEqual({
      value: { backend: 's3', bucket: 'my.bucket', prefix: 'p', insecure: true },
    })
    expect(parseRepositoryUrl('s3://AKIA:s3cr3t@host/b')).toHaveProperty('error')
    expect(JSON.stringify(parseRepositoryUrl('s3://AKIA:s3cr3t@host/b'))).not.toContain('s3cr3t')
    expect(parseRepositoryUrl('s3://host.x/b/../c')).toHaveProperty('error')
    expect(parseRepositoryUrl('sftp://host/data')).toEqual({ value: { backend: 'sftp', host: 'host', path: '/data' } })
    expect(parseRepositoryUrl('file://server/share')).toHaveProperty('error')
    expect(parseRepositoryUrl('sftp://u:pw@host/x')).toHaveProperty('error')
  })
})
