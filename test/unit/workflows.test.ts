/**
 * The GitHub workflows are valid YAML with the jobs the packaging depends on (docs/packaging.md): CI on
 * Linux, macOS and Windows; a release that builds every target of package.json, tests each, publishes with
 * provenance and attaches the standalone executables.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseDocument } from 'yaml'

const dir = new URL('../../.github/workflows/', import.meta.url)
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { napi: { targets: string[] } }

interface Step {
  run?: string
  uses?: string
  with?: Record<string, unknown>
}
interface Job {
  'runs-on': string
  needs?: string | string[]
  steps: Step[]
  strategy?: { matrix: { include?: Record<string, unknown>[]; os?: string[] } }
  permissions?: Record<string, string>
}
interface Workflow {
  name: string
  on: unknown
  jobs: Record<string, Job>
}

function load(name: string): Workflow {
  const doc = parseDocument(readFileSync(new URL(name, dir), 'utf8'), { prettyErrors: true, uniqueKeys: true })
  expect(doc.errors.map((e) => e.message)).toEqual([])
  expect(doc.warnings.map((e) => e.message)).toEqual([])
  return doc.toJS() as Workflow
}

describe('.github/workflows', () => {
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))

  it.each(files)('%s is valid YAML with jobs that each run steps', (file) => {
    const wf = load(file)
    expect(typeof wf.name).toBe('string')
    expect(wf.on).toBeDefined()
    for (const [name, job] of Object.entries(wf.jobs)) {
      expect(job['runs-on'], name).toBeTruthy()
      expect(job.steps.length, name).toBeGreaterThan(0)
      for (const step of job.steps) expect(step.run !== undefined || step.uses !== undefined, `${name}: ${JSON.stringify(step)}`).toBe(true)
      for (const need of [job.needs ?? []].flat()) expect(Object.keys(wf.jobs), `${name} needs ${need}`).toContain(need)
    }
  })

  it('ci runs on Linux, macOS and Windows', () => {
    const ci = load('ci.yml')
    const hosts = Object.values(ci.jobs).flatMap((j) => (j.strategy?.matrix.os ?? [j['runs-on']]).map(String))
    for (const os of ['ubuntu', 'macos', 'windows'])
      expect(
        hosts.some((h) => h.startsWith(os)),
        os,
      ).toBe(true)
  })

  it('release builds and tests every napi target, publishes with provenance and attaches executables', () => {
    const release = load('release.yml')
    const built = (release.jobs.build?.strategy?.matrix.include ?? []).map((m) => m.target)
    expect([...built].sort()).toEqual([...pkg.napi.targets].sort())
    const tested = (release.jobs.test?.strategy?.matrix.include ?? []).map((m) => m.target)
    expect([...tested].sort()).toEqual([...pkg.napi.targets].sort())
    const publish = release.jobs.publish
    expect(publish?.permissions?.['id-token']).toBe('write')
    const runs = (publish?.steps ?? []).map((s) => s.run ?? '').join('\n')
    expect(runs.match(/npm publish [^\n]*--provenance/g)?.length).toBe(2)
    expect(runs).toContain('gh release')
    expect(release.jobs.executables?.steps.some((s) => s.run?.includes('scripts/build-exe.mjs'))).toBe(true)
    // glibc builds go through napi-rs's cross toolchain (an old glibc).
    for (const m of release.jobs.build?.strategy?.matrix.include ?? []) {
      if (String(m.target).endsWith('linux-gnu')) expect(m.flags).toBe('--use-napi-cross')
    }
  })
})
