/**
 * The timeline: every snapshot, newest first, grouped by day, with its label, host and size. Each opens
 * the snapshot's root; ticking two and pressing "Compare" shows their diff.
 */
import { getJson } from './api.js'
import type { SnapshotJson, SnapshotsResponse } from './api-types.js'
import { errorBox, formatBytes, formatClock, formatDay, h, show } from './dom.js'
import { listNav, setUp } from './keys.js'
import { route } from './api.js'

let cached: { at: number; data: SnapshotsResponse } | undefined

/** The snapshot list (reused for a few seconds across views). */
export async function loadSnapshots(): Promise<SnapshotsResponse> {
  if (cached !== undefined && Date.now() - cached.at < 5000) return cached.data
  const data = await getJson<SnapshotsResponse>('snapshots')
  cached = { at: Date.now(), data }
  return data
}

export function snapshotTitle(s: SnapshotJson): string {
  return `${formatDay(s.time)} ${formatClock(s.time)} · ${s.label || 'unlabelled'} · ${s.hostname} · ${s.id.slice(0, 8)}`
}

export async function timelineView(main: HTMLElement): Promise<void> {
  setUp(undefined)
  const { snapshots, damaged, repository } = await loadSnapshots()
  document.title = `${repository} · vger`
  const picked = new Set<string>()
  const compare = h('button', { type: 'button', disabled: true, id: 'compare' }, 'Compare the two ticked')
  const hint = h('span', { class: 'muted' }, 'Tick two snapshots to compare them.')
  compare.addEventListener('click', () => {
    const [a, b] = [...picked].sort((x, y) => order.indexOf(x) - order.indexOf(y))
    if (a !== undefined && b !== undefined) location.hash = `#/diff?${new URLSearchParams({ a, b })}`
  })
  const newestFirst = [...snapshots].reverse()
  const order = snapshots.map((s) => s.name)
  const days = new Map<string, SnapshotJson[]>()
  for (const s of newestFirst) {
    const day = formatDay(s.time)
    days.set(day, [...(days.get(day) ?? []), s])
  }
  const list = h('div', { class: 'timeline' })
  for (const [day, items] of days) {
    list.append(
      h('h2', { class: 'day' }, day),
      h(
        'ul',
        { class: 'rows' },
        items.map((s) => {
          const box = h('input', { type: 'checkbox', 'aria-label': `pick ${s.name} to compare`, tabindex: -1 })
          box.addEventListener('change', () => {
            if (box.checked) picked.add(s.name)
            else picked.delete(s.name)
            compare.disabled = picked.size !== 2
          })
          return h(
            'li',
            { 'data-row': true, class: 'snapshot', 'data-name': s.name },
            box,
            h('a', { href: route('browse', s.name), 'data-open': true, tabindex: -1, class: 'title' }, formatClock(s.time)),
            h('span', { class: 'label' }, s.label || 'unlabelled'),
            h('span', { class: 'host' }, `${s.username}@${s.hostname}`),
            h('span', { class: 'size' }, `${s.stats.files} files · ${formatBytes(s.stats.bytes)}`),
            h('span', { class: 'paths muted' }, s.paths.join(', ')),
            s.partial ? h('span', { class: 'badge' }, 'partial') : null,
          )
        }),
      ),
    )
  }
  show(
    main,
    h('h1', {}, `Snapshots of ${repository}`),
    damaged > 0 ? errorBox(`${damaged} snapshot object(s) could not be read; run "vger check".`) : null,
    snapshots.length === 0 ? h('p', {}, 'This repository has no snapshots yet.') : null,
    h('div', { class: 'toolbar' }, compare, hint),
    list,
  )
  listNav(list).focusFirst()
}
