/**
 * No config error ever shows a secret (issue 11, item 10): a passphrase or a credential written as a
 * number, a boolean, a list or a mapping is refused with its type only.
 */
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../ts/config/load.js'
import { ConfigError } from '../../ts/config/problems.js'

function message(text: string): string {
  try {
    parseConfig(text, '/etc/vger/s.yaml', { env: {}, home: '/home/tester' })
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return (e as ConfigError).message
  }
  throw new Error('expected the config to be rejected')
}

/** Where each secret key is written, as a config prefix and the key's indentation. */
const PLACES: [string, (v: string) => string][] = [
  ['encryption.passphrase', (v) => `repositories:\n  - url: /r\nencryption:\n  passphrase: ${v}\n`],
  ['encryption.passcommand', (v) => `repositories:\n  - url: /r\nencryption:\n  passcommand: ${v}\n`],
  ['repositories[0].encryption.passphrase', (v) => `repositories:\n  - url: /r\n    encryption:\n      passphrase: ${v}\n`],
  ['repositories[0].secret_access_key', (v) => `repositories:\n  - url: s3://h/b\n    secret_access_key: ${v}\n`],
  ['repositories[0].access_token', (v) => `repositories:\n  - url: https://h/r\n    access_token: ${v}\n`],
  ['repositories[0].rest_token', (v) => `repositories:\n  - url: https://h/r\n    rest_token: ${v}\n`],
]

/** Values of other types, and the text of the secret in each that must never appear. */
const VALUES: [string, string, string][] = [
  ['an integer', '8675309', '8675309'],
  ['a float', '3.14159', '3.14159'],
  ['a boolean', 'true', 'true'],
  ['a list', '[hunter2, swordfish]', 'hunter2'],
  ['a block list', '\n        - hunter2', 'hunter2'],
  ['a mapping', '{hunter2: swordfish}', 'swordfish'],
]

describe('secrets in config errors', () => {
  for (const [path, place] of PLACES) {
    it.each(VALUES)(`${path} written as %s is refused without showing it`, (_, value, secret) => {
      const m = message(place(value))
      expect(m).toContain(`expected ${path} to be a string`)
      expect(m).not.toContain(secret)
    })
  }

  it('says how to fix a number without repeating it', () => {
    expect(message(PLACES[0]?.[1]('12345') ?? '')).toBe(
      '/etc/vger/s.yaml:4:15: expected encryption.passphrase to be a string, got a number; quote it (the value is not shown here)',
    )
  })

  it('does not repeat credentials written into a REST URL', () => {
    const m = message('repositories:\n  - url: https://user:pa55word@nas/repo\n')
    expect(m).toContain('do not put credentials in the URL')
    expect(m).not.toContain('pa55word')
  })
})

describe('chunker problems come with every other problem, at once', () => {
  it('reports each size out of bounds and an unknown key in one error', () => {
    const m = message('repositories:\n  - url: /r\nchunker:\n  min_size: 4MiB\n  max_size: 64MiB\nhostnme: x\n')
    expect(m.split('\n')).toEqual([
      '/etc/vger/s.yaml:4:3: chunker.min_size must be from 64 B to 1 MiB, got 4194304 bytes',
      '/etc/vger/s.yaml:4:3: chunker.max_size must be from 1 KiB to 16 MiB, got 67108864 bytes',
      '/etc/vger/s.yaml:6:1: unknown key "hostnme" (did you mean "hostname"?)',
    ])
  })
})
