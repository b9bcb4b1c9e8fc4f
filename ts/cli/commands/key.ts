/**
 * `vger key list|add|remove|change-passphrase`: several passphrases for one repository (one per person, an
 * offline recovery passphrase). The passphrase that opens the repository comes from the usual sources
 * (config, passcommand, VGER_PASSPHRASE, prompt); a new one from VGER_NEW_PASSPHRASE, else a prompt asked
 * twice on a terminal. Only key files are written or removed; the data stays as it is.
 */
import { VgerError } from '../../errors.js'
import type { CliContext } from '../context.js'
import { EXIT, type ExitCode } from '../exit.js'
import { formatTable, formatTime } from '../output.js'
import type { Repository } from '../../repository.js'

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

/** The selected repository, opened; an unencrypted one has no keys to work with. */
async function encrypted(ctx: CliContext, what: string): Promise<{ name: string; repository: Repository }> {
  const repo = ctx.repository()
  const repository = await ctx.open(repo)
  if (repository.info().encryption === 'none') {
    throw new VgerError('VGER_USAGE', `repository "${repo.name}" is not encrypted: it has no ${what}`)
  }
  return { name: repo.name, repository }
}

export async function listKeys(ctx: CliContext): Promise<ExitCode> {
  const { name, repository } = await encrypted(ctx, 'keys')
  const keys = await repository.listKeys()
  const rows = keys.map((k) => [k.id, k.current ? 'yes' : '', k.modified === undefined ? '-' : formatTime(k.modified)])
  ctx.out.line(formatTable(['ID', 'In use', 'Written'], rows))
  ctx.out.result({ repository: name, keys })
  return EXIT.ok
}

export async function addKey(ctx: CliContext): Promise<ExitCode> {
  const { name, repository } = await encrypted(ctx, 'keys')
  const passphrase = await newPassphrase(ctx, name)
  ctx.throwIfAborted()
  const id = await repository.addKey(passphrase, ctx.initKdf())
  ctx.out.line(`Added key ${id} to repository "${name}": its passphrase opens the repository, as the others still do.`)
  ctx.out.result({ repository: name, added: id })
  return EXIT.ok
}

export async function removeKey(ctx: CliContext, id: string): Promise<ExitCode> {
  const { name, repository } = await encrypted(ctx, 'keys')
  const removed = await repository.removeKey(id)
  ctx.out.line(`Removed key ${removed} from repository "${name}": its passphrase no longer opens the repository.`)
  ctx.out.result({ repository: name, removed })
  return EXIT.ok
}

export async function changePassphrase(ctx: CliContext): Promise<ExitCode> {
  const { name, repository } = await encrypted(ctx, 'passphrase to change')
  const passphrase = await newPassphrase(ctx, name)
  ctx.throwIfAborted()
  await repository.changePassphrase(passphrase, ctx.initKdf())
  ctx.out.line(`Changed the passphrase of repository "${name}". Update encryption.passcommand or VGER_PASSPHRASE to match.`)
  ctx.out.result({ repository: name, changed: true })
  return EXIT.ok
}
