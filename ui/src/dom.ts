/**
 * Building the page: `h()` makes an element whose text children are text nodes (never parsed as HTML, so a
 * file named `<img onerror=…>` shows as those characters), plus formatting of sizes and times.
 */

export type Child = Node | string | number | null | undefined | false
type Attr = string | number | boolean | undefined | ((e: Event) => void)

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, Attr> = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue
    if (typeof value === 'function') el.addEventListener(key.replace(/^on/, ''), value)
    else if (value === true) el.setAttribute(key, '')
    else el.setAttribute(key, String(value))
  }
  append(el, children)
  return el
}

export function append(parent: Node, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue
    parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c)
  }
}

/** Replaces what `parent` shows. */
export function show(parent: Element, ...children: (Child | Child[])[]): void {
  parent.replaceChildren()
  append(parent, children)
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i += 1
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}

const pad = (n: number): string => String(n).padStart(2, '0')

/** `2026-12-03` in local time. */
export function formatDay(iso: string): string {
  const d = new Date(iso)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
}

/** `2026-12-03 14:05` in local time. */
export function formatTime(iso: string | number): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  return `${formatDay(d.toISOString())} ${pad(d.getHours())}:${pad(d.getMinutes())}`
}

/** `14:05:09` in local time. */
export function formatClock(iso: string): string {
  const d = new Date(iso)
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

export function errorBox(e: unknown): HTMLElement {
  const message = e instanceof Error ? e.message : String(e)
  return h('p', { class: 'error', role: 'alert' }, message)
}

export function loading(): HTMLElement {
  return h('p', { class: 'muted', 'aria-live': 'polite' }, 'Loading…')
}
