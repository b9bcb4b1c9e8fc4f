/**
 * A fault-injecting TCP proxy on 127.0.0.1 for retry tests: put it in front of a peer (S3, SFTP, REST) and point
 * the client at `proxy.port`. Each accepted connection draws one outcome from a seeded PRNG:
 *   pass   forward both ways untouched
 *   drop   close the client connection (FIN) before forwarding anything; the target is never contacted
 *   reset  forward a random number of bytes (both directions together, in [resetBytes[0], resetBytes[1]]), then
 *          send the client a TCP RST (socket.resetAndDestroy) and close the target side; a connection that ends
 *          before its byte budget ends cleanly
 *   stall  hold everything for stallMs (the target is contacted only then), then pass
 * With `midStreamBytes: N`, pass and stall connections draw again each time they have carried another N bytes,
 * applying the outcome right there: drop = FIN to both ends (a truncated stream), reset = RST to the client,
 * stall = hold both directions for stallMs.
 * Every connection gets its own PRNG derived from (seed, accept index), so the outcome sequence in accept order
 * depends only on the seed, whatever the timing.
 */
import net from 'node:net'

export type FaultOutcome = 'pass' | 'drop' | 'reset' | 'stall'

export interface FaultProxyOptions {
  /** The real server. */
  targetHost?: string
  targetPort: number
  /** Probabilities in [0, 1]; their sum must not exceed 1 (the rest passes). Default 0. */
  dropRate?: number
  resetRate?: number
  stallRate?: number
  /** How long a stall holds the data (default 2000 ms). */
  stallMs?: number
  /** Byte budget range of a reset connection, inclusive (default [0, 16384]). */
  resetBytes?: [number, number]
  /** Draw again every N bytes a pass or stall connection carries (default: never). */
  midStreamBytes?: number
  /** PRNG seed (default random; read it back from `proxy.seed` to reproduce a failure). */
  seed?: number
  /** Port to listen on (default 0: any free port). */
  port?: number
}

export interface FaultStats {
  connections: number
  /** Outcomes drawn when connections were accepted. */
  pass: number
  drop: number
  reset: number
  stall: number
  /** Faults applied mid-stream (only with midStreamBytes). */
  midStream: { drop: number; reset: number; stall: number }
  /** Connection outcomes in accept order. */
  outcomes: FaultOutcome[]
  /** Bytes forwarded, both directions. */
  bytes: number
}

export interface FaultProxy {
  host: string
  port: number
  seed: number
  stats(): FaultStats
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>
}

/** mulberry32: a small, fast 32-bit PRNG, good enough for fault schedules. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const targetHost = opts.targetHost ?? '127.0.0.1'
  const dropRate = opts.dropRate ?? 0
  const resetRate = opts.resetRate ?? 0
  const stallRate = opts.stallRate ?? 0
  const stallMs = opts.stallMs ?? 2000
  const [resetMin, resetMax] = opts.resetBytes ?? [0, 16384]
  const seed = (opts.seed ?? Math.floor(Math.random() * 2 ** 32)) >>> 0
  for (const r of [dropRate, resetRate, stallRate]) if (!(r >= 0 && r <= 1)) throw new Error(`fault rate ${r} is not in [0, 1]`)
  if (dropRate + resetRate + stallRate > 1 + 1e-9) throw new Error('dropRate + resetRate + stallRate exceeds 1')
  if (opts.midStreamBytes !== undefined && !(opts.midStreamBytes >= 1)) throw new Error('midStreamBytes must be >= 1')

  const stats: FaultStats = {
    connections: 0,
    pass: 0,
    drop: 0,
    reset: 0,
    stall: 0,
    midStream: { drop: 0, reset: 0, stall: 0 },
    outcomes: [],
    bytes: 0,
  }
  const open = new Set<net.Socket>()
  const draw = (rand: () => number): FaultOutcome => {
    const r = rand()
    if (r < dropRate) return 'drop'
    if (r < dropRate + resetRate) return 'reset'
    if (r < dropRate + resetRate + stallRate) return 'stall'
    return 'pass'
  }

  // allowHalfOpen: a client's FIN is passed on to the target, and the reply still flows back.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const index = stats.connections++
    const rand = mulberry32(seed ^ Math.imul(index + 1, 0x9e3779b9))
    const outcome = draw(rand)
    stats.outcomes.push(outcome)
    stats[outcome]++
    open.add(client)
    client.on('close', () => open.delete(client))
    client.on('error', () => undefined)

    if (outcome === 'drop') {
      // Read and discard what the client sends: closing with unread data would send an RST instead of a FIN.
      client.resume()
      client.end()
      return
    }
    // Byte offset (both directions together) of the next fault, and what it is.
    let carried = 0
    let nextAt = Infinity
    let nextFault: FaultOutcome = 'pass'
    if (outcome === 'reset') {
      nextAt = resetMin + Math.floor(rand() * (resetMax - resetMin + 1))
      nextFault = 'reset'
    } else if (opts.midStreamBytes !== undefined) {
      nextAt = opts.midStreamBytes
    }
    let done = false
    let upstream: net.Socket | undefined

    let stalled = false
    const finish = (how: 'reset' | 'drop'): void => {
      done = true
      if (how === 'reset') client.resetAndDestroy()
      else client.resume().end() // keep reading (and discarding) so the close is a FIN, not an RST
      upstream?.destroy()
    }
    if (outcome === 'reset' && nextAt === 0) {
      finish('reset')
      return
    }

    // Ends that arrived while stalled wait until the held bytes have gone out (resume() may emit 'end' at once).
    const pendingEnds = new Set<net.Socket>()
    const endTo = (s: net.Socket): void => {
      if (done) return
      if (stalled) pendingEnds.add(s)
      else s.end()
    }
    const holdAll = (ms: number, then: () => void): void => {
      stalled = true
      client.pause()
      upstream?.pause()
      setTimeout(() => {
        stalled = false
        if (done) return
        then() // may stall again
        if (stalled || done) return
        client.resume()
        upstream?.resume()
        for (const s of pendingEnds) s.end()
        pendingEnds.clear()
      }, ms)
    }

    // Forwards `chunk` from one side to the other, applying any fault that falls inside it.
    const forward = (chunk: Buffer, from: net.Socket, to: net.Socket): void => {
      while (!done && chunk.length > 0) {
        if (carried + chunk.length < nextAt) {
          carried += chunk.length
          stats.bytes += chunk.length
          if (!to.write(chunk)) {
            from.pause()
            to.once('drain', () => {
              if (!stalled) from.resume()
            })
          }
          return
        }
        const head = chunk.subarray(0, nextAt - carried)
        const rest = chunk.subarray(head.length)
        carried += head.length
        stats.bytes += head.length
        const fault = nextFault
        if (opts.midStreamBytes !== undefined && outcome !== 'reset') {
          nextAt += opts.midStreamBytes
          nextFault = draw(rand)
        } else {
          nextAt = Infinity
        }
        if (fault === 'drop' || fault === 'reset') {
          if (outcome !== 'reset') stats.midStream[fault]++
          done = true
          // Let the bytes before the fault reach the kernel first, so the peer sees exactly them.
          if (head.length > 0) to.write(head, () => finish(fault))
          else finish(fault)
          return
        }
        if (head.length > 0) to.write(head)
        if (fault === 'stall') {
          stats.midStream.stall++
          holdAll(stallMs, () => forward(rest, from, to))
          return
        }
        chunk = rest
      }
    }
    // The first mid-stream decision is drawn like the later ones.
    if (opts.midStreamBytes !== undefined && outcome !== 'reset') nextFault = draw(rand)

    const connect = (): void => {
      if (done || client.destroyed) return
      const up = net.connect({ host: targetHost, port: opts.targetPort, allowHalfOpen: true })
      upstream = up
      open.add(up)
      up.on('close', () => {
        open.delete(up)
        endTo(client)
      })
      up.on('error', () => {
        if (!done) client.destroy()
      })
      up.on('data', (c: Buffer) => forward(c, up, client))
      up.on('end', () => endTo(client))
      client.on('data', (c: Buffer) => forward(c, client, up))
      client.on('end', () => endTo(up))
      client.on('close', () => {
        if (!done) up.destroy()
      })
      client.resume()
    }
    client.pause()
    if (outcome === 'stall') setTimeout(connect, stallMs)
    else connect()
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve())
  })
  const address = server.address() as net.AddressInfo
  return {
    host: '127.0.0.1',
    port: address.port,
    seed,
    stats: () => ({ ...stats, midStream: { ...stats.midStream }, outcomes: [...stats.outcomes] }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy()
        server.close(() => resolve())
      }),
  }
}
