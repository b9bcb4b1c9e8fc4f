/** What every request handler shares: the config, the served repositories, tokens, memory budget, metrics, log. */
import type { Identity } from './auth.js'
import type { Tokens } from './auth.js'
import type { ByteBudget } from './budget.js'
import type { Permission, ServerConfig } from './config.js'
import { forbidden } from './errors.js'
import type { Exchange } from './exchange.js'
import type { ServerLog } from './log.js'
import type { Metrics } from './metrics.js'
import type { ServedRepository } from './repositories.js'
import { allows } from './auth.js'

export interface ServerContext {
  config: ServerConfig
  repos: ReadonlyMap<string, ServedRepository>
  tokens: Tokens
  budget: ByteBudget
  metrics: Metrics
  log: ServerLog
  version: string
  /** Set when the server stops: new requests are answered 503 and connections close. */
  stopping: boolean
  inFlight: number
}

/**
 * The repository `name` for a request that needs `need` on it; 403 otherwise, the same answer whether or
 * not the repository exists (a token learns nothing about repositories it has no access to).
 */
export function permitted(ctx: ServerContext, ex: Exchange, name: string, need: Permission): { repo: ServedRepository; who: Identity } {
  const who = ex.who
  const repo = ctx.repos.get(name)
  if (who === undefined || repo === undefined || !allows(who, name, need)) {
    const has = who?.grants.get(name)
    throw forbidden(
      has === undefined
        ? `this token has no access to repository "${name}" (or there is no such repository)`
        : `this token has ${has} access to repository "${name}"; this request needs ${need}`,
    )
  }
  return { repo, who }
}
