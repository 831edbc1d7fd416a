import http from 'node:http'
import https from 'node:https'
import type { ResolvedVerifyOptions } from '../options/verify.js'

/**
 * The load of `zerodrop verify`, and its count: there is no router of ours in the path, so the
 * load side counts every request itself, exactly, by the fleet's rules (DESIGN.md, "Honesty
 * rules"; the same classification as the fleet's exact clients). Every request the load tries
 * ends in exactly one outcome:
 * - `ok`: a complete 2xx response;
 * - `non2xx`: a complete response with any other status, told apart as the load balancer's
 *   (`lb`: a 502/503/504 carrying the balancer's signature) or the application's (`app`);
 * - `lost`: sent, then the connection closed (FIN) before a complete answer;
 * - `reset`: sent, then the connection was reset (RST) before a complete answer;
 * - `refused`: sent on a fresh connection that was reset before a byte came back (a
 *   connection in the kernel's accept queue when the listener closed): the server never took it;
 * - `timeout`: no complete answer within the timeout.
 * A connection that could not be opened at all (`refusedConnection`) carried no request: it is
 * counted in a ledger of its own, as the fleet's router counts refused connections, and is a drop.
 *
 * Each connection sends its share of the rate in small bursts (`burst` requests, each sent the
 * moment the previous answer is in — when a server that closes sockets without `Connection: close`
 * loses the next one), the bursts evenly paced and phase-shifted across connections, so sockets
 * also sit idle between them as production keep-alive sockets do (the fleet's load does the same). A response with `Connection: close` ends its
 * connection (Node's agent honours it) and the next request opens a new one; every
 * `reconnectEvery` requests a connection is replaced anyway, so new connections keep arriving.
 */
export type VerifyOutcome = 'ok' | 'non2xx' | 'lost' | 'reset' | 'refused' | 'timeout' | 'refusedConnection'

export interface VerifyRecord {
  /** ms since the load started, when the request was issued */
  readonly start: number
  /** ms since the load started, when its outcome was known */
  readonly end: number
  readonly outcome: VerifyOutcome
  readonly status?: number
  /** for non-2xx: which side answered */
  readonly side?: 'lb' | 'app'
  readonly version?: string
  /** the error code for lost / reset / refused / timeout */
  readonly error?: string
  /** the request went out on a connection that had carried a request before */
  readonly reused: boolean
  readonly connection: number
  /** HTTP/2: the first stream was refused unprocessed (REFUSED_STREAM, or above a GOAWAY's last stream id) and the request was sent again on a new session */
  readonly retried?: boolean
}

export interface VerifyLoad {
  /** ms since the load started */
  elapsed(): number
  /** Stops issuing requests, lets each outstanding one settle, closes every connection. */
  stop(): Promise<readonly VerifyRecord[]>
  /** the records so far */
  records(): readonly VerifyRecord[]
}

/** the connection could not be opened: nothing was sent */
const CONNECT_FAILED = new Set(['ECONNREFUSED', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])
const LB_STATUSES = new Set([502, 503, 504])

/** Which side answered a non-2xx response. */
export function sideOf(status: number, headers: http.IncomingHttpHeaders, o: Pick<ResolvedVerifyOptions, 'versionHeader' | 'lbHeader'>): 'lb' | 'app' {
  if (!LB_STATUSES.has(status)) return 'app'
  if (o.lbHeader !== undefined) {
    const v = headers[o.lbHeader.name]
    if (v !== undefined && (o.lbHeader.value === undefined || String(v).toLowerCase().includes(o.lbHeader.value))) return 'lb'
  }
  // the application names its version on every answer; a 5xx without it came from in front of it
  if (o.versionHeader !== undefined && headers[o.versionHeader] === undefined) return 'lb'
  return 'app'
}

/** The outcome of a request that failed with `err` before a complete response. */
export function failureOutcome(err: NodeJS.ErrnoException, reused: boolean, gotResponse: boolean): { outcome: VerifyOutcome; error: string } {
  const code = err.code ?? err.message
  if (!gotResponse && (CONNECT_FAILED.has(code) || (code === 'ETIMEDOUT' && !reused))) return { outcome: 'refusedConnection', error: code }
  // Node reports a connection closed (FIN) under a request as ECONNRESET with the message
  // 'socket hang up': the server took the connection and let the request go, on a fresh
  // connection as on a reused one (the fleet's generator counts it lost the same way)
  if (err.message === 'socket hang up') return { outcome: 'lost', error: 'HANGUP' }
  // a fresh connection reset before a byte came back: the kernel flushing the accept queue of a
  // closing listener, a connection the server never took
  if (!gotResponse && !reused && (code === 'ECONNRESET' || code === 'EPIPE')) return { outcome: 'refused', error: code }
  if (code === 'ECONNRESET' || code === 'EPIPE') return { outcome: 'reset', error: code }
  return { outcome: 'lost', error: code }
}

export interface PacedLoop {
  /** sends one burst; `stopped()` tells it the load is stopping */
  burst(): Promise<void>
  end?(): void
}

/**
 * The pace both clients keep: `o.connections` loops, each running its burst every
 * `1000 × connections × burst / rate` ms, phase-shifted across loops; a late burst goes at once,
 * but the pace is not made up with a larger one. Resolves, once stopped, when every loop has ended.
 */
export function runPaced(o: Pick<ResolvedVerifyOptions, 'connections' | 'burst' | 'rate'>, t0: number, make: (id: number, stopped: () => boolean) => PacedLoop): () => Promise<void> {
  const sleeping = new Map<NodeJS.Timeout, () => void>()
  let stopping = false
  const stopped = (): boolean => stopping
  const intervalMs = (1000 * o.connections * o.burst) / o.rate
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        sleeping.delete(t)
        resolve()
      }, ms)
      sleeping.set(t, resolve)
    })
  async function loop(id: number): Promise<void> {
    const l = make(id, stopped)
    let next = (id * intervalMs) / o.connections
    while (!stopping) {
      const wait = next - (performance.now() - t0)
      if (wait > 0) await sleep(wait)
      if (stopping) break
      next = Math.max(next + intervalMs, performance.now() - t0)
      await l.burst()
    }
    l.end?.()
  }
  const all = Promise.all(Array.from({ length: o.connections }, (_, i) => loop(i)))
  return async () => {
    stopping = true
    for (const [t, wake] of sleeping) {
      clearTimeout(t)
      sleeping.delete(t)
      wake()
    }
    await all
  }
}

export function startVerifyLoad(o: ResolvedVerifyOptions): VerifyLoad {
  const t0 = performance.now()
  const now = (): number => Math.round(performance.now() - t0)
  const records: VerifyRecord[] = []
  const isHttps = o.url.protocol === 'https:'
  const agents = new Set<http.Agent>()

  const newAgent = (): http.Agent => {
    const agent = isHttps
      ? new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: !o.insecure, ...(o.ca === undefined ? {} : { ca: o.ca }) })
      : new http.Agent({ keepAlive: true, maxSockets: 1 })
    agents.add(agent)
    return agent
  }

  function once(connection: number, agent: http.Agent): Promise<void> {
    return new Promise((resolve) => {
      const start = now()
      let settled = false
      let gotResponse = false
      const finish = (r: Omit<VerifyRecord, 'start' | 'end' | 'connection' | 'reused'>): void => {
        if (settled) return
        settled = true
        records.push({ start, end: now(), connection, reused: req.reusedSocket, ...r })
        resolve()
      }
      const req = (isHttps ? https : http).request(
        o.url,
        { method: o.method, agent, headers: o.headers, timeout: o.timeoutMs },
        (res) => {
          gotResponse = true
          res.on('data', () => {})
          res.on('end', () => {
            const status = res.statusCode ?? 0
            const v = o.versionHeader === undefined ? undefined : res.headers[o.versionHeader]
            const version = Array.isArray(v) ? v[0] : v
            const ok = status >= 200 && status < 300
            finish({
              outcome: ok ? 'ok' : 'non2xx',
              status,
              ...(ok ? {} : { side: sideOf(status, res.headers, o) }),
              ...(version === undefined ? {} : { version }),
            })
          })
          res.on('error', (err: NodeJS.ErrnoException) => finish(failureOutcome(err, req.reusedSocket, true)))
          res.on('aborted', () => finish({ outcome: 'lost', error: 'ABORTED' }))
        },
      )
      req.on('timeout', () => {
        finish({ outcome: 'timeout', error: 'TIMEOUT' })
        req.destroy()
      })
      req.on('error', (err: NodeJS.ErrnoException) => finish(failureOutcome(err, req.reusedSocket, gotResponse)))
      req.end(o.body)
    })
  }

  const stopLoops = runPaced(o, t0, (id, stopped) => {
    let agent = newAgent()
    let sentOnAgent = 0
    return {
      async burst() {
        for (let i = 0; i < o.burst && !stopped(); i++) {
          if (o.reconnectEvery > 0 && sentOnAgent >= o.reconnectEvery) {
            agent.destroy()
            agents.delete(agent)
            agent = newAgent()
            sentOnAgent = 0
          }
          sentOnAgent++
          await once(id, agent)
        }
      },
      end() {
        agent.destroy()
        agents.delete(agent)
      },
    }
  })

  return {
    elapsed: now,
    records: () => records,
    async stop() {
      await stopLoops()
      for (const a of agents) a.destroy()
      return records
    },
  }
}
