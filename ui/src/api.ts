/**
 * The server's JSON API and the UI's own addresses. Every URL is relative: the page is served with a
 * `<base href>` of `…/ui/`, so `../api/…` reaches the API under the same `/t/TOKEN` prefix, if any.
 */
import type { ApiError } from './api-types.js'

export class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

type Params = Record<string, string | number | undefined>

export function apiUrl(call: string, params: Params = {}): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v))
  const query = q.toString()
  return `../api/${call}${query === '' ? '' : `?${query}`}`
}

async function failure(res: Response): Promise<RequestError> {
  let body: Partial<ApiError> = {}
  try {
    body = (await res.json()) as ApiError
  } catch {
    // Not JSON: the status says enough.
  }
  return new RequestError(res.status, body.code ?? `HTTP_${res.status}`, body.message ?? `${res.status} ${res.statusText}`)
}

export async function getJson<T>(call: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const res = await fetch(apiUrl(call, params), { signal: signal ?? null, headers: { accept: 'application/json' } })
  if (!res.ok) throw await failure(res)
  return (await res.json()) as T
}

export async function postJson<T>(call: string, body: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(apiUrl(call), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  })
  if (!res.ok && res.status !== 207) throw await failure(res)
  return { status: res.status, body: (await res.json()) as T }
}

/** The first `cap` bytes of a file, and whether there were more. */
export async function getHead(snapshot: string, path: string, cap: number): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  const res = await fetch(apiUrl('file', { snapshot, path }), { headers: { range: `bytes=0-${cap - 1}` } })
  if (!res.ok) throw await failure(res)
  const bytes = new Uint8Array(await res.arrayBuffer())
  const total = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1]
  return { bytes, truncated: total !== undefined ? Number(total) > bytes.length : false }
}

/** `#/browse/SNAP/a/b`: the UI's address of a directory (`kind` "file" for a file's page). */
export function route(kind: 'browse' | 'file', snapshot: string, path = ''): string {
  const segments = [snapshot, ...(path === '' ? [] : path.split('/'))].map(encodeURIComponent)
  return `#/${kind}/${segments.join('/')}`
}

export function join(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`
}

export function parent(path: string): string {
  const i = path.lastIndexOf('/')
  return i < 0 ? '' : path.slice(0, i)
}
