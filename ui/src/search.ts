/**
 * Search by name (a glob on the last path component: `*.txt`, `report-202?.pdf`) across all snapshots or
 * one, with each matching path's versions linked; and the diff of two snapshots.
 */
import { getJson, route } from './api.js'
import type { DiffResponse, FindResponse } from './api-types.js'
import { formatBytes, formatTime, h, show } from './dom.js'
import { listNav, setUp } from './keys.js'
import { loadSnapshots, snapshotTitle } from './timeline.js'

export async function searchView(main: HTMLElement, params: URLSearchParams): Promise<void> {
  setUp(() => history.back())
  const pattern = params.get('pattern') ?? ''
  const snapshot = params.get('snapshot') ?? 'all'
  const input = document.getElementById('search-pattern')
  if (input instanceof HTMLInputElement && input.value === '') input.value = pattern
  if (pattern === '') {
    show(main, h('h1', {}, 'Search'), h('p', {}, 'Type a name or a glob (*.txt) in the search box and press Enter.'))
    return
  }
  document.title = `${pattern} · search · vger`
  show(main, h('h1', {}, `Searching for ${pattern}…`))
  const found = await getJson<FindResponse>('find', { pattern, snapshot, icase: params.get('icase') === '1' ? 1 : undefined })
  const list = h(
    'ul',
    { class: 'rows results' },
    found.results.map((r) => {
      const newest = r.versions[r.versions.length - 1]
      const kind = r.kind === 'dir' ? 'browse' : 'file'
      return h(
        'li',
        { 'data-row': true, 'data-path': r.path },
        h(
          'a',
          { href: newest === undefined ? '#/' : route(kind, newest.snapshot, r.path), 'data-open': true, tabindex: -1, class: 'title' },
          r.path,
          r.kind === 'dir' ? '/' : '',
        ),
        h(
          'span',
          { class: 'versions' },
          r.versions.map((v) =>
            h(
              'a',
              { href: route(kind, v.snapshot, r.path), class: `chip ${v.status}`, tabindex: -1, title: `${v.snapshot}: ${v.status}` },
              `${formatTime(v.time)} · ${v.status}${r.kind === 'dir' ? '' : ` · ${formatBytes(v.size)}`}`,
            ),
          ),
        ),
      )
    }),
  )
  show(
    main,
    h('h1', {}, `${found.results.length}${found.truncated ? '+' : ''} ${found.results.length === 1 ? 'path' : 'paths'} named ${pattern}`),
    h('p', { class: 'muted' }, snapshot === 'all' ? 'In every snapshot.' : `In snapshot ${snapshot}.`),
    found.results.length === 0 ? h('p', {}, 'Nothing matches. The pattern matches the last part of a path: try *name*.') : list,
    found.truncated ? h('p', { class: 'muted' }, 'Only the first results are shown: narrow the pattern.') : null,
  )
  listNav(list).focusFirst()
}

function picker(id: string, label: string, names: { name: string; title: string }[], value: string | null): HTMLElement {
  const select = h(
    'select',
    { id, name: id },
    names.map((n) => h('option', { value: n.name, selected: n.name === value }, n.title)),
  )
  return h('label', { class: 'picker' }, `${label} `, select)
}

const SIGN: Record<string, string> = { added: '+', removed: '−', modified: 'M', metadata: 'm' }

export async function diffView(main: HTMLElement, params: URLSearchParams): Promise<void> {
  setUp(() => {
    location.hash = '#/'
  })
  const { snapshots } = await loadSnapshots()
  const names = [...snapshots].reverse().map((s) => ({ name: s.name, title: snapshotTitle(s) }))
  const a = params.get('a')
  const b = params.get('b')
  const form = h(
    'form',
    { class: 'toolbar', id: 'diff-form' },
    picker('diff-a', 'From', names, a ?? names[1]?.name ?? null),
    picker('diff-b', 'to', names, b ?? names[0]?.name ?? null),
    h('button', { type: 'submit' }, 'Compare'),
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const data = new FormData(form)
    location.hash = `#/diff?${new URLSearchParams({ a: String(data.get('diff-a')), b: String(data.get('diff-b')) })}`
  })
  if (a === null || b === null) {
    show(main, h('h1', {}, 'Compare two snapshots'), form)
    return
  }
  show(main, h('h1', {}, 'Compare two snapshots'), form, h('p', { class: 'muted' }, 'Comparing…'))
  const d = await getJson<DiffResponse>('diff', { a, b })
  const tbody = h(
    'tbody',
    {},
    d.entries.map((e) => {
      const where = e.change === 'removed' ? d.a : d.b
      const kind = e.kind === 'dir' ? 'browse' : 'file'
      const sizes =
        e.change === 'modified' && e.oldSize !== undefined && e.newSize !== undefined
          ? `${formatBytes(e.oldSize)} → ${formatBytes(e.newSize)}`
          : e.newSize !== undefined
            ? formatBytes(e.newSize)
            : e.oldSize !== undefined
              ? formatBytes(e.oldSize)
              : ''
      return h(
        'tr',
        { 'data-row': true, class: e.change, 'data-path': e.path },
        h('td', { class: 'sign', title: e.change }, SIGN[e.change] ?? '?'),
        h('td', {}, h('a', { href: route(kind, where, e.path), 'data-open': true, tabindex: -1 }, e.path, e.kind === 'dir' ? '/' : '')),
        h('td', { class: 'num' }, sizes),
        h('td', { class: 'muted' }, e.fields.join(', ')),
      )
    }),
  )
  show(
    main,
    h('h1', {}, 'Compare two snapshots'),
    form,
    h(
      'p',
      { class: 'summary', id: 'diff-summary' },
      `${d.added} added, ${d.removed} removed, ${d.modified} modified, ${d.metadata} metadata only; `,
      `+${formatBytes(d.bytesAdded)} −${formatBytes(d.bytesRemoved)}`,
    ),
    d.entries.length === 0
      ? h('p', {}, 'The two snapshots hold the same paths and contents.')
      : h(
          'table',
          { class: 'listing diff' },
          h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'Path'), h('th', {}, 'Size'), h('th', {}, 'Changed'))),
          tbody,
        ),
    d.truncated ? h('p', { class: 'muted' }, 'Only the first entries are shown (vger snapshot diff lists them all).') : null,
  )
  listNav(tbody).focusFirst()
}
