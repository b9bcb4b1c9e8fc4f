/**
 * `vger completion bash|zsh|fish` (docs/commands.md): generated from the commander program, so every
 * command, subcommand and long option is in each script; the bash script completes in a real bash;
 * zsh and fish parse it with `-n` where those shells are installed. `vger help COMMAND` prints that
 * command's help.
 */
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { PassThrough } from 'node:stream'
import type { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { buildProgram } from '../../ts/cli/command-line.js'
import { commandTree } from '../../ts/cli/completion.js'
import { run } from '../../ts/cli/program.js'
import { tempDir } from '../helpers/temp-dir.js'

async function vger(args: string[]) {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (c: Buffer) => (out += c.toString()))
  stderr.on('data', (c: Buffer) => (err += c.toString()))
  const home = tempDir()
  const code = await run(['node', 'vger', ...args], {
    stdout,
    stderr,
    stdin: new PassThrough(),
    env: { HOME: home },
    cwd: home,
    signal: new AbortController().signal,
  })
  return { code, stdout: out, stderr: err }
}

// zsh and fish come from the project's peer script (Debian packages), as the other test peers do.
const peers = spawnSync('sh', [fileURLToPath(new URL('../../scripts/peers/shells.sh', import.meta.url))], {
  encoding: 'utf8',
})
const has = (shell: string): boolean => spawnSync(shell, ['-c', 'true']).status === 0
const why = (shell: string): string =>
  `skipped: ${shell} is not installed and could not be (${peers.stderr.trim().split('\n').at(-1) ?? ''})`

const program = buildProgram({ stdout: new PassThrough(), stderr: new PassThrough() } as never, async () => {})

function allCommands(cmd: Command, prefix = ''): { path: string; cmd: Command }[] {
  return cmd.commands.flatMap((c) => [{ path: `${prefix}/${c.name()}`, cmd: c }, ...allCommands(c, `${prefix}/${c.name()}`)])
}

describe('vger completion', () => {
  it('rejects a shell it does not know', async () => {
    const r = await vger(['completion', 'tcsh'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^vger: error\[VGER_USAGE\]: .*Allowed choices are bash, zsh, fish/)
  })

  for (const shell of ['bash', 'zsh', 'fish']) {
    it(`${shell}: names every command and every long option of the program`, async () => {
      const r = await vger(['completion', shell])
      expect(r.code).toBe(0)
      expect(r.stderr).toBe('')
      for (const { path: p, cmd } of allCommands(program)) {
        expect(r.stdout, p).toContain(cmd.name())
        for (const o of cmd.options)
          if (o.long !== undefined) expect(r.stdout, `${p} ${o.long}`).toContain(shell === 'fish' ? `-l ${o.long.slice(2)}` : o.long)
      }
    })
  }

  it('the tree has a node per command, plus help', () => {
    const paths = commandTree(program).nodes.map((n) => n.path)
    expect(paths).toEqual(expect.arrayContaining(['', '/help', '/key/add', '/snapshot/diff', '/completion']))
    expect(paths.length).toBe(allCommands(program).length + 2)
  })

  it('bash: completes commands, subcommands, options, choices and files in a real bash', async () => {
    const script = path.join(tempDir(), 'vger.bash')
    writeFileSync(script, (await vger(['completion', 'bash'])).stdout)
    const complete = (...words: string[]): string[] => {
      const line = `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _vger; printf '%s\\n' "\${COMPREPLY[@]}"`
      const r = spawnSync('bash', ['-c', line], { encoding: 'utf8', cwd: path.dirname(script) })
      expect(r.stderr).toBe('')
      return r.stdout.split('\n').filter((l) => l !== '')
    }
    expect(complete('vger', 'ke')).toEqual(['key'])
    expect(complete('vger', 'key', '')).toEqual(['list', 'add', 'remove', 'change-passphrase'])
    expect(complete('vger', '-c', 'x.yaml', 'snapshot', 'd')).toEqual(['delete', 'describe', 'diff'])
    expect(complete('vger', 'backup', '--la')).toEqual(['--label'])
    expect(complete('vger', 'restore', '--qu')).toEqual(['--quiet'])
    expect(complete('vger', 'help', 'rest')).toEqual(['restore'])
    expect(complete('vger', 'completion', '')).toEqual(['bash', 'zsh', 'fish'])
    expect(complete('vger', 'restore', 'latest', 'vger.b')).toEqual(['vger.bash'])
    expect(complete('vger', '--config', 'vger.b')).toEqual(['vger.bash'])
  })

  for (const shell of ['zsh', 'fish']) {
    it.skipIf(!has(shell))(`${shell}: the script parses (${has(shell) ? shell : why(shell)})`, async () => {
      const script = path.join(tempDir(), `vger.${shell}`)
      writeFileSync(script, (await vger(['completion', shell])).stdout)
      const r = spawnSync(shell, ['-n', script], { encoding: 'utf8' })
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
    })
  }
})

describe('vger help COMMAND', () => {
  it('prints the help of a command, of a subcommand, and of completion', async () => {
    const restore = await vger(['help', 'restore'])
    expect(restore.code).toBe(0)
    expect(restore.stdout).toMatch(/^Usage: vger restore \[options\] <snapshot> <dest>/)
    const add = await vger(['key', 'help', 'add'])
    expect(add.code).toBe(0)
    expect(add.stdout).toMatch(/^Usage: vger key add/)
    const completion = await vger(['help', 'completion'])
    expect(completion.stdout).toMatch(/^Usage: vger completion \[options\] <shell>/)
    expect(completion.stdout).toContain('bash')
  })
})
