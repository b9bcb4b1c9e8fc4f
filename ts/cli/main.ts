#!/usr/bin/env node
/** The `vger` executable: wires process streams and signals to `run`. */
import { readFileSync } from 'node:fs'

// `vger --version` answers before the command tree, the config loader and YAML are loaded.
const args = process.argv.slice(2)
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }
  process.stdout.write(`${pkg.version ?? '0.0.0'}\n`)
  process.exit(0)
}

const { enableAllocatorTuning } = await import('../repository.js')
const { run } = await import('./program.js')
enableAllocatorTuning()

const controller = new AbortController()
let interrupts = 0

function onSignal(signal: NodeJS.Signals): void {
  interrupts++
  if (interrupts > 1) process.exit(130)
  process.stderr.write(`\nvger: ${signal}: stopping (press Ctrl-C again to quit at once)\n`)
  controller.abort(new Error(signal))
}

// A closed pipe (`vger list | head`) ends the output quietly, as it does for any Unix tool.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw e
  })
}

process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)

process.exitCode = await run(process.argv, {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
  signal: controller.signal,
})
