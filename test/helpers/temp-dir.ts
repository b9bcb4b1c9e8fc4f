/** Temporary directories removed after the test file finishes. */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll } from 'vitest'

const created: string[] = []
let registered = false

/** A fresh empty directory under the OS temp dir; removed in `afterAll` (set VGER_KEEP_TMP=1 to keep). */
export function tempDir(prefix = 'vger-test-'): string {
  if (!registered) {
    registered = true
    afterAll(() => {
      if (process.env.VGER_KEEP_TMP === '1') return
      for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true })
    })
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix))
  created.push(dir)
  return dir
}
