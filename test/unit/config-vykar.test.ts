/**
 * A config written for vykar loads (issue 11, item 5): the keys vger can honour are mapped (`compact`,
 * `check.max_percent`, `rest_token`), the rest are accepted and warned about as not applied yet.
 */
import { describe, expect, it } from 'vitest'
import { inertWarning } from '../../ts/config/inert.js'
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

describe('a vykar config', () => {
  it('loads, with compact, check and rest_token applied', () => {
    const c = parse(VYKAR)
    expect(c.compact).toEqual({ threshold: 25 })
    expect(c.check).toEqual({ maxPercent: 10, fullEvery: '60d' })
    expect(c.repositories.map((r) => r.backend?.accessToken)).toEqual(['rest-secret', undefined, undefined])
  })

  it('warns about every key that does nothing yet, naming where', () => {
    const c = parse(VYKAR)
    expect(c.inert.map((k) => k.path)).toEqual([
      'repositories[0].min_pack_size',
      'repositories[0].max_pack_size',
      'repositories[1].s3_soft_delete',
      'check.full_every',
    ])
    // vykar's remote settings are applied: retries and the SFTP timeout reach the backend settings.
    expect(c.repositories[0]?.retry).toEqual({ maxRetries: 5, retryDelayMs: 1500, retryMaxDelayMs: 60000 })
    expect(c.repositories[2]?.sftpTimeoutSecs).toBe(60)
    expect(c.inert.map((k) => inertWarning(FILE, k))[0]).toBe(
      `${FILE}:5:20: "repositories[0].min_pack_size" is accepted but not applied by this version yet; it has no effect`,
    )
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
      'a pack size that is not a size',
      'repositories:\n  - url: /r\n    max_pack_size: big\n',
      'expected repositories[0].max_pack_size to be a size',
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
