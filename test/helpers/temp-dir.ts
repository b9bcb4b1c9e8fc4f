/** Temporary directories, removed when the test file finishes (set VGER_KEEP_TMP=1 to keep them). */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll } from 'vitest'

const created: string[] = []

// Registered when a test file imports this module, i.e. on that file's root suite.
afterAll(() => {
  if (process.env.VGER_KEEP_TMP === '1') return
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A fresh empty directory under the OS temp dir. */
export function tempDir(prefix = 'vger-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix))
  created.push(dir)
  return dir
}
