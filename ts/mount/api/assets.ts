/**
 * The front end's files (built from ui/ into dist/ui/ by `npm run build:ui`): `/ui/` is index.html with a
 * `<base href>` naming where the UI lives (so every relative link and API call carries the `/t/TOKEN`
 * prefix when there is one), `/ui/assets/*` the scripts and styles. Nothing is loaded from elsewhere, and
 * the Content-Security-Policy says so.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { MountRequest } from '../server.js'
import { ApiError } from './http.js'

export const UI_CSP = [
  "default-src 'self'",
  "img-src 'self' blob: data:",
  "style-src 'self'",
  "script-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

const ASSET_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
}

/** dist/ui: beside the CLI's bundle (dist/vger-cli.mjs), next to dist/mount (the package), or the built copy when running from ts/ (tests). */
function uiDir(): string | undefined {
  const candidates = ['./ui', '../../ui', '../../../dist/ui'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
  return candidates.find((dir) => existsSync(path.join(dir, 'index.html')))
}

const escapeAttr = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
}

export async function serveUi(r: MountRequest): Promise<void> {
  const dir = uiDir()
  if (dir === undefined) throw new ApiError(503, 'VGER_UI_NOT_BUILT', 'the web UI is not built (npm run build:ui)')
  if (r.path === '/ui' || r.path === '/ui/index.html') {
    r.res.writeHead(308, { location: `${r.base}/ui/`, 'cache-control': 'no-store' })
    r.res.end()
    return
  }
  if (r.path === '/ui/') {
    const html = await readFile(path.join(dir, 'index.html'), 'utf8')
    const body = html
      .replace(/<base href="\/ui\/"\s*\/?>/, `<base href="${escapeAttr(`${r.base}/ui/`)}" />`)
      .replaceAll('{{repository}}', escapeAttr(r.name))
    r.res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': UI_CSP,
      'cache-control': 'no-cache',
      'content-length': Buffer.byteLength(body),
    })
    r.res.end(r.req.method === 'HEAD' ? undefined : body)
    return
  }
  const m = /^\/ui\/assets\/([A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*)$/.exec(r.path)
  const rel = m?.[1]
  const type = rel === undefined ? undefined : ASSET_TYPES[path.extname(rel)]
  if (rel === undefined || type === undefined || rel.split('/').some((s) => s.startsWith('.'))) {
    throw new ApiError(404, 'VGER_NOT_FOUND', 'no such page')
  }
  let data: Buffer
  try {
    data = await readFile(path.join(dir, 'assets', rel))
  } catch {
    throw new ApiError(404, 'VGER_NOT_FOUND', 'no such page')
  }
  r.res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': type,
    'content-security-policy': UI_CSP,
    // Revalidated each time (assets are not content-hashed); a 304 costs nothing on loopback.
    'cache-control': 'no-cache',
    'content-length': data.length,
  })
  r.res.end(r.req.method === 'HEAD' ? undefined : data)
}
