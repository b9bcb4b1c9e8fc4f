import { PassThrough } from 'node:stream'
import { describe, expect, it, vi } from 'vitest'
import { promptHidden } from '../../ts/cli/prompt.js'
import type { EncryptionConfig } from '../../ts/config/types.js'
import { type PassphraseRequest, resolvePassphrase, runPasscommand } from '../../ts/passphrase.js'

function request(encryption: Partial<EncryptionConfig>, extra: Partial<PassphraseRequest> = {}): PassphraseRequest {
  return { repository: 'main', encryption: { mode: 'auto', ...encryption }, configFile: '/etc/vger/config.yaml', ...extra }
}

async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p
  } catch (e) {
    return e as { code: string; message: string }
  }
  throw new Error('expected a rejection')
}

describe('passphrase from the config', () => {
  it('is used first, with a plain-text warning that does not contain it', async () => {
    const warn = vi.fn()
    const prompt = vi.fn()
    const r = await resolvePassphrase(
      request({ passphrase: 'hunter2', passcommand: 'echo other' }, { envPassphrase: 'env-pass', warn, prompt }),
    )
    expect(r).toEqual({ passphrase: 'hunter2', source: 'config' })
    expect(warn).toHaveBeenCalledOnce()
    const message = String(warn.mock.calls[0]?.[0])
    expect(message).toContain('plain text in /etc/vger/config.yaml')
    expect(message).not.toContain('hunter2')
    expect(prompt).not.toHaveBeenCalled()
  })
})

describe('passcommand', () => {
  it('comes before VGER_PASSPHRASE and is trimmed', async () => {
    const r = await resolvePassphrase(request({ passcommand: "printf '  s3cret phrase \\n\\n'" }, { envPassphrase: 'env-pass' }))
    expect(r).toEqual({ passphrase: 's3cret phrase', source: 'passcommand' })
  })

  it('runs through sh -c with the environment', async () => {
    process.env.VGER_TEST_SECRET = 'from-env-var'
    try {
      expect(await runPasscommand('echo "$VGER_TEST_SECRET" | tr a-z A-Z')).toBe('FROM-ENV-VAR')
    } finally {
      delete process.env.VGER_TEST_SECRET
    }
  })

  it('gets /dev/null as stdin, so a command that reads stdin sees end of input', async () => {
    const err = await rejection(runPasscommand('cat'))
    expect(err.code).toBe('VGER_PASSCOMMAND_FAILED')
    expect(err.message).toBe('encryption.passcommand printed nothing; it must print the passphrase')
  })

  it('fails on a non-zero exit, quoting stderr but never stdout', async () => {
    const err = await rejection(runPasscommand('echo leaked-secret; echo "gpg: decryption failed" >&2; exit 2'))
    expect(err.code).toBe('VGER_PASSCOMMAND_FAILED')
    expect(err.message).toBe('encryption.passcommand exited with status 2: gpg: decryption failed')
    expect(err.message).not.toContain('leaked-secret')
  })

  it('fails on empty (whitespace-only) output', async () => {
    const err = await rejection(resolvePassphrase(request({ passcommand: "printf '  \\n'" })))
    expect(err.code).toBe('VGER_PASSCOMMAND_FAILED')
    expect(err.message).toContain('printed nothing')
  })

  it('is killed, with whatever it started, when it exceeds the timeout', async () => {
    const started = Date.now()
    // The background sleep keeps stdout open: only killing the whole process group ends this.
    const err = await rejection(runPasscommand('sleep 30 & sleep 30; echo late', 300))
    expect(err.code).toBe('VGER_PASSCOMMAND_FAILED')
    expect(err.message).toBe('encryption.passcommand did not finish within 300 ms')
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('defaults to a 60 second timeout', async () => {
    const { PASSCOMMAND_TIMEOUT_MS } = await import('../../ts/passphrase.js')
    expect(PASSCOMMAND_TIMEOUT_MS).toBe(60_000)
  })
})

describe('VGER_PASSPHRASE', () => {
  it('is used when the config has neither passphrase nor passcommand', async () => {
    const prompt = vi.fn()
    expect(await resolvePassphrase(request({}, { envPassphrase: 'env-pass', prompt }))).toEqual({ passphrase: 'env-pass', source: 'env' })
    expect(prompt).not.toHaveBeenCalled()
  })

  it('is ignored when empty', async () => {
    const prompt = vi.fn(async (_question: string) => 'typed')
    expect(await resolvePassphrase(request({}, { envPassphrase: '', prompt }))).toEqual({ passphrase: 'typed', source: 'prompt' })
  })
})

describe('interactive prompt', () => {
  it('asks once to open a repository', async () => {
    const prompt = vi.fn(async (_question: string) => 'typed')
    expect(await resolvePassphrase(request({}, { prompt }))).toEqual({ passphrase: 'typed', source: 'prompt' })
    expect(prompt.mock.calls).toEqual([['Passphrase for repository "main": ']])
  })

  it('asks twice and compares when creating a repository', async () => {
    const answers = ['first', 'first']
    const prompt = vi.fn(async (_question: string) => answers.shift() ?? '')
    expect((await resolvePassphrase(request({}, { prompt, confirm: true }))).passphrase).toBe('first')
    expect(prompt.mock.calls.map((c) => c[0])).toEqual(['New passphrase for repository "main": ', 'Repeat the passphrase: '])
  })

  it('rejects two different passphrases', async () => {
    const answers = ['first', 'second']
    const err = await rejection(resolvePassphrase(request({}, { prompt: async () => answers.shift() ?? '', confirm: true })))
    expect(err.code).toBe('VGER_PASSPHRASE_MISMATCH')
    expect(err.message).not.toMatch(/first|second/)
  })

  it('rejects an empty passphrase', async () => {
    expect((await rejection(resolvePassphrase(request({}, { prompt: async () => '' })))).code).toBe('VGER_PASSPHRASE_REQUIRED')
  })

  it('does not echo what is typed', async () => {
    const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input })
    const output = new PassThrough()
    let shown = ''
    output.on('data', (c: Buffer) => (shown += c.toString()))
    const answer = promptHidden('Passphrase: ', { input, output })
    input.write('hunter2\r')
    expect(await answer).toBe('hunter2')
    // Only the question (plus terminal control sequences) reaches the screen.
    expect(shown.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')).toBe('Passphrase: \n')
    expect(shown).not.toMatch(/hunter|\*/)
  })

  it('turns Ctrl-C into VGER_CANCELLED', async () => {
    const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input })
    const answer = promptHidden('Passphrase: ', { input, output: new PassThrough() })
    input.write('abc\x03')
    expect((await rejection(answer)).code).toBe('VGER_CANCELLED')
  })
})

describe('no source at all', () => {
  it('fails with VGER_PASSPHRASE_REQUIRED naming the three ways to provide one', async () => {
    const err = await rejection(resolvePassphrase(request({})))
    expect(err.code).toBe('VGER_PASSPHRASE_REQUIRED')
    expect(err.message).toContain('repository "main"')
    expect(err.message).toContain('encryption.passcommand')
    expect(err.message).toContain('VGER_PASSPHRASE')
    expect(err.message).toContain('terminal')
  })
})
