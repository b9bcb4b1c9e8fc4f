/**
 * Names between the engine and the outside world. The engine writes a name as UTF-8 with `\xNN` for each
 * byte that is not UTF-8 and `\\` for a backslash (its "escaped" form); a URL carries the raw bytes
 * percent-encoded; a tar or zip entry carries the raw bytes. Both directions are exact, so every name a
 * snapshot holds (any bytes but `/` and NUL) can be listed, fetched and downloaded.
 */

/** The raw bytes of an escaped name (`a\xffb` → 61 ff 62). */
export function escapedToBytes(escaped: string): Buffer {
  const out: Buffer[] = []
  let plain = ''
  for (let i = 0; i < escaped.length; i++) {
    const c = escaped[i]
    if (c !== '\\') {
      plain += c
      continue
    }
    const next = escaped[i + 1]
    if (next === '\\') {
      plain += '\\'
      i += 1
    } else if (next === 'x' && /^[0-9a-f]{2}$/.test(escaped.slice(i + 2, i + 4))) {
      out.push(Buffer.from(plain, 'utf8'), Buffer.from([parseInt(escaped.slice(i + 2, i + 4), 16)]))
      plain = ''
      i += 3
    } else {
      plain += c
    }
  }
  out.push(Buffer.from(plain, 'utf8'))
  return Buffer.concat(out)
}

/** The escaped form of raw bytes, exactly as the engine writes it. */
export function bytesToEscaped(bytes: Uint8Array): string {
  let out = ''
  let i = 0
  while (i < bytes.length) {
    const n = utf8SequenceLength(bytes, i)
    if (n === 0) {
      out += `\\x${(bytes[i] as number).toString(16).padStart(2, '0')}`
      i += 1
      continue
    }
    const text = Buffer.from(bytes.subarray(i, i + n)).toString('utf8')
    out += text === '\\' ? '\\\\' : text
    i += n
  }
  return out
}

/** The length of the valid UTF-8 sequence at `i` (1–4), or 0 when the byte there starts none. */
function utf8SequenceLength(b: Uint8Array, i: number): number {
  const x = b[i] as number
  if (x < 0x80) return 1
  const cont = (k: number): boolean => i + k < b.length && ((b[i + k] as number) & 0xc0) === 0x80
  if (x >= 0xc2 && x <= 0xdf) return cont(1) ? 2 : 0
  if (x >= 0xe0 && x <= 0xef) {
    const y = b[i + 1] as number
    // No overlong forms (E0 80..9F) and no surrogates (ED A0..BF).
    if ((x === 0xe0 && y < 0xa0) || (x === 0xed && y >= 0xa0)) return 0
    return cont(1) && cont(2) ? 3 : 0
  }
  if (x >= 0xf0 && x <= 0xf4) {
    const y = b[i + 1] as number
    if ((x === 0xf0 && y < 0x90) || (x === 0xf4 && y >= 0x90)) return 0
    return cont(1) && cont(2) && cont(3) ? 4 : 0
  }
  return 0
}

const URL_SAFE_NAME = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]*$/

/** A URL path segment for an escaped name: its raw bytes, percent-encoded where a URL needs it. */
export function escapedToUrlSegment(escaped: string): string {
  // Most names need no encoding at all (a listing of 100,000 entries encodes each one).
  if (URL_SAFE_NAME.test(escaped)) return escaped
  let out = ''
  for (const byte of escapedToBytes(escaped)) {
    const c = String.fromCharCode(byte)
    out += /[A-Za-z0-9\-._~!$&'()*+,;=:@]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/**
 * The escaped names of a URL path (`/a/b%FF/`), or undefined when it cannot name an entry: `.` or `..`, an
 * encoded `/` or NUL, a malformed escape, or a name longer than 4096 bytes.
 */
export function urlPathToEscaped(urlPath: string): string[] | undefined {
  const names: string[] = []
  for (const segment of urlPath.split('/')) {
    if (segment === '') continue
    const bytes = percentDecode(segment)
    if (bytes === undefined || bytes.length > 4096 || bytes.includes(0x2f) || bytes.includes(0)) return undefined
    const name = bytesToEscaped(bytes)
    if (name === '.' || name === '..') return undefined
    names.push(name)
  }
  return names
}

function percentDecode(segment: string): Buffer | undefined {
  const out: number[] = []
  const raw = Buffer.from(segment, 'utf8')
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i] as number
    if (b !== 0x25) {
      out.push(b)
      continue
    }
    const hex = raw.subarray(i + 1, i + 3).toString('latin1')
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined
    out.push(parseInt(hex, 16))
    i += 2
  }
  return Buffer.from(out)
}
