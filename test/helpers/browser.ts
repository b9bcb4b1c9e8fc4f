/**
 * A browser for UI tests: headless Chromium from Debian's package (scripts/peers/chromium.sh installs it when
 * missing and running as root), launched by playwright-core, which never downloads a browser of its own.
 * Also a tiny PNG maker, so a test needs no image file.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { crc32, deflateSync } from 'node:zlib'
import { chromium, type Browser } from 'playwright-core'
import { ROOT } from './addon.js'

/** A `w`×`h` PNG of one colour, made here so the test needs no image file. */
export function png(w: number, h: number, rgb: [number, number, number]): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(data.length)
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(body))
    return Buffer.concat([len, body, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0)
  ihdr.writeUInt32BE(h, 4)
  ihdr.set([8, 2, 0, 0, 0], 8)
  const row = Buffer.concat([Buffer.from([0]), Buffer.concat(Array.from({ length: w }, () => Buffer.from(rgb)))])
  const raw = Buffer.concat(Array.from({ length: h }, () => row))
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

/** The browser's path (scripts/peers/chromium.sh installs Debian's chromium when missing), or why there is none. */
export function findChromium(): Promise<{ path?: string; reason?: string }> {
  return new Promise((resolve) => {
    execFile('sh', [path.join(ROOT, 'scripts', 'peers', 'chromium.sh'), 'path'], { timeout: 600_000 }, (err, stdout, stderr) => {
      const found = stdout.trim().split('\n').pop() ?? ''
      if (err === null && found !== '' && existsSync(found)) resolve({ path: found })
      else resolve({ reason: `no headless Chromium: ${stderr.trim().split('\n').pop() ?? err?.message ?? 'unknown'}` })
    })
  })
}

/** Launches headless Chromium at `executablePath` with the flags a sandboxless test machine needs. */
export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}
