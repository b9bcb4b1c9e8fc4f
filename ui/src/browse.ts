/**
 * A directory of a snapshot: breadcrumbs, a listing sorted by the server (so paging is consistent in a
 * directory of any size), a zip download of the folder, and checkboxes that collect a restore selection
 * (kept per snapshot while moving between folders).
 */
import { RequestError, apiUrl, getJson, join, parent, route } from './api.js'
import type { DirResponse, EntryJson } from './api-types.js'
import { formatBytes, formatTime, h, show } from './dom.js'
import { listNav, setUp } from './keys.js'
import { restorePanel } from './restore.js'

const PAGE = 500

type Sort = 'kind' | 'name' | 'size' | 'mtime'
const sortState: { sort: Sort; order: 'asc' | 'desc' } = { sort: 'kind', order: 'asc' }

/** The restore selection of each snapshot: escaped paths from its root. */
export const selections = new Map<string, Set<string>>()

export function selectionOf(snapshot: string): Set<string> {
  let s = selections.get(snapshot)
  if (s === undefined) {
    s = new Set()
    selections.set(snapshot, s)
  }
  return s
}

/** Snapshots › SNAP › a › b, each a link but the last. */
export function breadcrumbs(snapshot: string, path: string, lastIsFile = false): HTMLElement {
  const names = path === '' ? [] : path.split('/')
  const items: HTMLElement[] = [h('li', {}, h('a', { href: '#/' }, 'Snapshots'))]
  const crumbs = [{ label: snapshot, path: '' }, ...names.map((n, i) => ({ label: n, path: names.slice(0, i + 1).join('/') }))]
  crumbs.forEach((c, i) => {
    const last = i === crumbs.length - 1
    items.push(
      h(
        'li',
        {},
        last
          ? h('span', { 'aria-current': 'page' }, c.label)
          : h('a', { href: route(lastIsFile && last ? 'file' : 'browse', snapshot, c.path) }, c.label),
      ),
    )
  })
  return h('nav', { class: 'crumbs', 'aria-label': 'location' }, h('ol', {}, items))
}

/** The icon's class: a folder, a file, a link, or a dot for the rest (drawn by the style sheet). */
function kindClass(e: EntryJson): string {
  if (e.kind === 'dir') return 'dir'
  if (e.kind === 'file' || e.kind === 'hardlink') return 'file'
  return e.kind === 'symlink' ? 'symlink' : 'other'
}

function entryLink(snapshot: string, dir: string, e: EntryJson): HTMLElement {
  const path = join(dir, e.name)
  const attrs = { 'data-open': true, tabindex: -1, class: 'name' }
  if (e.kind === 'dir') return h('a', { ...attrs, href: route('browse', snapshot, path) }, e.name, '/')
  if (e.kind === 'file' || e.kind === 'hardlink') return h('a', { ...attrs, href: route('file', snapshot, path) }, e.name)
  return h('span', { class: 'name' }, e.name, e.target !== undefined ? h('span', { class: 'muted' }, ` → ${e.target}`) : null)
}

export async function browseView(main: HTMLElement, snapshot: string, path: string): Promise<void> {
  setUp(() => {
    location.hash = path === '' ? '#/' : route('browse', snapshot, parent(path))
  })
  let first: DirResponse
  try {
    first = await getJson<DirResponse>('dir', { snapshot, path, limit: PAGE, ...sortState })
  } catch (e) {
    if (e instanceof RequestError && e.code === 'VGER_NOT_A_DIRECTORY') {
      location.replace(route('file', snapshot, path))
      return
    }
    throw e
  }
  document.title = `${path === '' ? snapshot : path} · vger`
  const selected = selectionOf(snapshot)
  const panel = restorePanel(snapshot, selected)
  const tbody = h('tbody', {})
  const more = h('button', { type: 'button', class: 'more' }, '')
  let loaded = 0
  const addRows = (entries: EntryJson[]): void => {
    for (const e of entries) {
      const p = join(path, e.name)
      const box = h('input', { type: 'checkbox', tabindex: -1, 'aria-label': `select ${e.name}`, checked: selected.has(p) })
      box.addEventListener('change', () => {
        if (box.checked) selected.add(p)
        else selected.delete(p)
        panel.update()
      })
      tbody.append(
        h(
          'tr',
          { 'data-row': true, 'data-name': e.name, 'data-kind': e.kind },
          h('td', { class: 'pick' }, box),
          h('td', { class: `icon ${kindClass(e)}`, title: e.kind }),
          h('td', {}, entryLink(snapshot, path, e)),
          h('td', { class: 'num' }, e.kind === 'dir' ? '' : formatBytes(e.size)),
          h('td', { class: 'time' }, formatTime(e.mtimeMs)),
        ),
      )
    }
    loaded += entries.length
    more.textContent = `Show more (${loaded} of ${first.total})`
    more.hidden = loaded >= first.total
  }
  more.addEventListener('click', async () => {
    more.disabled = true
    const page = await getJson<DirResponse>('dir', { snapshot, path, offset: loaded, limit: PAGE, ...sortState })
    addRows(page.entries)
    more.disabled = false
  })
  addRows(first.entries)
  const header = (label: string, sort: Sort): HTMLElement => {
    const active = sortState.sort === sort
    const button = h('button', { type: 'button', class: 'sort' }, label, active ? (sortState.order === 'asc' ? ' ▲' : ' ▼') : '')
    button.addEventListener('click', () => {
      sortState.order = active && sortState.order === 'asc' ? 'desc' : 'asc'
      sortState.sort = sort
      void browseView(main, snapshot, path)
    })
    return h('th', { scope: 'col', 'aria-sort': active ? (sortState.order === 'asc' ? 'ascending' : 'descending') : undefined }, button)
  }
  const table = h(
    'table',
    { class: 'listing' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { class: 'pick' }, ''),
        header('', 'kind'),
        header('Name', 'name'),
        header('Size', 'size'),
        header('Modified', 'mtime'),
      ),
    ),
    tbody,
  )
  show(
    main,
    breadcrumbs(snapshot, path),
    h(
      'div',
      { class: 'toolbar' },
      h('a', { class: 'button', href: apiUrl('zip', { snapshot, path }), download: '', id: 'zip' }, 'Download folder as zip'),
      h('span', { class: 'muted' }, `${first.total} entries`),
    ),
    first.total === 0 ? h('p', { class: 'muted' }, 'This folder is empty.') : table,
    more,
    panel.element,
  )
  listNav(tbody).focusFirst()
}
