/** `vger key change-passphrase`: where the new passphrase comes from. */
import { describe, expect, it, vi } from 'vitest'
import { newPassphrase } from '../../ts/cli/commands/key.js'
import type { CliContext } from '../../ts/cli/context.js'

function ctx(newPass: string | undefined, answers?: string[]): { ctx: CliContext; prompt: ReturnType<typeof vi.fn> } {
  const queue = [...(answers ?? [])]
  const prompt = vi.fn((_q: string) => Promise.resolve(queue.shift() ?? ''))
  const fake = { secrets: { newPassphrase: newPass }, prompter: () => (answers === undefined ? undefined : prompt) }
  return { ctx: fake as unknown as CliContext, prompt }
}

describe('the new passphrase', () => {
  it('comes from VGER_NEW_PASSPHRASE without prompting', async () => {
    const { ctx: c, prompt } = ctx('from-env', ['typed', 'typed'])
    expect(await newPassphrase(c, 'main')).toBe('from-env')
    expect(prompt).not.toHaveBeenCalled()
  })

  it('is asked twice on a terminal', async () => {
    const { ctx: c, prompt } = ctx(undefined, ['new one', 'new one'])
    expect(await newPassphrase(c, 'main')).toBe('new one')
    expect(prompt.mock.calls.map((call) => call[0])).toEqual(['New passphrase for repository "main": ', 'Repeat the new passphrase: '])
  })

  it('must be typed the same twice, and not be empty', async () => {
    await expect(newPassphrase(ctx(undefined, ['a', 'b']).ctx, 'main')).rejects.toMatchObject({ code: 'VGER_PASSPHRASE_MISMATCH' })
    await expect(newPassphrase(ctx(undefined, ['']).ctx, 'main')).rejects.toMatchObject({ code: 'VGER_PASSPHRASE_REQUIRED' })
  })

  it('is required: without the variable and without a terminal the command fails and says how', async () => {
    await expect(newPassphrase(ctx(undefined).ctx, 'main')).rejects.toMatchObject({
      code: 'VGER_PASSPHRASE_REQUIRED',
      message: 'no new passphrase for repository "main": export VGER_NEW_PASSPHRASE, or run vger in a terminal to be asked',
    })
  })
})
