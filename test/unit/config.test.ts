import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig, parseConfig } from '../../ts/config/load.js'
import { findConfigFile } from '../../ts/config/paths.js'
import { ConfigError } from '../../ts/config/problems.js'
import { selectRepositories } from '../../ts/config/select.js'
import type { SourceConfig } from '../../ts/config/types.js'
import { isVgerError } from '../../ts/errors.js'
import { tempDir } from '../helpers/temp-dir.js'

const FILE = '/etc/vger/test.yaml'
const HOME = '/home/tester'

function parse(text: string, env: Record<string, string> = {}) {
  return parseConfig(text, FILE, { env, home: HOME })
}

/** The located problems of an invalid config, as "line:col: message". */
function problems(text: string, env: Record<string, string> = {}): string[] {
  try {
    parse(text, env)
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    expect(isVgerError(e, 'VGER_CONFIG')).toBe(true)
    const err = e as ConfigError
    for (const p of err.problems) expect(err.message).toContain(`${FILE}:${p.line}:${p.col}: ${p.message}`)
    return err.problems.map((p) => `${p.line}:${p.col}: ${p.message}`)
  }
  throw new Error('expected the config to be rejected')
}

const REPO = 'repositories:\n  - url: /backups/main\n'

/** A resolved source with the defaults of a config that sets no per-source options. */
function source(label: string, paths: string[], extra: Partial<SourceConfig> = {}): SourceConfig {
  return {
    label,
    paths,
    exclude: [],
    excludeIfPresent: [],
    oneFileSystem: false,
    gitIgnore: false,
    xattrs: true,
    iexclude: [],
    excludeCaches: false,
    hooks: {},
    commandDumps: [],
    ...extra,
  }
}

describe('config validation errors carry line:col', () => {
  it.each([
    ['unknown top-level key with a suggestion', `${REPO}sorces: []\n`, '3:1: unknown key "sorces" (did you mean "sources"?)'],
    ['unknown nested key with a suggestion', `${REPO}    lable: x\n`, '3:5: unknown key "lable" (did you mean "label"?)'],
    [
      'unknown key without a close match lists the valid keys',
      `${REPO}encryption:\n  colour: red\n`,
      '4:3: unknown key "colour"; valid keys in encryption: mode, passphrase, passcommand',
    ],
    [
      'a number where a string is expected',
      'repositories:\n  - url: 42\n',
      '2:10: expected repositories[0].url to be a string, got a number (42); quote it: "42"',
    ],
    [
      'an unquoted numeric label',
      `${REPO}    label: 2024\n`,
      '3:12: expected repositories[0].label to be a string, got a number (2024); quote it: "2024"',
    ],
    [
      'an unknown enum value',
      `${REPO}encryption:\n  mode: aes\n`,
      '4:9: expected encryption.mode to be one of auto, aes256gcm, chacha20poly1305, none, got "aes" (did you mean "aes256gcm"?)',
    ],
    [
      'a non-string enum value',
      `${REPO}compression:\n  algorithm: 4\n`,
      '4:14: expected compression.algorithm to be one of lz4, zstd, none, got a number (4)',
    ],
    [
      'an integer out of range',
      `${REPO}compression:\n  zstd_level: 23\n`,
      '4:15: expected compression.zstd_level to be an integer from 1 to 22, got a number (23)',
    ],
    [
      'a fraction for an integer',
      `${REPO}compression:\n  zstd_level: 2.5\n`,
      '4:15: expected compression.zstd_level to be an integer from 1 to 22, got a number (2.5)',
    ],
    [
      'a mapping where a list is expected',
      `${REPO}exclude_patterns:\n  a: b\n`,
      '4:3: expected exclude_patterns to be a list, got a mapping',
    ],
    [
      'a string where a mapping is expected',
      `${REPO}encryption: aes256gcm\n`,
      '3:13: expected encryption to be a mapping, got "aes256gcm"',
    ],
    ['a list where a string is expected', `${REPO}hostname: [a, b]\n`, '3:11: expected hostname to be a string, got a list'],
    ['an empty string', `${REPO}hostname: ""\n`, '3:11: expected hostname to be a non-empty string'],
    ['a missing url', 'repositories:\n  - label: x\n', '2:5: missing required key "url" in repositories[0]'],
    [
      'no repositories at all',
      'sources: [/home]\n',
      '1:1: missing required key "repositories" (for example: repositories: [{url: /backups/repo}])',
    ],
    ['an empty repository list', 'repositories: []\n', '1:15: expected repositories to list at least one entry'],
    [
      'a duplicate repository label',
      'repositories:\n  - url: /a\n    label: x\n  - url: /b\n    label: x\n',
      '5:12: duplicate label "x" in repositories (first used at line 3)',
    ],
    [
      'a source with path and paths',
      `${REPO}sources:\n  - path: /a\n    paths: [/b]\n    label: ab\n`,
      '4:5: use either "path" or "paths" in sources[0], not both',
    ],
    ['a source with paths but no label', `${REPO}sources:\n  - paths: [/a, /b]\n`, '4:5: "paths" needs a "label" in sources[0]'],
    [
      'a source with neither path nor paths',
      `${REPO}sources:\n  - label: x\n`,
      '4:5: missing required key "path" or "paths" in sources[0] (or "command_dumps" with a "label")',
    ],
    [
      'a source that is a number',
      `${REPO}sources:\n  - 12\n`,
      '4:5: expected sources[0] to be a path or a mapping with "path" or "paths", got a number (12)',
    ],
    [
      'a source exclude that is not a list',
      `${REPO}sources:\n  - path: /a\n    exclude: "*.tmp"\n`,
      '5:14: expected sources[0].exclude to be a list, got "*.tmp"',
    ],
    [
      'two sources with the same implicit label',
      `${REPO}sources:\n  - path: /a/docs\n  - path: /b/docs\n`,
      '5:5: sources[1] and sources[0] are both labelled "docs"; give them distinct "label"s',
    ],
    ['a duplicate key (YAML)', `${REPO}hostname: a\nhostname: b\n`, '4:1: invalid YAML: Map keys must be unique'],
    ['a top level that is a list', '- a\n- b\n', '1:1: expected the config to be a mapping, got a list'],
  ])('%s', (_, text, expected) => {
    expect(problems(text)).toEqual([expected])
  })

  it('reports broken YAML syntax with its position', () => {
    const [first] = problems('repositories:\n  - url: /a\n  bad: [\n')
    expect(first).toMatch(/^\d+:\d+: invalid YAML: /)
  })

  it('reports every problem in one pass, in file order', () => {
    const text = 'repositories:\n  - url: /a\n    lable: x\nsorces: []\nencryption:\n  mode: aes\n'
    expect(problems(text).map((p) => p.split(':').slice(0, 2).join(':'))).toEqual(['3:5', '4:1', '6:9'])
  })

  it('treats an empty file as an empty mapping', () => {
    expect(problems('')).toEqual(['1:1: missing required key "repositories" (for example: repositories: [{url: /backups/repo}])'])
  })
})

describe('config resolution', () => {
  it('applies defaults', () => {
    const c = parse(REPO)
    expect(c.file).toBe(FILE)
    expect(c.repositories).toEqual([
      {
        url: '/backups/main',
        label: undefined,
        name: '/backups/main',
        location: { backend: 'local', path: '/backups/main' },
        encryption: { mode: 'auto' },
        compression: { algorithm: 'lz4', zstdLevel: 3 },
        retention: {},
        limits: { threads: 0, nice: 0, uploadMibPerSec: 0, downloadMibPerSec: 0, readMibPerSec: 0 },
        schedule: { enabled: false, every: 86400, onStartup: false, jitterSeconds: 0 },
        hooks: {},
        backend: { allowInsecureHttp: false, virtualHostStyle: false },
      },
    ])
    expect(c.chunker).toEqual({ minSize: 512 * 1024, avgSize: 1024 * 1024, maxSize: 8 * 1024 * 1024 })
    expect(c.cacheDir).toBe(`${HOME}/.cache/vger`)
    expect(c.sources).toEqual([])
    expect(c.excludePatterns).toEqual([])
    expect(c.hostname).toBeUndefined()
  })

  it('reads every supported key', () => {
    const c = parse(`repositories:
  - url: /r
    label: main
  - url: file:///mnt/usb/repo
sources:
  - path: /srv/db
    label: databases
    exclude: ["*.tmp"]
exclude_patterns: [".cache/"]
encryption:
  mode: chacha20poly1305
  passcommand: pass show vger
compression:
  algorithm: zstd
  zstd_level: 19
hostname: laptop
`)
    expect(c.repositories.map((r) => [r.name, r.url])).toEqual([
      ['main', '/r'],
      ['file:///mnt/usb/repo', 'file:///mnt/usb/repo'],
    ])
    expect(c.encryption).toEqual({ mode: 'chacha20poly1305', passcommand: 'pass show vger' })
    expect(c.repositories[0]?.encryption).toBe(c.encryption)
    expect(c.compression).toEqual({ algorithm: 'zstd', zstdLevel: 19 })
    expect(c.sources).toEqual([source('databases', ['/srv/db'], { exclude: ['.cache/', '*.tmp'] })])
    expect(c.hostname).toBe('laptop')
  })

  it('resolves relative paths against the config file and expands ~', () => {
    const c = parse('repositories:\n  - url: ./repo\n  - url: ~/r2\nsources:\n  - ~/docs\n  - path: data\n')
    expect(c.repositories.map((r) => r.url)).toEqual(['/etc/vger/repo', `${HOME}/r2`])
    expect(c.sources.map((s) => s.paths)).toEqual([[`${HOME}/docs`], ['/etc/vger/data']])
  })

  it('groups plain-string sources into one source labelled by its directory or "default"', () => {
    expect(parse(`${REPO}sources: [/home/me/photos]\n`).sources).toEqual([source('photos', ['/home/me/photos'])])
    const two = parse(`${REPO}sources:\n  - /a\n  - path: /x\n    label: x\n  - /b\nexclude_patterns: ["*.o"]\n`)
    expect(two.sources).toEqual([source('default', ['/a', '/b'], { exclude: ['*.o'] }), source('x', ['/x'], { exclude: ['*.o'] })])
  })

  it('treats "key:" with no value as unset', () => {
    const c = parse(`${REPO}encryption:\n  mode:\n  passphrase:\nhostname:\n`)
    expect(c.encryption).toEqual({ mode: 'auto' })
    expect(c.hostname).toBeUndefined()
  })
})

describe('environment expansion', () => {
  const env = { REPO: '/mnt/backup', EMPTY: '' }

  it('expands ${VAR} and ${VAR:-default} inside values, never in keys or comments', () => {
    const label = (text: string): string | undefined => parse(`repositories:\n  - url: /r\n    label: ${text}\n`, env).repositories[0]?.name
    expect(label('${REPO}x # ${UNSET}')).toBe('/mnt/backupx')
    expect(label('${UNSET:-fallback}')).toBe('fallback')
    expect(label('${EMPTY:-fallback}')).toBe('fallback')
    expect(label('${REPO:-ignored}')).toBe('/mnt/backup')
    expect(label('"a${EMPTY}b"')).toBe('ab')
    expect(label('$REPO-and-$')).toBe('$REPO-and-$')
    expect(problems('${REPO}: 1\n', env)[0]).toMatch(/^1:1: unknown key "\$\{REPO\}"/)
  })

  it('keeps a value whole whatever YAML would make of its characters', () => {
    // Expanding the raw text cut this passphrase at " #" (a comment) and created a repository with
    // the wrong one.
    const pw = { PW: 'correct horse #battery: [x] {y} *z &w' }
    expect(parse(`${REPO}encryption:\n  passphrase: \${PW}\n`, pw).encryption.passphrase).toBe(pw.PW)
    expect(parse(`${REPO}encryption:\n  passphrase: "\${PW}"\n`, pw).encryption.passphrase).toBe(pw.PW)
    // A passphrase of digits stays a string; an integer key takes the digits as a number.
    expect(parse(`${REPO}encryption:\n  passphrase: \${PW}\n`, { PW: '1234' }).encryption.passphrase).toBe('1234')
    expect(parse(`${REPO}compression:\n  algorithm: zstd\n  zstd_level: \${L}\n`, { L: '7' }).compression).toMatchObject({ zstdLevel: 7 })
    expect(problems(`${REPO}compression:\n  algorithm: zstd\n  zstd_level: \${L}\n`, { L: 'high' })).toEqual([
      '5:15: expected compression.zstd_level to be an integer from 1 to 22, got "high"',
    ])
  })

  it('feeds the expanded text to the parser', () => {
    const c = parse('repositories:\n  - url: ${REPO}\n    label: ${LABEL:-main}\n', env)
    expect(c.repositories[0]).toMatchObject({ url: '/mnt/backup', name: 'main' })
  })

  it('rejects an unset ${VAR}, naming the variable, line and column', () => {
    expect(problems('repositories:\n  - url: /r\n    label: ${NOPE}\n', env)).toEqual([
      '3:12: environment variable "NOPE" is not set (export it, or write ${NOPE:-default})',
    ])
  })

  it('rejects malformed placeholders', () => {
    expect(problems('a: ${1BAD}\nb: ${OK\n', env)).toEqual([
      '1:4: invalid environment variable name "1BAD" in "${1BAD}"',
      '2:4: unterminated "${": write ${NAME} or ${NAME:-default}',
    ])
  })
})

describe('config discovery', () => {
  function layout() {
    const root = tempDir()
    const dirs = { cwd: path.join(root, 'cwd'), home: path.join(root, 'home'), xdg: path.join(root, 'xdg'), etc: path.join(root, 'etc') }
    for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true })
    const files = {
      flag: path.join(root, 'flag.yaml'),
      env: path.join(root, 'env.yaml'),
      project: path.join(dirs.cwd, 'vger.yaml'),
      xdg: path.join(dirs.xdg, 'vger', 'config.yaml'),
      home: path.join(dirs.home, '.config', 'vger', 'config.yaml'),
      system: path.join(dirs.etc, 'vger', 'config.yaml'),
    }
    const write = (which: keyof typeof files): void => {
      mkdirSync(path.dirname(files[which]), { recursive: true })
      writeFileSync(files[which], `repositories:\n  - url: /repo/${which}\n    label: ${which}\n`)
    }
    return { dirs, files, write }
  }

  it('follows --config, VGER_CONFIG, ./vger.yaml, XDG (or ~/.config), /etc in that order', () => {
    const { dirs, files, write } = layout()
    const loc = (env: Record<string, string> = {}) => ({
      env: { XDG_CONFIG_HOME: dirs.xdg, ...env },
      cwd: dirs.cwd,
      home: dirs.home,
      systemDir: dirs.etc,
    })
    const found = (flag?: string, env?: Record<string, string>) => findConfigFile(flag, loc(env))?.origin ?? null

    expect(found()).toBeNull()
    write('system')
    expect(found()).toBe('system')
    write('home')
    expect(found()).toBe('system') // XDG_CONFIG_HOME is set, so ~/.config is not searched
    expect(findConfigFile(undefined, { ...loc(), env: {} })?.file).toBe(files.home)
    write('xdg')
    expect(findConfigFile(undefined, loc())?.file).toBe(files.xdg)
    write('project')
    expect(found()).toBe('project')
    write('env')
    expect(found(undefined, { VGER_CONFIG: files.env })).toBe('env')
    write('flag')
    expect(findConfigFile(files.flag, loc({ VGER_CONFIG: files.env }))).toEqual({ file: files.flag, origin: 'flag' })

    const c = loadConfig({ configFile: files.flag, env: {}, cwd: dirs.cwd, home: dirs.home, systemDir: dirs.etc })
    expect(c.repositories[0]?.name).toBe('flag')
    expect(c.file).toBe(files.flag)
  })

  it('ignores a relative XDG_CONFIG_HOME, as the XDG spec requires', () => {
    const { dirs, files, write } = layout()
    write('home')
    expect(findConfigFile(undefined, { env: { XDG_CONFIG_HOME: 'rel' }, cwd: dirs.cwd, home: dirs.home, systemDir: dirs.etc })?.file).toBe(
      files.home,
    )
  })

  it('fails when --config or VGER_CONFIG names a missing file', () => {
    const { dirs } = layout()
    const loc = { env: {}, cwd: dirs.cwd, home: dirs.home, systemDir: dirs.etc }
    expect(() => findConfigFile('missing.yaml', loc)).toThrow(/config file .*missing\.yaml \(from --config\) does not exist/)
    expect(() => findConfigFile(undefined, { ...loc, env: { VGER_CONFIG: '/nope.yaml' } })).toThrow(
      /\/nope\.yaml \(from VGER_CONFIG\) does not exist/,
    )
  })

  it('uses the embedded default when no file exists', () => {
    const { dirs } = layout()
    const c = loadConfig({ env: { XDG_DATA_HOME: '/data' }, cwd: dirs.cwd, home: dirs.home, systemDir: dirs.etc })
    expect(c.file).toBeNull()
    expect(c.repositories).toMatchObject([
      {
        url: '/data/vger/repo',
        label: 'default',
        name: 'default',
        location: { backend: 'local', path: '/data/vger/repo' },
        encryption: { mode: 'auto' },
        compression: { algorithm: 'lz4', zstdLevel: 3 },
        retention: {},
        hooks: {},
      },
    ])
    expect(c.sources).toEqual([])
    expect(c.encryption.mode).toBe('auto')
    const noXdg = loadConfig({ env: {}, cwd: dirs.cwd, home: dirs.home, systemDir: dirs.etc })
    expect(noXdg.repositories[0]?.url).toBe(path.join(dirs.home, '.local', 'share', 'vger', 'repo'))
  })

  it('gives the embedded default the same top-level defaults as a file that sets nothing', () => {
    const { dirs } = layout()
    const {
      file: _none,
      repositories: _builtIn,
      cacheDir: _cache,
      ...embedded
    } = loadConfig({ env: {}, cwd: dirs.cwd, home: dirs.home, systemDir: dirs.etc })
    const {
      file: _file,
      repositories: _given,
      cacheDir: _dir,
      ...fromFile
    } = parseConfig(REPO, path.join(dirs.cwd, 'vger.yaml'), { env: {}, home: dirs.home })
    expect(embedded).toEqual(fromFile)
    expect(embedded.xattrs).toBe(true)
  })
})

describe('repository selection (-R)', () => {
  const two = parse('repositories:\n  - url: /r/a\n    label: a\n  - url: /r/b\n')
  const opts = { cwd: '/work', home: HOME }

  it('selects all, or insists on one when a command needs one', () => {
    expect(selectRepositories(two, undefined, 'all', opts).map((r) => r.name)).toEqual(['a', '/r/b'])
    expect(() => selectRepositories(two, undefined, 'one', opts)).toThrow(
      /2 repositories are configured \(a, \/r\/b\); pick one with -R LABEL/,
    )
    expect(selectRepositories(parse(REPO), undefined, 'one', opts)).toHaveLength(1)
  })

  it('matches a label or a URL, or takes a path as an ad-hoc repository', () => {
    expect(selectRepositories(two, 'a', 'one', opts)[0]?.url).toBe('/r/a')
    expect(selectRepositories(two, '/r/b', 'one', opts)[0]?.name).toBe('/r/b')
    expect(selectRepositories(two, './other', 'one', opts)[0]).toMatchObject({
      url: '/work/other',
      name: '/work/other',
      encryption: two.encryption,
    })
  })

  it('rejects an unknown label with VGER_USAGE', () => {
    let error: unknown
    try {
      selectRepositories(two, 'nas', 'all', opts)
    } catch (e) {
      error = e
    }
    expect(isVgerError(error, 'VGER_USAGE')).toBe(true)
    expect((error as Error).message).toBe('no repository labelled "nas"; configured: a, /r/b')
  })
})
