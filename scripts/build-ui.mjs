// Builds the web UI of `vger mount` (docs/ui.md): compiles ui/src/*.ts for the browser into dist/ui/assets/
// and copies the page and the style sheet beside it. No bundler, no CDN: the browser loads ES modules.
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = path.join(root, 'dist', 'ui')
rmSync(out, { recursive: true, force: true })
mkdirSync(path.join(out, 'assets'), { recursive: true })
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
execFileSync(process.execPath, [tsc, '-p', path.join(root, 'ui', 'tsconfig.json')], { stdio: 'inherit' })
copyFileSync(path.join(root, 'ui', 'index.html'), path.join(out, 'index.html'))
for (const css of ['style.css', 'views.css']) copyFileSync(path.join(root, 'ui', css), path.join(out, 'assets', css))
