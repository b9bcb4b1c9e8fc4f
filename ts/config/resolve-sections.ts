/** Raw (snake_case) sections → resolved (camelCase) ones, with the defaults declared in schema.ts. */
import type { ChunkerParams } from '../repository.js'
import { type RawHooks, chunkerShape, compressionShape, encryptionShape, limitsShape, retentionShape, scheduleShape } from './schema.js'
import { type Infer, resolveSection } from './shape.js'
import type { CompressionConfig, EncryptionConfig, HooksConfig, LimitsConfig, RetentionConfig, ScheduleConfig } from './types.js'

export function encryptionOf(raw: Infer<typeof encryptionShape> | undefined): EncryptionConfig {
  return resolveSection(encryptionShape, raw)
}

export function compressionOf(raw: Infer<typeof compressionShape> | undefined): CompressionConfig {
  return resolveSection(compressionShape, raw)
}

export function chunkerOf(raw: Infer<typeof chunkerShape> | undefined): ChunkerParams {
  return resolveSection(chunkerShape, raw)
}

/** The engine's FastCDC bounds (vger-core ChunkerParams::check); null when the sizes are acceptable. */
export function chunkerProblem(c: ChunkerParams): string | null {
  const MiB = 1024 * 1024
  if (c.minSize < 64 || c.minSize > MiB) return `chunker.min_size must be from 64 B to 1 MiB, got ${c.minSize} bytes`
  if (c.avgSize < 256 || c.avgSize > 4 * MiB) return `chunker.avg_size must be from 256 B to 4 MiB, got ${c.avgSize} bytes`
  if (c.maxSize < 1024 || c.maxSize > 16 * MiB) return `chunker.max_size must be from 1 KiB to 16 MiB, got ${c.maxSize} bytes`
  if (c.minSize > c.avgSize || c.avgSize > c.maxSize) {
    return `chunker sizes must satisfy min_size <= avg_size <= max_size, got ${c.minSize} / ${c.avgSize} / ${c.maxSize} bytes`
  }
  return null
}

/** A source's retention (rules only) resolves the same way: its keys are a subset. */
export function retentionOf(raw: Infer<typeof retentionShape> | undefined): RetentionConfig {
  return resolveSection(retentionShape, raw)
}

export function limitsOf(raw: Infer<typeof limitsShape> | undefined): LimitsConfig {
  return resolveSection(limitsShape, raw)
}

/** `every` has a default only while `cron` is not set. */
export function scheduleOf(raw: Infer<typeof scheduleShape> | undefined): ScheduleConfig {
  const { every, ...rest } = resolveSection(scheduleShape, raw)
  return rest.cron === undefined ? { ...rest, every } : rest
}

export function hooksOf(raw: RawHooks | undefined): HooksConfig {
  return Object.fromEntries(Object.entries(raw ?? {}).filter((e): e is [string, string[]] => e[1] !== undefined))
}
