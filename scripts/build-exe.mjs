#!/usr/bin/env node
// `npm run build:exe`: the standalone `vger` executable for this platform (docs/packaging.md).
//
// A Node.js single executable application (SEA): this Node binary with a blob injected (postject) that
// holds the CLI bundled into one CommonJS file (esbuild, ts/cli/sea.ts as the entry) and the native
// addon as the asset `vger.node`, which ts/cli/sea.ts writes to a per-user cache file and dlopens.
//
//   node scripts/build-exe.mjs [--addon FILE] [--node FILE] [--out FILE]
//
// --addon defaults to crates/vger-napi/vger.<platform>.node (a git checkout after `npm run build:native`)
// or the installed vger-<platform> package; --node to this Node binary; --out to build/exe/vger[.exe].
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)
const { values } = parseArgs({ options: { addon: { type: 'string' }, node: { type: 'string' }, out: { type: 'string' } } })

const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
const exe = process.platform === 'win32' ? '.exe' : ''

function platformName() {
  if (process.platform === 'linux') {
    const musl = !process.report.getReport().header.glibcVersionRuntime
    return `linux-${process.arch}-${musl ? 'musl' : 'gnu'}`
  }
  return process.platform === 'win32' ? `win32-${process.arch}-msvc` : `${process.platform}-${process.arch}`
}

function findAddon() {
  if (values.addon) return path.resolve(values.addon)
  const name = platformName()
  const local = path.join(root, 'crates', 'vger-napi', `vger.${name}.node`)
  if (existsSync(local)) return local
  try {
    return require.resolve(`vger-${name}`)
  } catch {
    throw new Error(`no native addon for ${name}: run "npm run build:native" or pass --addon FILE`)
  }
}

const addon = findAddon()
const node = path.resolve(values.node ?? process.execPath)
const out = path.resolve(values.out ?? path.join(root, 'build', 'exe', `vger${exe}`))
const work = path.join(root, 'build', 'exe', 'work')
rmSync(work, { recursive: true, force: true })
mkdirSync(work, { recursive: true })

// 1. The CLI as one CommonJS file (SEA runs CommonJS only; `require` there reaches built-in modules only).
const bundle = path.join(work, 'vger.cjs')
await build({
  entryPoints: [path.join(root, 'ts', 'cli', 'sea.ts')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  legalComments: 'none',
  logLevel: 'warning',
  define: { VGER_VERSION: JSON.stringify(pkg.version), 'import.meta.url': 'VGER_BUNDLE_URL' },
  // There is no file of the bundle: paths relative to it resolve next to the executable (and find nothing).
  banner: { js: 'const VGER_BUNDLE_URL = require("node:url").pathToFileURL(process.execPath).href;' },
})

// 2. The blob: the bundle, its V8 code cache, and the addon as an asset.
const blob = path.join(work, 'vger.blob')
const config = path.join(work, 'sea-config.json')
writeFileSync(
  config,
  JSON.stringify({
    main: bundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    assets: { 'vger.node': addon },
  }),
)
execFileSync(node, ['--experimental-sea-config', config], { stdio: 'inherit' })

// 3. A copy of Node with the blob injected.
mkdirSync(path.dirname(out), { recursive: true })
rmSync(out, { force: true })
copyFileSync(node, out)
if (process.platform === 'darwin') execFileSync('codesign', ['--remove-signature', out], { stdio: 'inherit' })
const postject = path.join(path.dirname(require.resolve('postject/package.json')), 'dist', 'cli.js')
execFileSync(
  process.execPath,
  [
    postject,
    out,
    'NODE_SEA_BLOB',
    blob,
    '--sentinel-fuse',
    FUSE,
    ...(process.platform === 'darwin' ? ['--macho-segment-name', 'NODE_SEA'] : []),
  ],
  { stdio: 'inherit' },
)
if (process.platform === 'darwin') execFileSync('codesign', ['--sign', '-', out], { stdio: 'inherit' })

const mb = (file) => (statSync(file).size / 1e6).toFixed(1)
process.stdout.write(
  `${path.relative(process.cwd(), out)}: ${mb(out)} MB (node ${mb(node)} MB, addon ${mb(addon)} MB, bundle ${mb(bundle)} MB)\n`,
)
