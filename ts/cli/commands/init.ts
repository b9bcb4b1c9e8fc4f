/** `vger init`: create every selected repository. */
import { selectRepositories } from '../../config/select.js'
import { VgerError } from '../../errors.js'
import type { RepoInfo, Repository } from '../../repository.js'
import type { CliContext } from '../context.js'
import { shortId } from '../output.js'
import { exitFor, type ExitCode } from '../exit.js'

export interface InitFlags {
  /** `--copy-chunker-params-from LABEL|URL`: name and cut data as that repository does. */
  copyChunkerParamsFrom?: string
}

export async function init(ctx: CliContext, flags: InitFlags = {}): Promise<ExitCode> {
  const repos = ctx.repositories('all')
  const kdf = ctx.initKdf()
  const chunker = ctx.config().chunker
  const { Repository } = await import('../../repository.js')
  let like: Repository | undefined
  if (flags.copyChunkerParamsFrom !== undefined) {
    const [from] = selectRepositories(ctx.config(), flags.copyChunkerParamsFrom, 'one', { cwd: ctx.io.cwd, home: ctx.home })
    if (from === undefined)
      throw new VgerError('VGER_USAGE', `--copy-chunker-params-from ${flags.copyChunkerParamsFrom} names no repository`)
    if (repos.some((r) => r.url === from.url)) {
      throw new VgerError(
        'VGER_USAGE',
        `--copy-chunker-params-from names "${from.name}", which init would create; pick the new one with -R`,
      )
    }
    like = await ctx.open(from)
  }

  const { results, failures } = await ctx.eachRepository(repos, async (repo): Promise<RepoInfo> => {
    const encryption = repo.encryption.mode
    const passphrase = encryption === 'none' ? undefined : await ctx.passphrase(repo, { confirm: true })
    ctx.throwIfAborted()
    const backend = ctx.backendSettings(repo)
    const opts = { url: repo.url, ...(backend === undefined ? {} : { backend }), passphrase, encryption, chunker, kdf }
    const info = like === undefined ? await Repository.init(opts) : await Repository.initLike(opts, like)
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
