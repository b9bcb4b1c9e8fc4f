/** Packing and installing the npm packages, and the small trees the package tests back up (test/e2e/package.test.ts). */
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT } from './addon.js'

/** The platform this machine packs and installs (the only one whose addon can be built here). */
export const PLATFORM = 'linux-x64-gnu'
export const ADDON_FILE = path.join(ROOT, 'crates', 'vger-napi', `vger.${PLATFORM}.node`)

const NPM_FLAGS = ['--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=error']

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', [...args, ...NPM_FLAGS], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** `npm pack` of `dir` into `dest`; the tarball's path. */
export function pack(dir: string, dest: string): string {
  const out = JSON.parse(npm(['pack', '--json', '--pack-destination', dest], dir)) as { filename: string }[]
  const file = out[0]?.filename
  if (file === undefined) throw new Error(`npm pack of ${dir} printed no file name`)
  return path.join(dest, file)
}

/** The platform package as CI assembles it: npm/<platform> with the built addon copied in (into a copy, not the checkout). */
export function packPlatform(work: string, dest: string): string {
  const dir = path.join(work, PLATFORM)
  mkdirSync(dir, { recursive: true })
  for (const name of ['package.json', 'README.md']) copyFileSync(path.join(ROOT, 'npm', PLATFORM, name), path.join(dir, name))
  copyFileSync(ADDON_FILE, path.join(dir, `vger.${PLATFORM}.node`))
  return pack(dir, dest)
}

/**
 * Tarballs of `names` and of everything they depend on, packed from the checkout's node_modules: npm's
 * cache holds the tarballs of installed packages but not always their registry documents, so installing
 * these by file keeps the install offline.
 */
export function packDependencies(names: string[], dest: string): string[] {
  const seen = new Map<string, string>()
  const visit = (name: string): void => {
    if (seen.has(name)) return
    const dir = path.join(ROOT, 'node_modules', name)
    const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }
    seen.set(name, pack(dir, dest))
    for (const dep of Object.keys(manifest.dependencies ?? {})) visit(dep)
  }
  for (const name of names) visit(name)
  return [...seen.values()]
}

/**
 * Installs tarballs (and registry packages already in npm's cache) into a new project at `prefix`, offline:
 * nothing is fetched, so the test needs no network, and nothing resolves into the checkout.
 */
export function installOffline(prefix: string, specs: string[]): void {
  writeFileSync(path.join(prefix, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  npm(['install', '--offline', '--ignore-scripts', ...specs], prefix)
}

/** Fenced blocks of a markdown file whose first line is `// NAME`: the runnable examples of docs/api.md. */
export function examples(markdown: string): Map<string, string> {
  const found = new Map<string, string>()
  for (const m of markdown.matchAll(/```(?:js|ts)\n\/\/ (example\.[a-z]+)\n([\s\S]*?)```/g)) found.set(m[1] ?? '', m[2] ?? '')
  return found
}

/** A small tree to back up: text, binary, nested, empty. */
export function smallTree(root: string): void {
  mkdirSync(path.join(root, 'a', 'b'), { recursive: true })
  mkdirSync(path.join(root, 'empty'))
  writeFileSync(path.join(root, 'readme.txt'), 'a small tree\n')
  writeFileSync(path.join(root, 'a', 'b', 'data.bin'), Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251)))
  writeFileSync(path.join(root, 'a', 'zero'), '')
}

/** Relative path → bytes (directories as "dir"), for comparing a tree with its restore. */
export function snapshotOf(root: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of readdirSync(path.join(root, rel)).sort()) {
    const p = path.join(rel, name)
    if (statSync(path.join(root, p)).isDirectory()) {
      out[p] = 'dir'
      Object.assign(out, snapshotOf(root, p))
    } else out[p] = readFileSync(path.join(root, p)).toString('base64')
  }
  return out
}
