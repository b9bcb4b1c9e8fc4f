/**
 * `vger delete [--yes-delete-this-repo] [--dry-run]`: removes a whole repository. On a terminal the user
 * types the repository's label (or URL) to confirm; elsewhere `--yes-delete-this-repo` is required.
 */
import { VgerError } from '../../errors.js'
import type { CliContext } from '../context.js'
import { formatBytes, formatCount } from '../output.js'
import { EXIT, type ExitCode } from '../exit.js'

export interface DeleteFlags {
  yesDeleteThisRepo?: boolean
  dryRun?: boolean
}

export async function deleteRepository(ctx: CliContext, flags: DeleteFlags): Promise<ExitCode> {
  const repo = ctx.repository()
  const pick = ctx.options.repo === undefined ? '' : ` -R ${ctx.options.repo}`
  const confirm = flags.dryRun === true || flags.yesDeleteThisRepo === true ? undefined : ctx.confirmer()
  // Refuse before asking for a passphrase: without a terminal nobody can confirm.
  if (flags.dryRun !== true && flags.yesDeleteThisRepo !== true && confirm === undefined) {
    throw new VgerError(
      'VGER_USAGE',
      `vger delete removes repository "${repo.name}" (${repo.url}) for good and needs a confirmation: run it on a terminal, ` +
        `or pass --yes-delete-this-repo (vger delete${pick} --yes-delete-this-repo); --dry-run shows what it would remove`,
    )
  }
  const repository = await ctx.open(repo)
  const plan = await repository.deleteRepository({ dryRun: true })
  const what = `${formatCount(plan.objects, 'object')}, ${formatBytes(plan.bytes)}`
  if (flags.dryRun === true) {
    ctx.out.line(`Dry run: deleting repository "${repo.name}" (${repo.url}) would remove ${what}; nothing changed.`)
    ctx.out.result({ repository: repo.name, url: repo.url, ...plan })
    return EXIT.ok
  }
  if (confirm !== undefined) {
    ctx.io.stderr.write(`This deletes repository "${repo.name}" at ${repo.url}: ${what}, every snapshot in it. It cannot be undone.\n`)
    const answer = await confirm(`Type "${repo.label ?? repo.url}" to delete it: `)
    const accepted = [repo.label, repo.url, repo.name].filter((x): x is string => x !== undefined)
    if (!accepted.includes(answer)) {
      throw new VgerError('VGER_USAGE', `the answer did not match "${repo.label ?? repo.url}"; nothing was deleted`)
    }
  }
  ctx.throwIfAborted()
  const done = await repository.deleteRepository()
  ctx.forget(repo.url)
  ctx.out.line(`Deleted repository "${repo.name}" (${repo.url}): ${formatCount(done.objects, 'object')}, ${formatBytes(done.bytes)}.`)
  ctx.out.result({ repository: repo.name, url: repo.url, ...done })
  return EXIT.ok
}
