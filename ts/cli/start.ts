/** Runs the CLI in this process: wires process streams and signals to `run` (ts/cli/main.ts and the standalone executable). */
import { enableAllocatorTuning } from '../repository.js'
import { run } from './program.js'

export async function start(): Promise<void> {
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
}
