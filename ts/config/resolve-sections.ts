/** Raw (snake_case) sections → resolved (camelCase) ones, defaults applied. */
import type { ChunkerParams } from '../repository.js'
import { DEFAULT_CHUNKER, DEFAULT_COMPRESSION, DEFAULT_ENCRYPTION, DEFAULT_LIMITS, DEFAULT_SCHEDULE } from './defaults.js'
import type { RawChunker, RawCompression, RawEncryption, RawHooks, RawLimits, RawRetention, RawSchedule } from './schema.js'
import type { CompressionConfig, EncryptionConfig, HooksConfig, LimitsConfig, RetentionConfig, ScheduleConfig } from './types.js'

export function encryptionOf(raw: RawEncryption | undefined): EncryptionConfig {
  return { ...DEFAULT_ENCRYPTION, ...raw }
}

export function compressionOf(raw: RawCompression | undefined): CompressionConfig {
  return {
    algorithm: raw?.algorithm ?? DEFAULT_COMPRESSION.algorithm,
    zstdLevel: raw?.zstd_level ?? DEFAULT_COMPRESSION.zstdLevel,
  }
}

export function chunkerOf(raw: RawChunker | undefined): ChunkerParams {
  return {
    minSize: raw?.min_size ?? DEFAULT_CHUNKER.minSize,
    avgSize: raw?.avg_size ?? DEFAULT_CHUNKER.avgSize,
    maxSize: raw?.max_size ?? DEFAULT_CHUNKER.maxSize,
  }
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

export function retentionOf(raw: RawRetention | undefined): RetentionConfig {
  const out: RetentionConfig = {}
  if (raw?.keep_last !== undefined) out.keepLast = raw.keep_last
  if (raw?.keep_hourly !== undefined) out.keepHourly = raw.keep_hourly
  if (raw?.keep_daily !== undefined) out.keepDaily = raw.keep_daily
  if (raw?.keep_weekly !== undefined) out.keepWeekly = raw.keep_weekly
  if (raw?.keep_monthly !== undefined) out.keepMonthly = raw.keep_monthly
  if (raw?.keep_yearly !== undefined) out.keepYearly = raw.keep_yearly
  if (raw?.keep_within !== undefined) out.keepWithin = raw.keep_within
  if (raw?.group_by !== undefined) out.groupBy = [...raw.group_by]
  return out
}

export function limitsOf(raw: RawLimits | undefined): LimitsConfig {
  return {
    connections: raw?.connections ?? DEFAULT_LIMITS.connections,
    threads: raw?.threads ?? DEFAULT_LIMITS.threads,
    nice: raw?.nice ?? DEFAULT_LIMITS.nice,
    uploadMibPerSec: raw?.upload_mib_per_sec ?? DEFAULT_LIMITS.uploadMibPerSec,
    downloadMibPerSec: raw?.download_mib_per_sec ?? DEFAULT_LIMITS.downloadMibPerSec,
  }
}

export function scheduleOf(raw: RawSchedule | undefined): ScheduleConfig {
  const out: ScheduleConfig = {
    enabled: raw?.enabled ?? DEFAULT_SCHEDULE.enabled,
    onStartup: raw?.on_startup ?? DEFAULT_SCHEDULE.onStartup,
    jitterSeconds: raw?.jitter_seconds ?? DEFAULT_SCHEDULE.jitterSeconds,
  }
  if (raw?.cron !== undefined) out.cron = raw.cron
  else out.every = raw?.every ?? DEFAULT_SCHEDULE.every
  return out
}

export function hooksOf(raw: RawHooks | undefined): HooksConfig {
  return Object.fromEntries(Object.entries(raw ?? {}).filter((e): e is [string, string[]] => e[1] !== undefined))
}
