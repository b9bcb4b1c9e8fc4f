/**
 * The vger web UI: one page, routed by the URL's fragment so that every view has an address that works
 * behind the server's `/t/TOKEN` prefix and survives a reload.
 *   #/                         the snapshot timeline
 *   #/browse/SNAP/a/b          a folder       #/file/SNAP/a/b.txt   a file
 *   #/search?pattern=G&snapshot=all|SNAP    #/diff?a=SNAP&b=SNAP
 */
import { browseView } from './browse.js'
import { errorBox, h, loading, show } from './dom.js'
import { fileView } from './file.js'
import { installGlobalKeys } from './keys.js'
import { diffView, searchView } from './search.js'
import { loadSnapshots, timelineView } from './timeline.js'

const view = document.getElementById('view') as HTMLElement

function decodePath(segments: string[]): string[] {
  return segments.filter((s) => s !== '').map((s) => decodeURIComponent(s))
}

async function render(): Promise<void> {
  // Each render draws into a slot of its own: a slower, older render goes on drawing into a slot that is
  // no longer on the page, and never over the newer one.
  const main = h('div', { class: 'slot' })
  view.replaceChildren(main)
  const hash = location.hash.replace(/^#/, '') || '/'
  const [pathPart = '/', query = ''] = hash.split('?', 2)
  const [, kind = '', ...rest] = pathPart.split('/')
  const params = new URLSearchParams(query)
  show(main, loading())
  updateScope(kind === 'browse' || kind === 'file' ? decodePath(rest)[0] : undefined)
  try {
    switch (kind) {
      case '':
        return await timelineView(main)
      case 'browse':
      case 'file': {
        const [snapshot, ...names] = decodePath(rest)
        if (snapshot === undefined) return await timelineView(main)
        return kind === 'browse' ? await browseView(main, snapshot, names.join('/')) : await fileView(main, snapshot, names.join('/'))
      }
      case 'search':
        return await searchView(main, params)
      case 'diff':
        return await diffView(main, params)
      default:
        show(main, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the snapshots')))
    }
  } catch (e) {
    show(main, errorBox(e), h('p', {}, h('a', { href: '#/' }, 'Back to the snapshots')))
  }
}

/** The search box's scope: "all snapshots", plus the snapshot being browsed. */
function updateScope(current: string | undefined): void {
  const select = document.getElementById('search-snapshot') as HTMLSelectElement
  const keep = select.value
  select.replaceChildren(h('option', { value: 'all' }, 'all snapshots'))
  if (current !== undefined) select.append(h('option', { value: current }, 'this snapshot'))
  select.value = current !== undefined && keep !== 'all' && keep !== '' ? current : 'all'
}

function installSearch(): void {
  const form = document.getElementById('search') as HTMLFormElement
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const pattern = (document.getElementById('search-pattern') as HTMLInputElement).value.trim()
    const snapshot = (document.getElementById('search-snapshot') as HTMLSelectElement).value
    if (pattern !== '') location.hash = `#/search?${new URLSearchParams({ pattern, snapshot })}`
  })
}

installGlobalKeys()
installSearch()
window.addEventListener('hashchange', () => void render())
void render()
void loadSnapshots().catch(() => undefined)
