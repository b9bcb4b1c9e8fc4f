/** `-R/--repo LABEL|URL`: which configured repositories a command runs against. */
import os from 'node:os'
import { VgerError } from '../errors.js'
import { resolveRepositoryUrl } from './resolve.js'
import type { RepositoryConfig, VgerConfig } from './types.js'

export type Selection = 'all' | 'one'

/** Values of `-R` that name a location rather than a label: usable even when not configured. */
function looksLikeLocation(value: string): boolean {
  return value.includes('/') || value.startsWith('~') || value.startsWith('.') || /^[A-Za-z][\w+.-]*:/.test(value)
}

/**
 * With `selector`: the repository whose label or URL matches, or an ad-hoc one if the selector is a path
 * or URL. Without: all configured repositories, or exactly one when `selection` is 'one'.
 */
export function selectRepositories(
  config: VgerConfig,
  selector: string | undefined,
  selection: Selection,
  { cwd = process.cwd(), home = process.env.HOME ?? os.homedir() } = {},
): RepositoryConfig[] {
  const names = config.repositories.map((r) => r.name)
  if (selector === undefined) {
    if (selection === 'one' && config.repositories.length > 1) {
      throw new VgerError(
        'VGER_USAGE',
        `${config.repositories.length} repositories are configured (${names.join(', ')}); pick one with -R LABEL`,
      )
    }
    return config.repositories
  }
  const byLabel = config.repositories.find((r) => r.label === selector)
  if (byLabel !== undefined) return [byLabel]
  if (!looksLikeLocation(selector)) {
    throw new VgerError('VGER_USAGE', `no repository labelled "${selector}"; configured: ${names.join(', ')}`)
  }
  const url = resolveRepositoryUrl(selector, cwd, home)
  const byUrl = config.repositories.find((r) => r.url === url)
  if (byUrl !== undefined) return [byUrl]
  const { encryption, compression, retention, limits, schedule } = config
  return [{ url, name: url, encryption, compression, retention, limits, schedule, hooks: {} }]
}
