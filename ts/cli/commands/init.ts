/** `vger init`: create every selected repository. */
import type { RepoInfo } from '../../repository.js'
import type { CliContext } from '../context.js'
import { shortId } from '../output.js'
import { exitFor, type ExitCode } from '../exit.js'

export async function init(ctx: CliContext): Promise<ExitCode> {
  const repos = ctx.repositories('all')
  const kdf = ctx.initKdf()
  const chunker = ctx.config().chunker
  const { Repository } = await import('../../repository.js')

  const { results, failures } = await ctx.eachRepository(repos, async (repo): Promise<RepoInfo> => {
    const encryption = repo.encryption.mode
    const passphrase = encryption === 'none' ? undefined : await ctx.passphrase(repo, { confirm: true })
    ctx.throwIfAborted()
    const backend = ctx.backendSettings(repo)
    const info = await Repository.init({
      url: repo.url,
      ...(backend === undefined ? {} : { backend }),
      passphrase,
      encryption,
      chunker,
      kdf,
    })
    ctx.remember(repo.url, info)
    ctx.out.line(`Initialized repository "${repo.name}" at ${info.url} (encryption ${info.encryption}, id ${shortId(info.id)})`)
    return info
  })

  if (results.some((r) => r.value.encryption !== 'none')) {
    ctx.out.info('Keep the passphrase safe: without it, nobody (including you) can read these backups.')
  }
  ctx.out.result({
    repositories: results.map(({ repo, value }) => ({ repository: repo.name, ...value })),
    errors: failures,
  })
  return exitFor(failures)
}
