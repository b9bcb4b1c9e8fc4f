/**
 * The example systemd units in contrib/systemd (docs/daemon.md): the service runs `vger daemon` and
 * reloads with SIGHUP, the oneshot runs bare `vger` from a persistent timer; and `systemd-analyze verify`
 * (when the machine has it) finds nothing to say about them.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/addon.js'

const DIR = path.join(ROOT, 'contrib', 'systemd')
const UNITS = ['vger-daemon.service', 'vger-backup.service', 'vger-backup.timer']

/** Section → key → values (a key may repeat), comments and blank lines skipped. */
function parseUnit(name: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>()
  let current: Map<string, string[]> | undefined
  for (const raw of readFileSync(path.join(DIR, name), 'utf8').split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const section = /^\[(\w+)\]$/.exec(line)
    if (section !== null) {
      current = new Map()
      sections.set(section[1] ?? '', current)
      continue
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line)
    if (kv === null || current === undefined) throw new Error(`${name}: cannot parse "${line}"`)
    const [, key = '', value = ''] = kv
    current.set(key, [...(current.get(key) ?? []), value])
  }
  return sections
}

const get = (unit: Map<string, Map<string, string[]>>, section: string, key: string): string | undefined =>
  unit.get(section)?.get(key)?.at(-1)

const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0

describe('contrib/systemd', () => {
  it('vger-daemon.service runs vger daemon, reloads with SIGHUP, stops with SIGTERM', () => {
    const u = parseUnit('vger-daemon.service')
    expect(get(u, 'Service', 'ExecStart')).toMatch(/(^|\/|\s)vger daemon( |$)/)
    expect(get(u, 'Service', 'ExecReload')).toBe('/bin/kill -HUP $MAINPID')
    expect(get(u, 'Service', 'KillSignal') ?? 'SIGTERM').toBe('SIGTERM')
    expect(get(u, 'Service', 'Type')).toBe('exec')
    expect(get(u, 'Install', 'WantedBy')).toBe('multi-user.target')
  })

  it('vger-backup.service is a oneshot of bare vger, started by a persistent vger-backup.timer', () => {
    const s = parseUnit('vger-backup.service')
    expect(get(s, 'Service', 'Type')).toBe('oneshot')
    expect(get(s, 'Service', 'ExecStart')).toMatch(/(^|\/|\s)vger$/)
    expect(get(s, 'Service', 'SuccessExitStatus')).toBe('3')
    expect(s.has('Install')).toBe(false)
    const t = parseUnit('vger-backup.timer')
    expect(get(t, 'Timer', 'Unit')).toBe('vger-backup.service')
    expect(get(t, 'Timer', 'OnCalendar')).toBeDefined()
    expect(get(t, 'Timer', 'Persistent')).toBe('true')
    expect(get(t, 'Install', 'WantedBy')).toBe('timers.target')
  })

  it.skipIf(!hasSystemdAnalyze)('systemd-analyze verify has nothing to say', () => {
    // It exits 0 even for unknown keys and bad values; it only prints them.
    const r = spawnSync('systemd-analyze', ['verify', ...UNITS.map((u) => `./${u}`)], { cwd: DIR, encoding: 'utf8' })
    expect(r.status).toBe(0)
    expect(`${r.stdout}${r.stderr}`).toBe('')
  })
})
