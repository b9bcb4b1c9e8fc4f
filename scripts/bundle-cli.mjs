// Bundles the CLI into one ES module, dist/vger-cli.mjs, which dist/cli/main.js loads (docs/architecture.md,
// the row of ts/cli/main.ts; docs/benchmarks.md, "Scan-ahead of directories, a bundled CLI"). Node 20 has no compile cache, and resolving, reading and compiling
// the ~80 files that `vger backup` imports (the CLI's own, commander's and yaml's) took ~80 ms of every run;
// one file takes about half. Runs after `tsc`, on its output, so the bundle is exactly the compiled CLI.
//
// The bundle sits in dist/ beside dist/repository.js and dist/version.js, so the paths those modules find
// relative to their own URL (../package.json, ../crates/vger-napi/index.cjs) stay right inside it.
// The native addon is not bundled: it is required at run time, as from the unbundled modules.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))

await build({
  entryPoints: [path.join(root, 'dist', 'cli', 'start.js')],
  outfile: path.join(root, 'dist', 'vger-cli.mjs'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // CommonJS dependencies (commander, tar-stream) call `require` for Node's built-in modules.
  banner: { js: "import { createRequire as __vgerRequire } from 'node:module'\nconst require = __vgerRequire(import.meta.url)" },
  legalComments: 'linked',
  logLevel: 'warning',
})
