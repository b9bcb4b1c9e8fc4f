/** The version of the vger package: package.json's, or the one a bundle (the standalone executable) was built with. */
import { readFileSync } from 'node:fs'

let fixed: string | undefined

/** Fixes the version; the standalone executable has no package.json next to it (scripts/sea/main.ts). */
export function setPackageVersion(version: string): void {
  fixed = version
}

export function packageVersion(): string {
  if (fixed !== undefined) return fixed
  // ../package.json from both ts/ and dist/.
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }
  return pkg.version ?? '0.0.0'
}
