/**
 * A config written for vykar (issue 11, item 5): the keys vger can honour are mapped (`compact`,
 * `check.max_percent`, `check.full_every`, `rest_token`, `retry`, `sftp_timeout`); the ones it cannot
 * (`min_pack_size`, `max_pack_size`, `s3_soft_delete`) are refused, each with its reason (issue 14, item 6).
 */
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../ts/config/load.js'
import { ConfigError } from '../../ts/config/problems.js'

const FILE = '/etc/vger/vykar.yaml'
const parse = (text: string) => parseConfig(text, FILE, { env: { TOKEN: 'rest-secret' }, home: '/home/tester' })

/** Every vykar key vger did not know, as vykar's documentation writes them. */
const VYKAR = `repositories:
  - label: nas
    url: https://nas.example/backups
    rest_token: \${TOKEN}
    min_pack_size: 32MiB
    max_pack_size: 192MiB
    retry:
      max_retries: 5
      retry_delay_ms: 1500
      retry_max_delay_ms: 60000
  - label: s3
    url: s3://s3.example:9000/bucket/vykar
    region: eu-central-1
    access_key_id: AKIA
    secret_access_key: s3-secret
    s3_soft_delete: true
  - label: ssh
    url: sftp://backup@host/srv/vykar
    sftp_timeout: 60
sources:
  - /home/tester/docs
compact:
  threshold: 25
check:
  max_percent: 10
  full_every: 60d
`

/** The vykar keys vger refuses, and where VYKAR sets them. */
const REFUSED = [
  ['repositories[0].min_pack_size', 5, 20, 'fixed target of 32 MiB'],
  ['repositories[0].max_pack_size', 6, 20, 'fixed target of 32 MiB'],
  ['repositories[1].s3_soft_delete', 16, 21, 'deletes objects outright'],
] as const

const honoured = (text: string): string => text.replace(/^ {4}(min_pack_size|max_pack_size|s3_soft_delete): .*\n/gm, '')

describe('a vykar config', () => {
  it('loads without the refused keys, with compact, check, rest_token, retry and sftp_timeout applied', () => {
    const c = parse(honoured(VYKAR))
    expect(c.compact).toEqual({ threshold: 25 })
    expect(c.check).toEqual({ maxPercent: 10, fullEvery: 60 * 86400 })
    expect(c.repositories.map((r) => r.backend?.accessToken)).toEqual(['rest-secret', undefined, undefined])
    expect(c.repositories[0]?.retry).toEqual({ maxRetries: 5, retryDelayMs: 1500, retryMaxDelayMs: 60000 })
    expect(c.repositories[2]?.sftpTimeoutSecs).toBe(60)
    expect(c.inert).toEqual([])
  })

  it('refuses the keys vger cannot honour, each with its position, the reason and what to do', () => {
    let error: unknown
    try {
      parse(VYKAR)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ConfigError)
    const problems = (error as ConfigError).problems
    expect(problems.map((p) => [p.line, p.col])).toEqual(REFUSED.map(([, line, col]) => [line, col]))
    for (const [i, [path, , , reason]] of REFUSED.entries()) {
      expect(problems[i]?.message).toContain(`${path} is not supported: `)
      expect(problems[i]?.message).toContain(reason)
      expect(problems[i]?.message).toContain('remove the key')
    }
    expect((error as ConfigError).code).toBe('VGER_CONFIG')
  })

  it.each([['min_pack_size: 64MiB'], ['max_pack_size: 32MiB'], ['s3_soft_delete: false']])('refuses %s whatever its value', (line) => {
    expect(() => parse(`repositories:\n  - url: /r\n    ${line}\n`)).toThrow(/is not supported: .*remove the key/)
  })

  it('uses compact.threshold and check.max_percent only when set', () => {
    const c = parse('repositories:\n  - url: /r\n')
    expect(c.compact).toEqual({})
    expect(c.check).toEqual({ maxPercent: 0 })
    expect(c.inert).toEqual([])
  })

  it.each([
    [
      'access_token and rest_token together',
      'repositories:\n  - url: https://h/r\n    access_token: a\n    rest_token: b\n',
      'use either "access_token" or "rest_token"',
    ],
    [
      'a threshold above 100',
      'repositories:\n  - url: /r\ncompact:\n  threshold: 120\n',
      'expected compact.threshold to be an integer from 0 to 100',
    ],
    ['a retry that is not a mapping', 'repositories:\n  - url: /r\n    retry: 5\n', 'expected repositories[0].retry to be a mapping'],
    [
      'a full_every that is not a duration',
      'repositories:\n  - url: /r\ncheck:\n  full_every: often\n',
      'expected check.full_every to be a duration',
    ],
    [
      'a misspelt check key',
      'repositories:\n  - url: /r\ncheck:\n  max_percnt: 5\n',
      'unknown key "max_percnt" (did you mean "max_percent"?)',
    ],
  ])('refuses %s', (_, text, message) => {
    expect(() => parse(text)).toThrow(ConfigError)
    expect(() => parse(text)).toThrow(message)
  })
})
