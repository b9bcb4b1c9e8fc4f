/**
 * Restoring a selection (or a whole snapshot) to a directory of the machine the server runs on: the
 * destination must be an absolute path to a new or empty directory, and nothing happens before the
 * second, explicit confirmation.
 */
import { postJson } from './api.js'
import type { RestoreResponse } from './api-types.js'
import { errorBox, formatBytes, h, show } from './dom.js'

export interface RestorePanel {
  element: HTMLElement
  /** Call when the selection changed. */
  update(): void
}

export function restorePanel(snapshot: string, selected: Set<string>): RestorePanel {
  const summary = h('p', { id: 'restore-summary' })
  const list = h('ul', { class: 'selection' })
  const dest = h('input', {
    type: 'text',
    id: 'restore-dest',
    placeholder: '/absolute/path/to/a/new/folder',
    autocomplete: 'off',
    spellcheck: 'false',
  })
  const start = h('button', { type: 'button', id: 'restore-start' }, 'Restore…')
  const clear = h('button', { type: 'button', class: 'secondary' }, 'Clear selection')
  const confirmBox = h('div', { class: 'confirm', hidden: true, role: 'group', 'aria-label': 'confirm the restore' })
  const result = h('div', { 'aria-live': 'polite', id: 'restore-result' })

  const update = (): void => {
    const n = selected.size
    summary.textContent = n === 0 ? 'Nothing selected: "Restore…" restores the whole snapshot.' : `${n} selected in this snapshot:`
    show(
      list,
      [...selected].sort().map((p) => h('li', {}, p)),
    )
    confirmBox.hidden = true
  }
  clear.addEventListener('click', () => {
    selected.clear()
    for (const box of document.querySelectorAll<HTMLInputElement>('.listing input[type=checkbox]')) box.checked = false
    update()
  })
  start.addEventListener('click', () => {
    const target = dest.value.trim()
    if (!target.startsWith('/')) {
      show(result, errorBox('Give the destination as an absolute path (it starts with /).'))
      dest.focus()
      return
    }
    const what = selected.size === 0 ? `the whole snapshot ${snapshot}` : `${selected.size} path(s) of ${snapshot}`
    const go = h('button', { type: 'button', id: 'restore-confirm', class: 'danger' }, 'Restore now')
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel')
    cancel.addEventListener('click', () => {
      confirmBox.hidden = true
      start.focus()
    })
    go.addEventListener('click', async () => {
      go.disabled = true
      cancel.disabled = true
      show(result, h('p', { class: 'muted' }, 'Restoring…'))
      try {
        const { body } = await postJson<RestoreResponse>('restore', { snapshot, paths: [...selected], dest: target })
        show(
          result,
          h(
            'p',
            { class: body.errors.length === 0 ? 'ok' : 'error', role: 'status' },
            `Restored ${body.files} files, ${body.dirs} folders, ${body.symlinks} symlinks (${formatBytes(body.bytes)}) to ${body.dest}.`,
          ),
          body.errors.length > 0
            ? h(
                'ul',
                { class: 'error' },
                body.errors.map((e) => h('li', {}, `${e.path}: ${e.message}`)),
              )
            : null,
          body.skipped.length > 0
            ? h(
                'ul',
                { class: 'muted' },
                body.skipped.map((s) => h('li', {}, `${s.path}: ${s.reason}`)),
              )
            : null,
        )
      } catch (e) {
        show(result, errorBox(e))
      }
      confirmBox.hidden = true
    })
    show(confirmBox, h('p', {}, `Restore ${what} into ${target}? It must be a new or empty folder.`), go, cancel)
    confirmBox.hidden = false
    go.focus()
  })
  update()
  const element = h(
    'section',
    { class: 'restore', 'aria-labelledby': 'restore-title' },
    h('h2', { id: 'restore-title' }, 'Restore'),
    summary,
    list,
    h('label', { for: 'restore-dest' }, 'Destination on the server’s machine'),
    h('div', { class: 'toolbar' }, dest, start, clear),
    confirmBox,
    result,
  )
  return { element, update }
}
