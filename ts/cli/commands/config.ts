/** `vger config [--dest PATH]`: writes the commented starter config; never overwrites a file. */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { expandHome } from '../../config/paths.js'
import { STARTER_CONFIG } from '../../config/starter.js'
import { VgerError } from '../../errors.js'
import type { CliContext } from '../context.js'
import { EXIT, type ExitCode } from '../exit.js'

export const DEFAULT_DEST = 'vger.yaml'

export function writeStarterConfig(ctx: CliContext, opts: { dest?: string }): Promise<ExitCode> {
  const dest = ctx.resolvePath(expandHome(opts.dest ?? DEFAULT_DEST, ctx.home))
  try {
    mkdirSync(path.dirname(dest), { recursive: true })
    // 0600: the file may later hold a passphrase or credentials.
    writeFileSync(dest, STARTER_CONFIG, { flag: 'wx', mode: 0o600 })
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'EEXIST') {
      throw new VgerError('VGER_USAGE', `${dest} already exists; edit it, or write the starter config elsewhere with --dest PATH`)
    }
    throw new VgerError('VGER_IO', `cannot write ${dest}: ${(e as Error).message}`, { cause: e })
  }
  ctx.out.line(`Wrote a starter config to ${dest}. Edit it, then run "vger -c ${dest} init" (or keep it as ./vger.yaml).`)
  ctx.out.result({ path: dest })
  return Promise.resolve(EXIT.ok)
}
