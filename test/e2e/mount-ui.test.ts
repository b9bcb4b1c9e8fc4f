/**
 * The web UI of `vger mount` in a real browser (headless Chromium from Debian, driven by playwright-core):
 * the timeline, browsing, text and image previews, search, downloads of a file and of a folder as a zip,
 * the diff of two snapshots, a restore to a local directory, and the keyboard. A screenshot of each page
 * goes to test-artifacts/ui/. The API's refusal of a cross-origin restore is checked without the browser.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, linkSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SnapshotFs } from '../../ts/browse/snapshot-fs.js'
import type { DirResponse } from '../../ts/mount/api/types.js'
import { startMountServer, type MountServer } from '../../ts/mount/server.js'
import { Repository } from '../../ts/repository.js'
import { FAST_KDF, NO_ADDON_REASON, ROOT, addonBuilt } from '../helpers/addon.js'
import { findChromium, launchChromium, png } from '../helpers/browser.js'
import { tempDir } from '../helpers/temp-dir.js'
import { readZip } from '../helpers/unzip.js'

const PASS = 'correct horse battery staple'
const BIG = 24 << 20
/** Entries of a folder bigger than a page of the listing (500). */
const MANY = 1200

/** Counts the windows read from the repository, to see a zip stop when its client goes away. */
class CountingFs extends SnapshotFs {
  reads = 0
  override read(...args: Parameters<SnapshotFs['read']>): ReturnType<SnapshotFs['read']> {
    this.reads += 1
    return super.read(...args)
  }
}
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'ui')
const ODD = 'odd <b>&"q\'.txt'

function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers }, (res) => {
      let text = ''
      res.on('data', (c: Buffer) => (text += c.toString('utf8')))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe.skipIf(!addonBuilt)(`the web UI${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  let work: string
  let src: string
  let server: MountServer
  let browser: Browser | undefined
  let page: Page
  let noBrowser = ''
  let reads: CountingFs
  /** Script errors and console errors (a CSP violation among them) seen in the browser. */
  const problems: string[] = []
  const names: string[] = []
  const image = png(24, 16, [200, 30, 40])

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true })
    // The server serves the front end from dist/ui: build it from ui/ (a second or two).
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-ui.mjs')], { stdio: 'inherit' })
    const found = await findChromium()
    work = tempDir('vger-ui-')
    src = path.join(work, 'src')
    mkdirSync(path.join(src, 'docs'), { recursive: true })
    mkdirSync(path.join(src, 'img'))
    writeFileSync(path.join(src, 'hello.txt'), 'hello from vger\n')
    writeFileSync(path.join(src, 'docs', 'readme.md'), '# Read me\n\nversion one\n')
    writeFileSync(path.join(src, 'docs', ODD), 'a name with markup\n')
    writeFileSync(path.join(src, 'img', 'dot.png'), image)
    // A name that is not UTF-8 (shown and sent in the engine's escaped form, `caf\xff.txt`) and a hard link.
    mkdirSync(path.join(src, 'odd'))
    writeFileSync(Buffer.concat([Buffer.from(path.join(src, 'odd', 'caf')), Buffer.from([0xff]), Buffer.from('.txt')]), 'not utf-8\n')
    linkSync(path.join(src, 'hello.txt'), path.join(src, 'zz-link.txt'))
    // Glob characters in a name, and a sibling an unescaped pattern would match.
    writeFileSync(path.join(src, 'odd', 'star[1]{a,b}*.txt'), 'literal\n')
    writeFileSync(path.join(src, 'odd', 'star1a-more.txt'), 'not selected\n')
    mkdirSync(path.join(src, 'many'))
    for (let i = 0; i < MANY; i++) writeFileSync(path.join(src, 'many', `f${String(i).padStart(4, '0')}`), '')
    mkdirSync(path.join(src, 'big'))
    writeFileSync(path.join(src, 'big', 'random.bin'), randomBytes(BIG))
    const url = path.join(work, 'repo')
    await Repository.init({ url, passphrase: PASS, encryption: 'auto', kdf: FAST_KDF })
    const repo = await Repository.open({ url, passphrase: PASS })
    await repo.backup({ paths: [src], label: 'home', hostname: 'testhost' })
    writeFileSync(path.join(src, 'docs', 'readme.md'), '# Read me\n\nversion two, longer\n')
    writeFileSync(path.join(src, 'added.txt'), 'new in the second snapshot\n')
    await repo.backup({ paths: [src], label: 'home', hostname: 'testhost' })
    const fs = new CountingFs(repo)
    reads = fs
    names.push(...(await fs.snapshots()).map((d) => d.name))
    server = await startMountServer(fs, repo, 'ui-test', { listen: { host: '127.0.0.1', port: 0 } })
    if (found.path === undefined) {
      noBrowser = found.reason ?? 'no browser'
      return
    }
    browser = await launchChromium(found.path)
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 800 } })
    page = await context.newPage()
    page.setDefaultTimeout(10_000)
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`)
    })
  })

  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  const ui = (hash = ''): string => `${server.url}ui/${hash}`
  /** The UI's address of a folder of the newest snapshot (paths are from the source: a one-path snapshot's root is that path). */
  const dirRoute = (p: string, snap = names[1]!): string =>
    `#/browse/${[snap, ...(p === '' ? [] : p.split('/'))].map(encodeURIComponent).join('/')}`
  const shot = (name: string): Promise<Buffer> => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true })

  it('serves the page with a CSP and its API as JSON errors', async () => {
    const res = await fetch(ui())
    expect(res.status).toBe(200)
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'")
    expect(await res.text()).toContain('<base href="/ui/" />')
    expect((await fetch(`${server.url}ui`, { redirect: 'manual' })).status).toBe(308)
    const css = await fetch(ui('assets/style.css'))
    expect(css.headers.get('content-type')).toMatch(/^text\/css/)
    const bad = await fetch(`${server.url}api/dir?snapshot=${encodeURIComponent(names[0]!)}&path=..`)
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ code: 'VGER_BAD_REQUEST' })
    const missing = await fetch(`${server.url}api/dir?snapshot=nope`)
    expect(missing.status).toBe(404)
    const file = await fetch(`${server.url}api/file?snapshot=${encodeURIComponent(names[0]!)}&path=${encodeURIComponent(`hello.txt`)}`, {
      headers: { range: 'bytes=0-4' },
    })
    expect(file.status).toBe(206)
    expect(await file.text()).toBe('hello')
    expect(file.headers.get('content-security-policy')).toMatch(/^sandbox/)
    const link = await fetch(`${server.url}api/file?snapshot=${encodeURIComponent(names[0]!)}&path=zz-link.txt&download=1`)
    expect(link.headers.get('content-disposition')).toBe(`attachment; filename="zz-link.txt"; filename*=UTF-8''zz-link.txt`)
    expect(await link.text()).toBe('hello from vger\n')
  })

  it('pages a large folder, sorted by the server', async () => {
    const snap = encodeURIComponent(names[1]!)
    const page1 = (await (await fetch(`${server.url}api/dir?snapshot=${snap}&path=many&sort=name&order=desc`)).json()) as DirResponse
    expect(page1).toMatchObject({ total: MANY, offset: 0 })
    expect(page1.entries.length).toBe(500)
    expect(page1.entries[0]!.name).toBe(`f${MANY - 1}`)
    const last = (await (
      await fetch(`${server.url}api/dir?snapshot=${snap}&path=many&sort=name&offset=1000&limit=500`)
    ).json()) as DirResponse
    expect(last.entries.map((e) => e.name)).toEqual(Array.from({ length: 200 }, (_, i) => `f${1000 + i}`))
    expect((await fetch(`${server.url}api/dir?snapshot=${snap}&path=many&limit=5001`)).status).toBe(400)
  })

  it('refuses a restore from another origin, or without JSON', async () => {
    const dest = path.join(work, 'csrf-dest')
    const body = JSON.stringify({ snapshot: names[0], paths: [], dest })
    const cross = await post(`${server.url}api/restore`, body, { 'content-type': 'application/json', origin: 'http://evil.example' })
    expect(cross.status).toBe(403)
    expect(JSON.parse(cross.body)).toMatchObject({ code: 'VGER_CROSS_ORIGIN' })
    const form = await post(`${server.url}api/restore`, body, { 'content-type': 'text/plain' })
    expect(form.status).toBe(415)
    const get = await fetch(`${server.url}api/restore`)
    expect(get.status).toBe(405)
    expect(existsSync(dest)).toBe(false)
  })

  it('stops writing a zip when the client goes away', async () => {
    const before = reads.reads
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${server.url}api/zip?snapshot=${encodeURIComponent(names[1]!)}`, (res) => {
        expect(res.statusCode).toBe(200)
        res.once('data', () => {
          req.destroy()
          resolve()
        })
      })
      req.on('error', (e) => (req.destroyed ? undefined : reject(e)))
    })
    await new Promise((resolve) => setTimeout(resolve, 500))
    const after = reads.reads
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(reads.reads).toBe(after)
    expect(after - before).toBeLessThan(BIG >> 20)
    // The server goes on answering.
    expect((await fetch(`${server.url}api/snapshots`)).status).toBe(200)
  })

  it('shows the timeline of snapshots', async (ctx) => {
    if (noBrowser) ctx.skip(noBrowser)
    await page.goto(ui())
    await page.locator('li.snapshot').first().waitFor()
    expect(await page.locator('li.snapshot').count()).toBe(2)
    await expect.poll(() => page.locator('h1').textContent()).toContain('ui-test')
    expect(await page.locator('li.snapshot .label').first().textContent()).toBe('home')
    await shot('timeline')
  })

  it('browses folders with the keyboard and previews text', async (ctx) => {
    if (noBrowser) ctx.skip(noBrowser)
    await page.goto(ui(dirRoute('')))
    await page.locator('tr[data-name="docs"]').waitFor()
    // Directories first (big, docs, img, odd), then the files. The first row has the focus.
    await page.keyboard.press('j')
    await page.keyboard.press('j')
    await page.keyboard.press('k')
    await page.keyboard.press('Enter')
    await page.locator(`tr[data-name="${ODD.replaceAll('"', '\\"')}"]`).waitFor()
    expect(await page.locator('.crumbs [aria-current=page]').textContent()).toBe('docs')
    // A name with markup is shown as text.
    expect(await page.locator('a.name', { hasText: ODD }).count()).toBe(1)
    await shot('browse')
    await page.keyboard.press('Backspace')
    await page.locator('tr[data-name="hello.txt"]').waitFor()
    await page.locator('tr[data-name="hello.txt"] a').click()
    await expect.poll(() => page.locator('#preview-text').textContent()).toBe('hello from vger\n')
    await shot('file-text')
  })

  it('previews an image and downloads a file', async (ctx) => {
    if (noBrowser) ctx.skip(noBrowser)
    await page.goto(ui(dirRoute(`img`).replace('#/browse/', '#/file/') + '/dot.png'))
    const img = page.locator('#preview-image')
    await img.waitFor()
    await expect.poll(() => img.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth)).toBe(24)
    await shot('file-image')
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()])
    expect(download.suggestedFilename()).toBe('dot.png')
    const saved = path.join(work, 'dot.png')
    await download.saveAs(saved)
    expect(readFileSync(saved).equals(image)).toBe(true)
  })

  it('downloads a folder as a zip', async (ctx) => {
    if (noBrowser) ctx.skip(noBrowser)
    await page.goto(ui(dirRoute(`docs`)))
    await page.locator('#zip').waitFor()
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#zip').click()])
    expect(download.suggestedFilename()).toBe('docs.zip')
    const saved = path.join(work, 'docs.zip')
    await download.saveAs(saved)
    const entries = readZip(readFileSync(saved))
    const byName = new Map(entries.map((e) => [e.name, e.data]))
    expect([...byName.keys()].sort()).toEqual([ODD, 'readme.md'].sort())
    expect(byName.get('readme.md')?.equals(readFileSync(path.join(src, 'docs', 'readme.md')))).toBe(true)
  })

  it('searches by glob and follows a result', async (ctx) => {
    if (noBrowser) ctx.skip(noBrowser)
    await page.goto(ui())
    await page.locator('li.snapshot').first().waitFor()
    await page.keyboard.press('/')
    await page.keyboard.type('read*.md')
    await page.keyboard.press('Enter')
    const result = page.locator('.results li').first()
    await result.waitFor()
    expect(await result.getAttribute('data-path')).toBe(`docs/readme.md`)
    expect(await result.locator('.chip').count()).toBe(2)
    await shot('search')
    await page.keyboard.press('Enter')
    await expect.poll(() => page.locator('#preview-text').textContent()).toContain('version two')
  })

  it('compares two snapshots', async (ctx) => {
    if (noBrowser) ctx.skip(noBrowser)
    await page.goto(ui())
    await page.locator('li.snapshot').first().waitFor()
    for (const box of await page.locator('li.snapshot input[type=checkbox]').all()) await box.check()
    await page.locator('#compare').click()
    await page.locator('#diff-summary').waitFor()
    expect(await page.locator('#diff-summary').textContent()).toContain('1 added')
    expect(await page.locator(`tr.added[data-path="added.txt"]`).count()).toBe(1)
    expect(await page.locator(`tr.modified[data-path="docs/readme.md"]`).count()).toBe(1)
    await shot('diff')
  })

  it('restores a selection to a local directory', async (ctx) => {
    if (noBrowser) ctx.skip(noBrowser)
    const dest = path.join(work, 'restored')
    await page.goto(ui(dirRoute('')))
    await page.locator('tr[data-name="hello.txt"]').waitFor()
    await page.locator('tr[data-name="hello.txt"] input[type=checkbox]').check()
    // Tick with the keyboard too.
    await page.locator('tr[data-name="docs"]').focus()
    await page.keyboard.press('x')
    await page.locator('#restore-dest').fill(dest)
    await page.locator('#restore-start').click()
    await page.locator('#restore-confirm').click()
    await expect.poll(() => page.locator('#restore-result').textContent()).toContain('Restored 3 files')
    await shot('restore')
    const base = dest
    expect(readdirSync(base).sort()).toEqual(['docs', 'hello.txt'])
    expect(readFileSync(path.join(base, 'hello.txt'), 'utf8')).toBe('hello from vger\n')
    expect(readFileSync(path.join(base, 'docs', ODD), 'utf8')).toBe('a name with markup\n')
    // A second restore into the same, now full, directory is refused.
    await page.locator('#restore-start').click()
    await page.locator('#restore-confirm').click()
    await expect.poll(() => page.locator('#restore-result').textContent()).toMatch(/empty|exist/i)
  })

  it('shows, previews and restores a name that is not UTF-8', async (ctx) => {
    if (noBrowser) ctx.skip(noBrowser)
    await page.goto(ui(dirRoute('odd')))
    const row = page.locator('tr[data-name="caf\\\\xff.txt"]')
    await row.waitFor()
    expect(await row.locator('a.name').textContent()).toBe('caf\\xff.txt')
    await row.locator('a.name').click()
    await expect.poll(() => page.locator('#preview-text').textContent()).toBe('not utf-8\n')
    const dest = path.join(work, 'restored-odd')
    const res = await page.evaluate(
      async ([snapshot, dest]) => {
        const r = await fetch('../api/restore', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ snapshot, paths: ['odd/caf\\xff.txt', 'odd/star[1]{a,b}*.txt'], dest }),
        })
        return { status: r.status, body: (await r.json()) as { files: number } }
      },
      [names[1]!, dest] as const,
    )
    expect(res).toMatchObject({ status: 200, body: { files: 2 } })
    const restored = readdirSync(path.join(dest, 'odd'), { encoding: 'buffer' })
    expect(restored.map((b) => b.toString('latin1')).sort()).toEqual(['caf\xff.txt', 'star[1]{a,b}*.txt'])
  })

  it('works behind the access token prefix', async (ctx) => {
    if (noBrowser) ctx.skip(noBrowser)
    const repo = await Repository.open({ url: path.join(work, 'repo'), passphrase: PASS })
    const guarded = await startMountServer(new SnapshotFs(repo), repo, 'ui-test', {
      listen: { host: '127.0.0.1', port: 0 },
      requireToken: true,
    })
    try {
      expect(guarded.url).toMatch(/\/t\/[A-Za-z0-9_-]+\/$/)
      expect((await fetch(`${guarded.url.replace(/\/t\/.*$/, '/')}api/snapshots`)).status).toBe(401)
      const html = await (await fetch(`${guarded.url}ui/`)).text()
      expect(html).toContain(`<base href="${new URL(guarded.url).pathname}ui/" />`)
      const tab = await page.context().newPage()
      await tab.goto(`${guarded.url}ui/${dirRoute('docs').replace('#/browse/', '#/file/')}/readme.md`)
      await expect.poll(() => tab.locator('#preview-text').textContent()).toContain('version two')
      await tab.locator('.crumbs a', { hasText: 'docs' }).click()
      await tab.locator('tr[data-name="readme.md"]').waitFor()
      expect(await tab.locator('#zip').getAttribute('href')).toMatch(/^\.\.\/api\/zip\?/)
      const zipUrl = await tab.locator('#zip').evaluate((a) => (a as unknown as { href: string }).href)
      expect(zipUrl.startsWith(`${guarded.url}api/zip?`)).toBe(true)
      await tab.close()
    } finally {
      await guarded.close()
    }
  })

  it('shows a large folder a page at a time', async (ctx) => {
    if (noBrowser) ctx.skip(noBrowser)
    await page.goto(ui(dirRoute('many')))
    await page.locator('tr[data-name="f0000"]').waitFor()
    expect(await page.locator('tbody tr').count()).toBe(500)
    await page.locator('button.more').click()
    await page.locator('tr[data-name="f0999"]').waitFor()
    await page.locator('button.more').click()
    await page.locator(`tr[data-name="f${MANY - 1}"]`).waitFor()
    expect(await page.locator('tbody tr').count()).toBe(MANY)
    expect(await page.locator('button.more').isHidden()).toBe(true)
  })

  it('raised no script error and no Content-Security-Policy violation', (ctx) => {
    if (noBrowser) ctx.skip(noBrowser)
    expect(problems).toEqual([])
  })

  it('is readable on a phone', async (ctx) => {
    if (noBrowser) ctx.skip(noBrowser)
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto(ui(dirRoute('')))
    await page.locator('tr[data-name="docs"]').waitFor()
    const width = await page.evaluate('document.documentElement.scrollWidth')
    expect(width).toBeLessThanOrEqual(390)
    await shot('phone-browse')
    await page.goto(ui())
    await page.locator('li.snapshot').first().waitFor()
    await shot('phone-timeline')
  })
})
