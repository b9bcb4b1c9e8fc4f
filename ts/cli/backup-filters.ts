/**
 * The filter flags of `vger backup` (docs/commands.md), as restic has them: `--exclude`, `--iexclude`,
 * `--exclude-file`, `--iexclude-file`, `--files-from`, `--exclude-larger-than`, `--exclude-caches`,
 * `--exclude-if-present`, `--one-file-system`. They apply to ad-hoc paths and, added to what the config
 * says, to configured sources.
 */
import { readFileSync } from 'node:fs'
import type { SourceConfig } from '../config/types.js'
import { VgerError } from '../errors.js'
import type { CliContext } from './context.js'

export interface FilterFlags {
  exclude: string[]
  iexclude?: string[]
  excludeFile?: string[]
  iexcludeFile?: string[]
  filesFrom?: string[]
  excludeLargerThan?: number
  excludeCaches?: boolean
  excludeIfPresent?: string[]
  oneFileSystem?: boolean
}

/**
 * The lines of a pattern or path list file: leading and trailing blanks trimmed, empty lines and lines
 * starting with `#` skipped. An unreadable file is a usage error naming the flag.
 */
export function listFile(ctx: CliContext, flag: string, file: string): string[] {
  let text: string
  try {
    text = readFileSync(ctx.resolvePath(file), 'utf8')
  } catch (e) {
    throw new VgerError('VGER_USAGE', `${flag} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; give a readable file`)
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
}

/** The paths `--files-from` lists (each file read in turn), absolute; a list that names nothing is an error. */
export function pathsFrom(ctx: CliContext, flags: FilterFlags): string[] {
  const out: string[] = []
  for (const file of flags.filesFrom ?? []) {
    const listed = listFile(ctx, '--files-from', file)
    if (listed.length === 0)
      throw new VgerError('VGER_USAGE', `--files-from ${file} lists no path (blank lines and # comments are skipped)`)
    out.push(...listed.map((p) => ctx.resolvePath(p)))
  }
  return out
}

/** `source` with the flags' filters added. */
export function withFilters(ctx: CliContext, source: SourceConfig, flags: FilterFlags): SourceConfig {
  const fromFiles = (list: string[] | undefined, flag: string): string[] => (list ?? []).flatMap((f) => listFile(ctx, flag, f))
  return {
    ...source,
    exclude: [...source.exclude, ...flags.exclude, ...fromFiles(flags.excludeFile, '--exclude-file')],
    iexclude: [...source.iexclude, ...(flags.iexclude ?? []), ...fromFiles(flags.iexcludeFile, '--iexclude-file')],
    excludeIfPresent: [...source.excludeIfPresent, ...(flags.excludeIfPresent ?? [])],
    oneFileSystem: source.oneFileSystem || flags.oneFileSystem === true,
    excludeCaches: source.excludeCaches || flags.excludeCaches === true,
    ...(flags.excludeLargerThan === undefined ? {} : { excludeLargerThan: flags.excludeLargerThan }),
  }
}
