/** The pure rules of hooks (ts/hooks/plan.ts): order, placeholders, quoting, environment, URL redaction. */
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { hookEnv, planHooks, planSourceHooks, redactUrl, shellQuote, substitute } from '../../ts/hooks/plan.js'

describe('planHooks', () => {
  const global = { before: ['g1', 'g2'], before_backup: ['gb'], after: ['ga'], after_backup: ['gab'], finally_prune: ['gfp'] }
  const repo = { before: ['r'], before_backup: ['rb'], after: ['ra'], after_backup: ['rab'] }

  it('runs before hooks global bare, repository bare, global specific, repository specific', () => {
    expect(planHooks('before', 'backup', global, repo).map((h) => h.command)).toEqual(['g1', 'g2', 'r', 'gb', 'rb'])
  })

  it('runs after, failed and finally hooks in the reverse order', () => {
    expect(planHooks('after', 'backup', global, repo).map((h) => `${h.scope}:${h.key}:${h.command}`)).toEqual([
      'repository:after_backup:rab',
      'global:after_backup:gab',
      'repository:after:ra',
      'global:after:ga',
    ])
    expect(planHooks('after', 'check', global, repo).map((h) => h.command)).toEqual(['ra', 'ga'])
    expect(planHooks('finally', 'prune', global, {}).map((h) => h.command)).toEqual(['gfp'])
    expect(planHooks('failed', 'compact', global, repo)).toEqual([])
  })

  it('takes a source its bare keys only, in the order written', () => {
    expect(planSourceHooks('finally', { finally: ['a', 'b'] })).toEqual([
      { key: 'finally', scope: 'source', command: 'a' },
      { key: 'finally', scope: 'source', command: 'b' },
    ])
  })
})

describe('substitute', () => {
  const vars = { command: 'backup' as const, repository: 'main', repositoryUrl: '/r', label: 'main' }

  it('replaces each placeholder by one quoted word, in one pass', () => {
    expect(substitute('echo {command} {repository} {label} {error} {source_label} {source_path}', vars)).toBe(
      "echo 'backup' 'main' 'main' '' '' ''",
    )
    // A value holding a placeholder is not expanded again; other braces stay.
    expect(substitute('x {error} ${HOME} {nope}', { ...vars, error: '{label}' })).toBe("x '{label}' ${HOME} {nope}")
    expect(substitute('ls {source_path}', { ...vars, sourcePaths: ['/a', '/b c'] })).toBe("ls '/a:/b c'")
  })

  it.each([["it's"], ['$(rm -rf /) `id` "q" \\ \n new line'], ['']])('quotes %j so sh reads it back unchanged', (text) => {
    const out = execFileSync('sh', ['-c', `printf %s ${shellQuote(text)}`], { encoding: 'utf8' })
    expect(out).toBe(text)
  })
})

describe('hookEnv', () => {
  const vars = { command: 'prune' as const, repository: 'main', repositoryUrl: '/r' }

  it('drops VGER_* and secret names, and values that are or contain a secret; sets the hook variables', () => {
    const env = hookEnv(
      {
        PATH: '/bin',
        VGER_PASSPHRASE: 'pw',
        VGER_REST_TOKEN: 'tok',
        VGER_SOMETHING: 'x',
        AWS_SECRET_ACCESS_KEY: 'k',
        AWS_ACCESS_KEY_ID: 'id',
        MY_PW: 'hunter2-hunter2',
        DB_URL: 'postgres://u:hunter2-hunter2@h/db',
        SHORT: 'abc',
        HAS_SHORT: 'xabcx',
      },
      { ...vars, error: 'VGER_X: boom' },
      'failed_prune',
      ['hunter2-hunter2', 'abc', ''],
    )
    expect(env).toEqual({
      PATH: '/bin',
      AWS_ACCESS_KEY_ID: 'id',
      HAS_SHORT: 'xabcx',
      VGER_COMMAND: 'prune',
      VGER_HOOK: 'failed_prune',
      VGER_REPOSITORY: 'main',
      VGER_REPOSITORY_URL: '/r',
      VGER_LABEL: '',
      VGER_ERROR: 'VGER_X: boom',
    })
  })
})

describe('redactUrl', () => {
  it.each([
    ['/srv/backups/repo', '/srv/backups/repo'],
    ['webdavs://alice@dav.example.com/backups', 'webdavs://dav.example.com/backups'],
    ['rests://user:secret@host:8443/repo?token=abc#x', 'rests://host:8443/repo'],
    ['s3://bucket/prefix', 's3://bucket/prefix'],
    ['sftp://bob@host:2222/srv/repo', 'sftp://host:2222/srv/repo'],
  ])('%s → %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown)
  })
})
