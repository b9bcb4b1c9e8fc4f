/**
 * The long fuzzing campaign (docs/integrity.md, "Fuzzing"): every Rust target, then the config loader.
 *
 *   npm run fuzz                                  1 CPU-hour per target (the default)
 *   npm run fuzz -- --seconds 60                  one minute per target
 *   npm run fuzz -- --target tree-plain,lock-plain --seconds 600
 *   npm run fuzz -- --target config-loader        only the TypeScript config loader
 *
 * `VGER_FUZZ_SECONDS` sets the same budget as `--seconds`. Other flags go to the Rust harness
 * (`--seed N`, `--crashes DIR`, `--execs N`). Each target runs on one thread, one after another. The
 * Rust figures are written to target/fuzz-report.jsonl, findings to target/fuzz-crashes/<target>/.
 */
import { spawnSync } from 'node:child_process'

const args = process.argv.slice(2)
let seconds = process.env.VGER_FUZZ_SECONDS ?? '3600'
const rust = []
let targets = []
for (let i = 0; i < args.length; i++) {
  const a = args[i]
  if (a === '--seconds') seconds = args[++i] ?? seconds
  else if (a === '--target') targets.push(...(args[++i] ?? '').split(',').filter((t) => t !== ''))
  else rust.push(a)
}
if (!/^\d+$/.test(seconds)) {
  console.error(`npm run fuzz: --seconds needs a whole number, not ${JSON.stringify(seconds)}`)
  process.exit(2)
}
const wantsLoader = targets.length === 0 || targets.includes('config-loader')
const rustTargets = targets.filter((t) => t !== 'config-loader')
const wantsRust = targets.length === 0 || rustTargets.length > 0

let failed = false
if (wantsRust) {
  const flags = ['--seconds', seconds, '--json', 'target/fuzz-report.jsonl', ...rust]
  if (rustTargets.length > 0) flags.push('--target', rustTargets.join(','))
  // A release build with overflow checks and debug assertions, as in a test build: an arithmetic slip
  // in a parser panics here instead of wrapping. Its own target directory keeps the normal release
  // build (the addon) untouched.
  const build = ['--release', '--quiet', '--target-dir', 'target/fuzz', '-p', 'vger-fuzz', '--bin', 'vger-fuzz']
  const env = { ...process.env, CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS: 'true', CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS: 'true' }
  const r = spawnSync('cargo', ['run', ...build, '--', ...flags], { stdio: 'inherit', env })
  failed ||= r.status !== 0
}
if (wantsLoader) {
  console.log(`config-loader: ${seconds} s over three generators`)
  const r = spawnSync('npx', ['vitest', 'run', 'test/fuzz/config.fuzz.test.ts'], {
    stdio: 'inherit',
    env: { ...process.env, VGER_FUZZ_SECONDS: seconds },
  })
  failed ||= r.status !== 0
}
process.exit(failed ? 1 : 0)
