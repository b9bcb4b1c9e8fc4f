/** Raw (snake_case) sections → resolved (camelCase) ones, with the defaults declared in schema.ts. */
import type { ChunkerParams } from '../repository.js'
import {
  type RawHooks,
  checkShape,
  chunkerShape,
  compactShape,
  compressionShape,
  encryptionShape,
  limitsShape,
  retentionShape,
  scheduleShape,
} from './schema.js'
import { type Infer, resolveSection } from './shape.js'
import type {
  CheckConfig,
  CompactConfig,
  CompressionConfig,
  EncryptionConfig,
  HooksConfig,
  LimitsConfig,
  RetentionConfig,
  ScheduleConfig,
} from './types.js'

export function encryptionOf(raw: Infer<typeof encryptionShape> | undefined): EncryptionConfig {
  return resolveSection(encryptionShape, raw)
}

export function compressionOf(raw: Infer<typeof compressionShape> | undefined): CompressionConfig {
  return resolveSection(compressionShape, raw)
}

export function chunkerOf(raw: Infer<typeof chunkerShape> | undefined): ChunkerParams {
  return resolveSection(chunkerShape, raw)
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

export function compactOf(raw: Infer<typeof compactShape> | undefined): CompactConfig {
  return resolveSection(compactShape, raw)
}

export function checkOf(raw: Infer<typeof checkShape> | undefined): CheckConfig {
  return resolveSection(checkShape, raw)
}

export function hooksOf(raw: RawHooks | undefined): HooksConfig {
  return Object.fromEntries(Object.entries(raw ?? {}).filter((e): e is [string, string[]] => e[1] !== undefined))
}
