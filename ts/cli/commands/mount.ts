/**
 * `vger mount [SNAPSHOT] [--listen HOST:PORT]`: serves the repository's snapshots (or one) read-only over
 * WebDAV and the web UI until SIGINT or SIGTERM (docs/mount.md). Prints the URL to open; on an address that
 * is not loopback the URL carries the access token.
 */
import { SnapshotFs } from '../../browse/snapshot-fs.js'
import { parseListen } from '../../daemon/status-server.js'
import { startMountServer } from '../../mount/server.js'
import { isVgerError } from '../../errors.js'
import type { CliContext } from '../context.js'
import { EXIT, type ExitCode } from '../exit.js'
import { shortId } from '../output.js'
import { resolveSnapshot } from '../snapshots.js'

/** Next to the daemon's status page (8317). */
export const DEFAULT_MOUNT_LISTEN = '127.0.0.1:8318'

export interface MountFlags {
  listen?: string
}

export async function mount(ctx: CliContext, ref: string | undefined, flags: MountFlags): Promise<ExitCode> {
  const listen = parseListen(flags.listen ?? DEFAULT_MOUNT_LISTEN, '--listen')
  const repo = ctx.repository()
  const repository = await ctx.open(repo)
  const only = ref === undefined ? undefined : await resolveSnapshot(repository, ref, ctx.options.source)
  const fs = new SnapshotFs(repository, { only: only?.id })
  const server = await startMountServer(fs, repository, repo.name, {
    listen,
    onError: (e, req) => {
      const code = isVgerError(e) ? ` [${e.code}]` : ''
      ctx.out.warn(`${req.method ?? '?'} ${req.url ?? '?'}: ${e instanceof Error ? e.message : String(e)}${code}`)
    },
  })
  try {
    const what = only === undefined ? 'the snapshots' : `snapshot ${shortId(only.id)}`
    if (ctx.out.json) ctx.io.stdout.write(`${JSON.stringify({ url: server.url, repository: repo.name, snapshot: only?.id ?? null })}\n`)
    else ctx.out.line(server.url)
    ctx.out.info(`serving ${what} of "${repo.name}" read-only over WebDAV at ${server.url} (web UI: ${server.url}ui/); Ctrl-C stops`)
    if (!ctx.signal.aborted) await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }))
  } finally {
    await server.close()
  }
  ctx.stoppedOnSignal = true
  return EXIT.ok
}
