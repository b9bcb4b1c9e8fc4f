/** Looking at a repository from outside: its files, damaging one, and a shifted clock for old snapshots. */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'

/** Every file under `root` with its size and content digest prefix, sorted: equal listings mean nothing changed. */
export function repoListing(root: string): string[] {
  const out: string[] = []
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(`${path.relative(root, p)} ${statSync(p).size} ${statSync(p).mtimeMs}`)
    }
  }
  walk(root)
  return out.sort()
}

/** The files under `dir` (recursively), largest first. */
export function filesBySize(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(p)
    }
  }
  walk(dir)
  return out.sort((a, b) => statSync(b).size - statSync(a).size)
}

/** Inverts one byte of `file` at `offset`. */
export function flipByte(file: string, offset: number): void {
  const data = readFileSync(file)
  data[offset] = (data[offset] ?? 0) ^ 0xff
  writeFileSync(file, data)
}

const SHIM_C = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
static int (*real_clock_gettime)(clockid_t, struct timespec *);
static long shift = -1;
int clock_gettime(clockid_t id, struct timespec *ts) {
  if (real_clock_gettime == NULL) real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
  int r = real_clock_gettime(id, ts);
  if (shift < 0) { const char *s = getenv("VGER_TEST_CLOCK_SHIFT"); shift = s == NULL ? 0 : atol(s); }
  if (r == 0 && id == CLOCK_REALTIME) ts->tv_sec -= shift;
  return r;
}
`

/**
 * Builds an LD_PRELOAD library that moves CLOCK_REALTIME back by $VGER_TEST_CLOCK_SHIFT seconds (the engine
 * stamps snapshots with it), so a test can make snapshots "taken days ago". Undefined without a C compiler.
 */
export function buildClockShim(dir: string): string | undefined {
  const so = path.join(dir, 'clock-shift.so')
  if (existsSync(so)) return so
  const src = path.join(dir, 'clock-shift.c')
  writeFileSync(src, SHIM_C)
  try {
    execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', so, src, '-ldl'], { stdio: 'ignore' })
    return so
  } catch {
    return undefined
  }
}
