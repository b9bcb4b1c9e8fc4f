/**
 * `vger key change-passphrase`: the current passphrase comes from the usual sources (config, passcommand,
 * VGER_PASSPHRASE, prompt); the new one from VGER_NEW_PASSPHRASE, else a prompt asked twice on a terminal.
 * Only the key file is rewritten; the data stays as it is.
 */
import { VgerError } from '../../errors.js'
import type { CliContext } from '../context.js'
import { EXIT, type ExitCode } from '../exit.js'

export async function newPassphrase(ctx: CliContext, repository: string): Promise<string> {
  const fromEnv = ctx.secrets.newPassphrase
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  const prompt = ctx.prompter()
  if (prompt === undefined) {
    throw new VgerError(
      'VGER_PASSPHRASE_REQUIRED',
      `no new passphrase for repository "${repository}": export VGER_NEW_PASSPHRASE, or run vger in a terminal to be asked`,
    )
  }
  const first = await prompt(`New passphrase for repository "${repository}": `)
  if (first === '') throw new VgerError('VGER_PASSPHRASE_REQUIRED', 'the new passphrase must not be empty')
  const second = await prompt('Repeat the new passphrase: ')
  if (second !== first) throw new VgerError('VGER_PASSPHRASE_MISMATCH', 'the two new passphrases differ; nothing was changed')
  return first
}

export async function changePassphrase(ctx: CliContext): Promise<ExitCode> {
  const repo = ctx.repository()
  const repository = await ctx.open(repo)
  if (repository.info().encryption === 'none') {
    throw new VgerError('VGER_USAGE', `repository "${repo.name}" is not encrypted: it has no passphrase to change`)
  }
  const passphrase = await newPassphrase(ctx, repo.name)
  ctx.throwIfAborted()
  await repository.changePassphrase(passphrase, ctx.initKdf())
  ctx.out.line(`Changed the passphrase of repository "${repo.name}". Update encryption.passcommand or VGER_PASSPHRASE to match.`)
  ctx.out.result({ repository: repo.name, changed: true })
  return EXIT.ok
}
