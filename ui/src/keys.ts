/**
 * The keyboard: in a listing, ↓/j and ↑/k move between rows (one row is in the tab order at a time), Home
 * and End jump, Enter opens the row, Space or x ticks its checkbox. Anywhere outside a text field, `/`
 * focuses the search box and Backspace goes up a level (each view says where "up" is).
 */

let upAction: (() => void) | undefined

/** What Backspace does in the current view (nothing when undefined). */
export function setUp(action: (() => void) | undefined): void {
  upAction = action
}

const isTyping = (t: EventTarget | null): boolean =>
  t instanceof HTMLElement && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName)) && !isCheckbox(t)

const isCheckbox = (t: EventTarget | null): boolean => t instanceof HTMLInputElement && t.type === 'checkbox'

export function installGlobalKeys(): void {
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return
    if (e.key === 'Escape' && isTyping(e.target)) {
      ;(e.target as HTMLElement).blur()
      return
    }
    if (isTyping(e.target)) return
    if (e.key === '/') {
      const search = document.getElementById('search-pattern')
      if (search instanceof HTMLInputElement) {
        e.preventDefault()
        search.focus()
        search.select()
      }
    } else if (e.key === 'Backspace' && upAction !== undefined) {
      e.preventDefault()
      upAction()
    }
  })
}

/** Makes the `[data-row]` elements of `list` a keyboard-navigable listing; returns a focus function. */
export function listNav(list: HTMLElement): { focusFirst(): void } {
  const rows = (): HTMLElement[] => Array.from(list.querySelectorAll<HTMLElement>('[data-row]'))
  const activate = (row: HTMLElement, focus: boolean): void => {
    for (const r of rows()) r.tabIndex = r === row ? 0 : -1
    if (focus) row.focus()
  }
  const first = rows()[0]
  if (first !== undefined) activate(first, false)
  list.addEventListener('focusin', (e) => {
    const row = (e.target as HTMLElement).closest<HTMLElement>('[data-row]')
    if (row !== null && row.tabIndex !== 0) activate(row, false)
  })
  list.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || (isTyping(e.target) && !isCheckbox(e.target))) return
    const all = rows()
    const current = (e.target as HTMLElement).closest<HTMLElement>('[data-row]')
    const i = current === null ? -1 : all.indexOf(current)
    const go = (j: number): void => {
      const row = all[Math.max(0, Math.min(all.length - 1, j))]
      if (row !== undefined) {
        e.preventDefault()
        activate(row, true)
        row.scrollIntoView({ block: 'nearest' })
      }
    }
    switch (e.key) {
      case 'ArrowDown':
      case 'j':
        return go(i + 1)
      case 'ArrowUp':
      case 'k':
        return go(i - 1)
      case 'Home':
        return go(0)
      case 'End':
        return go(all.length - 1)
      case 'Enter': {
        if (current === null || e.target !== current) return
        const open = current.querySelector<HTMLElement>('[data-open]')
        if (open !== null) {
          e.preventDefault()
          open.click()
        }
        return
      }
      case ' ':
      case 'x': {
        if (current === null || (isCheckbox(e.target) && e.key === ' ')) return
        const box = current.querySelector<HTMLInputElement>('input[type=checkbox]')
        if (box !== null) {
          e.preventDefault()
          box.click()
        }
        return
      }
    }
  })
  return {
    focusFirst: () => {
      const row = rows()[0]
      if (row !== undefined) activate(row, true)
    },
  }
}
