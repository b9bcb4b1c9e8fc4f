#!/usr/bin/env node
/** The `vger` executable: answers `--version` at once, otherwise starts the CLI (ts/cli/start.ts, from its bundle dist/vger-cli.mjs). */
import { readFileSync } from 'node:fs'

// `vger --version` answers before the command tree, the config loader and YAML are loaded.
const args = process.argv.slice(2)
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }
  process.stdout.write(`${pkg.version ?? '0.0.0'}\n`)
  process.exit(0)
}

// The CLI bundled into one file (scripts/bundle-cli.mjs): one file loads in about half the time of the ~80
// modules it holds. The specifier is a variable so that tsc leaves the file, which it does not build, alone.
const bundle = '../vger-cli.mjs'
const { start } = (await import(bundle)) as typeof import('./start.js')
await start()
