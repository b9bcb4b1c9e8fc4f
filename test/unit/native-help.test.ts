/** The message of VGER_NATIVE_UNAVAILABLE names the next step for each situation (docs/errors.md, docs/platforms.md). */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { PREBUILT_PLATFORMS, loadFailureDetail, nativeUnavailableMessage, platformName } from '../../ts/native-help.js'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  optionalDependencies: Record<string, string>
  napi: { targets: string[] }
}

describe('VGER_NATIVE_UNAVAILABLE', () => {
  it('names platforms as napi-rs does', () => {
    expect(platformName({ platform: 'linux', arch: 'x64', musl: false })).toBe('linux-x64-gnu')
    expect(platformName({ platform: 'linux', arch: 'arm64', musl: true })).toBe('linux-arm64-musl')
    expect(platformName({ platform: 'darwin', arch: 'arm64', musl: false })).toBe('darwin-arm64')
    expect(platformName({ platform: 'win32', arch: 'x64', musl: false })).toBe('win32-x64-msvc')
  })

  it('lists exactly the optional dependencies and napi targets of package.json', () => {
    expect(Object.keys(pkg.optionalDependencies).sort()).toEqual(PREBUILT_PLATFORMS.map((p) => `vger-${p}`).sort())
    expect(pkg.napi.targets).toHaveLength(PREBUILT_PLATFORMS.length)
  })

  it('tells an npm user on a supported platform to reinstall with optional dependencies', () => {
    const m = nativeUnavailableMessage('no engine for this platform is installed', { platform: 'linux', arch: 'arm64', musl: false }, false)
    expect(m).toContain('"vger-linux-arm64-gnu"')
    expect(m).toContain('reinstall vger')
    expect(m).toContain('--omit=optional')
    expect(m).not.toContain('build:native')
  })

  it('tells a user on another platform that there is no prebuilt engine and how to build one', () => {
    const m = nativeUnavailableMessage('x', { platform: 'freebsd', arch: 'x64', musl: false }, false)
    expect(m).toContain('no prebuilt engine for freebsd-x64')
    expect(m).toContain('build vger from source')
  })

  it('tells a git checkout to build the addon', () => {
    expect(nativeUnavailableMessage('x', { platform: 'linux', arch: 'x64', musl: false }, true)).toContain('npm run build:native')
  })

  it("replaces the napi-rs loader's advice to delete package-lock.json", () => {
    const e = new Error('Cannot find native binding. npm has a bug related to optional dependencies (…). Please try `npm i` again…')
    expect(loadFailureDetail(e)).toBe('no engine for this platform is installed')
    expect(loadFailureDetail(new Error('libfoo.so: cannot open shared object file\nmore'))).toBe(
      'libfoo.so: cannot open shared object file',
    )
  })
})
