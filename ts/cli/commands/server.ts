/**
 * `vger server --config server.yaml` serves repositories to vger clients over HTTP(S) until SIGTERM or
 * SIGINT, then stops gracefully (docs/server.md). `vger server hash-token` prints a token and the SHA-256
 * that server.yaml holds for it: the token is read from stdin when stdin is not a terminal and carries
 * one, else a random one is generated.
 */
import { randomBytes } from 'node:crypto'
import { VgerError } from '../../errors.js'
import { hashToken } from '../../server/auth.js'
import { loadServerConfig } from '../../server/config.js'
import { packageVersion } from '../command-line.js'
import type { CliContext } from '../context.js'
import { EXIT, type ExitCode } from '../exit.js'

export async function server(ctx: CliContext): Promise<ExitCode> {
  const file = ctx.options.config
  if (file === undefined) throw new VgerError('VGER_USAGE', 'vger server needs its config: vger server --config server.yaml')
  const config = loadServerConfig(ctx.resolvePath(file), ctx.io.env, ctx.home)
  const { startServer } = await import('../../server/server.js')
  const running = await startServer(config, { log: ctx.io.stderr, version: packageVersion() })
  const signal = ctx.signal
  if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
  await running.close()
  // Stopping on the signal is how a server ends: a success, not an interruption.
  ctx.stoppedOnSignal = true
  return EXIT.ok
}

/** The most read from stdin: far more than any token. */
const MAX_INPUT = 64 * 1024

export async function hashTokenCommand(ctx: CliContext): Promise<ExitCode> {
  const stdin = ctx.io.stdin
  const given = stdin.isTTY === true ? '' : (await readAll(stdin)).trim()
  const token = given === '' ? randomBytes(32).toString('base64url') : given
  if (/\s/.test(token) || /[^\x21-\x7e]/.test(token)) {
    throw new VgerError('VGER_USAGE', 'a token is one word of printable ASCII characters (no spaces, no line breaks)')
  }
  if (token.length < 16) throw new VgerError('VGER_USAGE', 'a token needs at least 16 characters; run without input to get a random one')
  const hash = hashToken(token)
  ctx.out.result({ token, hash, generated: given === '' })
  ctx.out.line(`token: ${token}`)
  ctx.out.line(`hash:  ${hash}`)
  ctx.out.info(
    'Give the token to the client (access_token in its vger.yaml, or VGER_REST_TOKEN); put the hash under tokens: in server.yaml.',
  )
  return EXIT.ok
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    chunks.push(b)
    size += b.length
    if (size > MAX_INPUT) throw new VgerError('VGER_USAGE', 'the input is too long for a token')
  }
  return Buffer.concat(chunks).toString('utf8')
}
