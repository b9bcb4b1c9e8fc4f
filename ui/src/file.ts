/**
 * A file of a snapshot: its metadata, a download link, and a preview: an image shown from the server, or
 * the first 256 KiB as text (a file with NUL bytes near its start is taken for binary and not shown).
 */
import { apiUrl, getHead, getJson, parent, route } from './api.js'
import type { EntryJson } from './api-types.js'
import { errorBox, formatBytes, formatTime, h, show } from './dom.js'
import { breadcrumbs } from './browse.js'
import { setUp } from './keys.js'

export const TEXT_CAP = 256 * 1024

const IMAGE = /\.(png|jpe?g|gif|webp|avif|bmp|ico|svg)$/i

function modeString(mode: number): string {
  const rwx = (bits: number): string => `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${bits & 1 ? 'x' : '-'}`
  return `${rwx(mode >> 6)}${rwx(mode >> 3)}${rwx(mode)} (${(mode & 0o7777).toString(8).padStart(4, '0')})`
}

async function textPreview(box: HTMLElement, snapshot: string, path: string): Promise<void> {
  const { bytes, truncated } = await getHead(snapshot, path, TEXT_CAP)
  if (bytes.subarray(0, 8192).includes(0)) {
    show(box, h('p', { class: 'muted' }, 'A binary file: no preview. Download it instead.'))
    return
  }
  const text = new TextDecoder('utf-8').decode(bytes)
  show(
    box,
    truncated ? h('p', { class: 'muted' }, `Showing the first ${formatBytes(TEXT_CAP)}.`) : null,
    h('pre', { class: 'text', id: 'preview-text', tabindex: 0 }, text),
  )
}

export async function fileView(main: HTMLElement, snapshot: string, path: string): Promise<void> {
  setUp(() => {
    location.hash = route('browse', snapshot, parent(path))
  })
  const entry = await getJson<EntryJson>('stat', { snapshot, path })
  if (entry.kind === 'dir') {
    location.replace(route('browse', snapshot, path))
    return
  }
  const name = path.split('/').pop() ?? path
  document.title = `${name} · vger`
  const preview = h('div', { class: 'preview', 'aria-label': 'preview' })
  const download = h(
    'a',
    { class: 'button', id: 'download', href: apiUrl('file', { snapshot, path, download: 1 }), download: '' },
    'Download',
  )
  show(
    main,
    breadcrumbs(snapshot, path, true),
    h(
      'dl',
      { class: 'meta' },
      h('dt', {}, 'Size'),
      h('dd', {}, `${formatBytes(entry.size)} (${entry.size} bytes)`),
      h('dt', {}, 'Modified'),
      h('dd', {}, formatTime(entry.mtimeMs)),
      h('dt', {}, 'Mode'),
      h('dd', {}, modeString(entry.mode)),
      h('dt', {}, 'Owner'),
      h('dd', {}, `${entry.user || '?'}:${entry.group || '?'}`),
    ),
    h(
      'div',
      { class: 'toolbar' },
      download,
      h('a', { class: 'button secondary', href: `#/search?${new URLSearchParams({ pattern: name, snapshot: 'all' })}` }, 'Other versions'),
    ),
    preview,
  )
  download.focus()
  if (entry.kind !== 'file' && entry.kind !== 'hardlink') {
    show(preview, h('p', { class: 'muted' }, `A ${entry.kind}${entry.target !== undefined ? ` to ${entry.target}` : ''}.`))
  } else if (IMAGE.test(name)) {
    show(preview, h('img', { src: apiUrl('file', { snapshot, path }), alt: name, id: 'preview-image' }))
  } else if (entry.size === 0) {
    show(preview, h('p', { class: 'muted' }, 'An empty file.'))
  } else {
    show(preview, h('p', { class: 'muted' }, 'Loading the preview…'))
    textPreview(preview, snapshot, path).catch((e: unknown) => show(preview, errorBox(e)))
  }
}
