/**
 * Where a repository passphrase comes from, in order:
 * 1. `encryption.passphrase` in the config (with a warning: it is stored in plain text);
 * 2. `encryption.passcommand` (run by `sh -c`, stdin /dev/null, 60 s timeout, output trimmed);
 * 3. `VGER_PASSPHRASE` (the CLI reads it once at startup and removes it from its environment);
 * 4. an interactive prompt without echo, asked twice when creating a repository.
 *
 * The passphrase itself never appears in a message, a warning or an error.
 */
import { spawn } from 'node:child_process'
import type { EncryptionConfig } from './config/types.js'
import { VgerError } from './errors.js'

export type Prompter = (question: string) => Promise<string>
export type PassphraseSource = 'config' | 'passcommand' | 'env' | 'prompt'

export interface PassphraseRequest {
  /** The repository's name, for prompts and messages. */
  repository: string
  encryption: EncryptionConfig
  /** Where `encryption` came from, for the plain-text warning. */
  configFile?: string | null
  /** The value of VGER_PASSPHRASE, if any. */
  envPassphrase?: string
  /** Creating a repository: prompt twice and compare. */
  confirm?: boolean
  /** Present only when a terminal is available. */
  prompt?: Prompter
  warn?: (message: string) => void
  passcommandTimeoutMs?: number
  /** The passcommand's environment (default: process.env). */
  env?: NodeJS.ProcessEnv
}

export interface ResolvedPassphrase {
  passphrase: string
  source: PassphraseSource
}

export const PASSCOMMAND_TIMEOUT_MS = 60_000
const MAX_OUTPUT = 64 * 1024

export async function resolvePassphrase(req: PassphraseRequest): Promise<ResolvedPassphrase> {
  const { encryption } = req
  if (encryption.passphrase !== undefined && encryption.passphraseFromEnv === true) {
    return { passphrase: encryption.passphrase, source: 'config' }
  }
  if (encryption.passphrase !== undefined) {
    const where = req.configFile === null || req.configFile === undefined ? 'the config' : req.configFile
    req.warn?.(
      `the passphrase for repository "${req.repository}" is stored in plain text in ${where}; ` +
        'prefer encryption.passcommand or VGER_PASSPHRASE',
    )
    return { passphrase: encryption.passphrase, source: 'config' }
  }
  if (encryption.passcommand !== undefined) {
    const passphrase = await runPasscommand(encryption.passcommand, req.passcommandTimeoutMs, req.env)
    return { passphrase, source: 'passcommand' }
  }
  if (req.envPassphrase !== undefined && req.envPassphrase !== '') {
    return { passphrase: req.envPassphrase, source: 'env' }
  }
  if (req.prompt !== undefined) return { passphrase: await promptFor(req, req.prompt), source: 'prompt' }
  throw new VgerError(
    'VGER_PASSPHRASE_REQUIRED',
    `repository "${req.repository}" needs a passphrase and there is no terminal to ask for one; ` +
      'set encryption.passcommand (or encryption.passphrase) in the config, export VGER_PASSPHRASE, ' +
      'or run vger in a terminal to be prompted',
  )
}

async function promptFor(req: PassphraseRequest, prompt: Prompter): Promise<string> {
  const verb = req.confirm === true ? 'New passphrase' : 'Passphrase'
  const first = await prompt(`${verb} for repository "${req.repository}": `)
  if (first === '') throw new VgerError('VGER_PASSPHRASE_REQUIRED', 'the passphrase must not be empty')
  if (req.confirm === true) {
    const second = await prompt('Repeat the passphrase: ')
    if (second !== first) {
      throw new VgerError('VGER_PASSPHRASE_MISMATCH', 'the two passphrases differ; run the command again')
    }
  }
  return first
}

function passcommandError(message: string, cause?: unknown): VgerError {
  return new VgerError('VGER_PASSCOMMAND_FAILED', `encryption.passcommand ${message}`, { cause })
}

/** Runs `command` with `sh -c` and returns its trimmed standard output. */
export function runPasscommand(command: string, timeoutMs = PASSCOMMAND_TIMEOUT_MS, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    // Own process group, so a timeout also kills whatever the shell started.
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env })
    const stdout: Buffer[] = []
    let stderr = ''
    let size = 0
    let timedOut = false
    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
      } catch {
        child.kill('SIGKILL')
      }
    }
    const timer = setTimeout(() => {
      timedOut = true
      kill()
    }, timeoutMs)
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_OUTPUT) stdout.push(chunk)
      else kill()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2000)
    })
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(passcommandError(`could not be started: ${e.message}`, e))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const lastLine = stderr.trim().split('\n').pop() ?? ''
      const detail = lastLine === '' ? '' : `: ${lastLine}`
      if (timedOut) {
        const limit = timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`
        return reject(passcommandError(`did not finish within ${limit}`))
      }
      if (size > MAX_OUTPUT) return reject(passcommandError(`printed more than ${MAX_OUTPUT} bytes`))
      if (code !== 0) {
        const how = signal === null ? `exited with status ${String(code)}` : `was killed by ${signal}`
        return reject(passcommandError(`${how}${detail}`))
      }
      const passphrase = Buffer.concat(stdout).toString('utf8').trim()
      if (passphrase === '') return reject(passcommandError('printed nothing; it must print the passphrase'))
      resolve(passphrase)
    })
  })
}
