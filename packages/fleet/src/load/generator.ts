import net from 'node:net'
import { build as buildHistogram } from 'hdr-histogram-js'
import { InvalidOptionError } from '../core/errors.js'
import { isLoopback } from '../core/ports.js'
import { ResponseParser, serializeRequest, type ParsedResponse } from './http1.js'

/**
 * The fleet's load generator: N keep-alive connections, each a plain socket with at most one
 * request outstanding, paced, every request settled exactly once. docs/architecture.md
 * ("Counting a drop") says why the fleet owns it instead of driving autocannon (whose public API
 * sends the next request on a socket whose response said `Connection: close`, and whose counters
 * let a connection that ends under a request go uncounted). It drives its own sockets rather than
 * Node's `http.Agent` so that what goes on the wire, and when, is its own decision: the next
 * request of a burst is written in the callback that completed the response, and for every
 * request it knows the connection it used and whether any byte came back on it.
 */

/** How one request ended. Every request sent ends in exactly one. */
export type LoadOutcome = 'ok' | 'non2xx' | 'lost' | 'reset' | 'refused' | 'timeout'

export const LOAD_OUTCOMES: readonly LoadOutcome[] = Object.freeze(['ok', 'non2xx', 'lost', 'reset', 'refused', 'timeout'])

/** One request to send. */
export interface LoadRequest {
  /** @default 'GET' */
  readonly method?: string
  /** Path and query. @default the URL's path and query */
  readonly path?: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string | Uint8Array
  /**
   * Called with the complete response's status and body (up to 1 MiB; larger: no body), before
   * the request is settled. Only a request that gives it has its response body buffered.
   */
  readonly onResponse?: (status: number, body: Buffer | undefined) => void
  /** `onResponse` needs the status only: the body is not buffered. @default false */
  readonly statusOnly?: boolean
}

export interface RequestContext {
  /** which connection sends it, from 0 */
  readonly connection: number
  /** requests issued before this one, over all connections */
  readonly sequence: number
}

/** Called for every request, just before it is sent: a fixed request, or a mix. */
export type RequestSource = (context: RequestContext) => LoadRequest

/**
 * `rate`: requests per second over all connections (open loop), each connection sending `burst`
 * requests back to back — the next the instant the previous response arrived, on the same
 * keep-alive socket — then waiting for its next slot; the slots are evenly spaced and
 * phase-shifted across connections. A late connection skips the slots it missed rather than
 * catching up in a rush.
 * `thinkMs`: each connection waits this long after each answer (closed loop; 0 = saturating).
 */
export type Pace =
  | { readonly rate: number; /** @default 1 */ readonly burst?: number }
  | { readonly thinkMs: number | ((connection: number) => number) }

export interface LoadGeneratorOptions {
  /** `http://host:port/path`: where to connect, and the default request's path. Loopback only unless `allowNonLoopback`. */
  readonly url: string
  /** Keep-alive connections, each with at most one request outstanding. */
  readonly connections: number
  readonly pace: Pace
  /** @default GET of the URL's path, no body */
  readonly request?: RequestSource
  /** A connection is closed by the client after this many requests on it (after the last one's response) and a new one opened. 0 never. @default 0 */
  readonly reconnectRate?: number
  /** No complete response this long after the request was issued: `timeout`, and the connection is closed. @default 10000 */
  readonly timeoutMs?: number
  /** Hard bound: no request is issued after this long; outstanding ones finish. */
  readonly durationMs: number
  /** Hard bound on requests per connection. @default 100000 */
  readonly maxRequestsPerConnection?: number
  /** Keep a record of every request (failures are always kept, up to `maxFailureRecords`). @default false */
  readonly records?: boolean
  /** Failures kept in `failures`; later ones are only counted (`failuresOmitted`). @default 10000 */
  readonly maxFailureRecords?: number
  /** Response header counted in `byVersion`. @default 'x-app-version' */
  readonly versionHeader?: string
  /**
   * A socket idle longer than this is not reused: the next request opens a new connection rather
   * than race the server's idle timeout (a `Keep-Alive: timeout=N` hint lowers it to N − 1 s, as
   * Node's agent does). @default 4000
   */
  readonly maxIdleMs?: number
  /** The fleet's traffic stays on this machine; only a caller that checked its user's intent may set this. @default false */
  readonly allowNonLoopback?: boolean
}

export interface LoadRecord {
  readonly connection: number
  /** ms since the load started, when the request was issued */
  readonly start: number
  /** ms since the load started, when its outcome was known */
  readonly end: number
  readonly outcome: LoadOutcome
  readonly status?: number
  /** the response said `Connection: close` */
  readonly connectionClose?: boolean
  /** the `versionHeader` of the response */
  readonly version?: string
  /** error code for lost, reset, refused, timeout */
  readonly error?: string
  /** sent on a socket that had already carried a request */
  readonly reused: boolean
}

export interface LatencySummary {
  /** ms from issuing a request (connecting included, when it opened a connection) to its response's last byte; responses only */
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
  readonly mean: number
}

export interface LoadCounts {
  /** requests issued; once the load has ended, = ok + non2xx + lost + reset + refused + timeout */
  readonly sent: number
  /** 2xx responses */
  readonly ok: number
  /** complete responses that were not 2xx */
  readonly non2xx: number
  /** sent, then the connection closed cleanly (or the response was cut) before a complete response */
  readonly lost: number
  /** sent on a reused connection, then the connection was reset */
  readonly reset: number
  /** the connection could not be opened, or was reset before anything was received on it */
  readonly refused: number
  /** no complete response within `timeoutMs` */
  readonly timeout: number
  /** issued and not yet settled */
  readonly inFlight: number
}

export interface LoadRun extends LoadCounts {
  /** connections the client opened (new sockets), including reconnects */
  readonly connectionsOpened: number
  /** responses that said `Connection: close` */
  readonly connectionClose: number
  readonly byStatus: Readonly<Record<string, number>>
  readonly byVersion: Readonly<Record<string, number>>
  readonly latencyMs: LatencySummary
  /** every request that did not end ok, in order of settling, up to `maxFailureRecords` */
  readonly failures: readonly LoadRecord[]
  /** failures past `maxFailureRecords`: counted above, not recorded */
  readonly failuresOmitted: number
  /** every request, when `records` was set; else empty */
  readonly records: readonly LoadRecord[]
  /** ms from the start until requests stopped being issued (stop(), or a bound) */
  readonly sendingMs: number
  /** ms from the start until the last outstanding request settled */
  readonly durationMs: number
}

export interface LoadGenerator {
  /** ms since the load started */
  elapsed(): number
  /** Counts, latency and records so far. */
  snapshot(): LoadRun
  /** Stops issuing requests, lets every outstanding one settle (response, error or timeout), then resolves. */
  stop(): Promise<LoadRun>
  /** Resolves when the load has ended: after `stop()`, or when a bound is reached. */
  readonly done: Promise<LoadRun>
}

const REFUSED = new Set(['ECONNREFUSED', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH'])
// a refused connection would otherwise be retried in a tight loop
const REFUSED_BACKOFF_MS = 20

function positiveInt(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new InvalidOptionError(option, `an integer >= ${min}`, value)
  return value
}

function positive(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) throw new InvalidOptionError(option, `a number >= ${min}`, value)
  return value
}

export function startLoadGenerator(options: LoadGeneratorOptions): LoadGenerator {
  let url: URL
  try {
    url = new URL(options.url)
  } catch {
    throw new InvalidOptionError('url', 'an absolute http:// URL', options.url)
  }
  if (url.protocol !== 'http:') throw new InvalidOptionError('url', 'an http:// URL', options.url)
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const port = Number(url.port || 80)
  if (!options.allowNonLoopback && !isLoopback(host)) throw new InvalidOptionError('url', 'a loopback host (127.0.0.1, ::1, localhost): the fleet only sends load to this machine', url.hostname)
  const connections = positiveInt('connections', options.connections, 1)
  const reconnectRate = positiveInt('reconnectRate', options.reconnectRate ?? 0, 0)
  const timeoutMs = positive('timeoutMs', options.timeoutMs ?? 10_000, 1)
  const durationMs = positive('durationMs', options.durationMs, 0)
  const maxPerConnection = positiveInt('maxRequestsPerConnection', options.maxRequestsPerConnection ?? 100_000, 1)
  const maxIdleMs = positive('maxIdleMs', options.maxIdleMs ?? 4000, 0)
  const maxFailureRecords = positiveInt('maxFailureRecords', options.maxFailureRecords ?? 10_000, 0)
  const versionHeader = (options.versionHeader ?? 'x-app-version').toLowerCase()
  const pace = options.pace
  let burst = 1
  let slotMs = 0
  let thinkMs: (connection: number) => number = () => 0
  if ('rate' in pace) {
    const rate = positive('pace.rate', pace.rate, Number.MIN_VALUE)
    burst = positiveInt('pace.burst', pace.burst ?? 1, 1)
    // each connection sends a burst every slotMs
    slotMs = (1000 * connections * burst) / rate
  } else {
    const think = pace.thinkMs
    if (typeof think === 'number') positive('pace.thinkMs', think, 0)
    thinkMs = typeof think === 'number' ? () => think : think
  }
  const defaultPath = url.pathname + url.search
  const source: RequestSource = options.request ?? (() => ({ path: defaultPath }))

  const t0 = performance.now()
  const now = (): number => Math.round(performance.now() - t0)
  // microseconds; resizes itself for whatever it sees
  const latency = buildHistogram({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, autoResize: true, useWebAssembly: false })
  const counts = { sent: 0, ok: 0, non2xx: 0, lost: 0, reset: 0, refused: 0, timeout: 0, inFlight: 0 }
  let connectionsOpened = 0
  let connectionClose = 0
  const byStatus: Record<string, number> = {}
  const byVersion: Record<string, number> = {}
  const failures: LoadRecord[] = []
  let failuresOmitted = 0
  const records: LoadRecord[] = []
  const keepRecords = options.records === true
  let sequence = 0
  let stopping = false
  let sendingMs: number | undefined
  let fatal: unknown
  const sleeping = new Map<NodeJS.Timeout, () => void>()

  const endSending = (): void => {
    if (stopping) return
    stopping = true
    sendingMs = now()
    const waiting = [...sleeping]
    sleeping.clear()
    for (const [t, wake] of waiting) {
      clearTimeout(t)
      wake()
    }
  }
  const hardStop = setTimeout(endSending, durationMs)
  hardStop.unref()

  function record(r: LoadRecord, issuedAt: number): void {
    counts.inFlight--
    counts[r.outcome]++
    if (r.status !== undefined) {
      byStatus[r.status] = (byStatus[r.status] ?? 0) + 1
      latency.recordValue(Math.max(1, Math.round((performance.now() - issuedAt) * 1000)))
    }
    if (r.version !== undefined) byVersion[r.version] = (byVersion[r.version] ?? 0) + 1
    if (r.connectionClose) connectionClose++
    if (r.outcome !== 'ok') {
      if (failures.length < maxFailureRecords) failures.push(r)
      else failuresOmitted++
    }
    if (keepRecords) records.push(r)
  }

  function runConnection(id: number): Promise<void> {
    return new Promise((resolveLoop) => {
      let socket: net.Socket | undefined
      let parser: ResponseParser | undefined
      /** requests sent on the current socket */
      let onSocket = 0
      let reusable = false
      let idleSince = 0
      let idleLimitMs = maxIdleMs
      let pending: { start: number; issuedAt: number; reused: boolean; timer: NodeJS.Timeout; onResponse: LoadRequest['onResponse'] } | undefined
      let sentHere = 0
      let next = performance.now() + (id * slotMs) / connections
      let inBurst = 0
      let ended = false

      const drop = (): void => {
        reusable = false
        const s = socket
        socket = undefined
        parser = undefined
        s?.destroy()
      }

      const endLoop = (): void => {
        if (ended) return
        ended = true
        drop()
        resolveLoop()
      }

      const settle = (r: Omit<LoadRecord, 'connection' | 'start' | 'end' | 'reused'>): void => {
        const p = pending
        if (!p) return
        pending = undefined
        clearTimeout(p.timer)
        record({ connection: id, start: p.start, end: now(), reused: p.reused, ...r }, p.issuedAt)
        afterRequest(r.outcome)
      }

      const fail = (outcome: LoadOutcome, error: string): void => {
        drop() // nothing more goes on this connection
        settle({ outcome, error })
      }

      const onResponse = (r: ParsedResponse): void => {
        if (!pending) {
          drop() // a response nobody asked for: the connection is out of step
          return
        }
        if (r.close) reusable = false
        if (r.keepAliveMs !== undefined) idleLimitMs = Math.min(maxIdleMs, r.keepAliveMs - 1000)
        // churn: close the connection now that nothing is outstanding on it; the next request opens a new one
        if (reconnectRate > 0 && onSocket >= reconnectRate) reusable = false
        if (!reusable) drop()
        idleSince = performance.now()
        if (pending.onResponse) {
          try {
            pending.onResponse(r.status, r.body)
          } catch (err) {
            fatal ??= err
            endSending()
          }
        }
        const version = r.headers[versionHeader]
        settle({
          outcome: r.status >= 200 && r.status < 300 ? 'ok' : 'non2xx',
          status: r.status,
          ...(/(?:^|,)\s*close\s*(?:,|$)/i.test(r.headers.connection ?? '') ? { connectionClose: true } : {}),
          ...(version === undefined ? {} : { version }),
        })
      }

      const open = (): void => {
        const s = net.connect({ host, port })
        s.setNoDelay(true)
        connectionsOpened++
        const p = new ResponseParser(onResponse)
        socket = s
        parser = p
        onSocket = 0
        reusable = true
        idleLimitMs = maxIdleMs
        // A request on a fresh connection that is reset or closed before any byte came back was
        // never taken: the kernel resets connections still in the accept queue when a listener
        // closes. That is a refused connection (a drop all the same), not a request the server lost.
        const untouched = (): boolean => pending !== undefined && !pending.reused && !p.received
        s.on('data', (chunk: Buffer) => {
          if (socket !== s) return
          try {
            p.push(chunk)
          } catch {
            fail('lost', 'BAD_RESPONSE')
          }
        })
        s.on('end', () => {
          if (socket !== s) return
          reusable = false
          if (p.end()) return // that completed a response whose body ended with the connection
          if (pending) fail(untouched() ? 'refused' : 'lost', 'HANGUP')
          else drop()
        })
        s.on('error', (err: NodeJS.ErrnoException) => {
          if (socket !== s) return
          const code = err.code ?? err.message
          if (!pending) drop()
          else if (REFUSED.has(code)) fail('refused', code)
          else if (code === 'ECONNRESET' || code === 'EPIPE') fail(untouched() ? 'refused' : 'reset', code)
          else fail('lost', code)
        })
        s.on('close', () => {
          if (socket !== s) return
          if (pending) fail(untouched() ? 'refused' : 'lost', 'CLOSED')
          else drop()
        })
      }

      const send = (): void => {
        if (stopping || sentHere >= maxPerConnection) return endLoop()
        let bytes: Buffer
        let head: boolean
        let hook: LoadRequest['onResponse']
        let keepBody = false
        try {
          const spec = source({ connection: id, sequence: sequence++ })
          hook = spec.onResponse
          keepBody = hook !== undefined && spec.statusOnly !== true
          const method = spec.method ?? 'GET'
          head = method === 'HEAD'
          bytes = serializeRequest({ method, path: spec.path ?? defaultPath, ...(spec.headers ? { headers: spec.headers } : {}), ...(spec.body === undefined ? {} : { body: spec.body }) }, url.host)
        } catch (err) {
          fatal ??= err
          endSending()
          return endLoop()
        }
        // the server may be about to close a socket idle this long: do not race its timeout
        if (socket && reusable && performance.now() - idleSince > idleLimitMs) drop()
        if (!socket || !reusable) {
          drop()
          open()
        }
        sentHere++
        counts.sent++
        counts.inFlight++
        const reused = onSocket > 0
        onSocket++
        pending = { start: now(), issuedAt: performance.now(), reused, timer: setTimeout(() => fail('timeout', 'TIMEOUT'), timeoutMs), onResponse: hook }
        parser!.expect(head, keepBody)
        socket!.write(bytes)
      }

      const later = (ms: number, then: () => void): void => {
        const t = setTimeout(() => {
          sleeping.delete(t)
          then()
        }, ms)
        sleeping.set(t, then)
      }

      // the next burst at its slot; a late connection skips the slots it missed
      const slot = (): void => {
        if (stopping) return endLoop()
        const t = performance.now()
        const wait = next - t
        next = Math.max(next + slotMs, t)
        inBurst = 1
        if (wait > 0) later(wait, send)
        else send()
      }

      // Synchronous on purpose: called from the socket's 'data' callback, the next request of a
      // burst is written before the socket reads a close that arrived right behind the response.
      function afterRequest(outcome: LoadOutcome): void {
        if (stopping || sentHere >= maxPerConnection) return endLoop()
        if (slotMs > 0) {
          if (outcome !== 'refused' && inBurst < burst) {
            inBurst++
            send()
          } else {
            slot()
          }
          return
        }
        const think = outcome === 'refused' ? Math.max(thinkMs(id), REFUSED_BACKOFF_MS) : thinkMs(id)
        if (think > 0) later(think, send)
        else send()
      }

      if (slotMs > 0) slot()
      else send()
    })
  }

  function result(): LoadRun {
    const ms = (us: number): number => Math.round(us / 10) / 100
    return {
      ...counts,
      connectionsOpened,
      connectionClose,
      byStatus: { ...byStatus },
      byVersion: { ...byVersion },
      latencyMs: latency.totalCount === 0
        ? { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 }
        : { p50: ms(latency.getValueAtPercentile(50)), p90: ms(latency.getValueAtPercentile(90)), p99: ms(latency.getValueAtPercentile(99)), max: ms(latency.maxValue), mean: ms(latency.mean) },
      failures: [...failures],
      failuresOmitted,
      records: [...records],
      sendingMs: sendingMs ?? now(),
      durationMs: now(),
    }
  }

  const loops: Promise<void>[] = []
  for (let i = 0; i < connections; i++) loops.push(runConnection(i))
  const done = Promise.all(loops).then(() => {
    endSending()
    clearTimeout(hardStop)
    if (fatal !== undefined) throw fatal
    return result()
  })
  done.catch(() => {})

  return {
    elapsed: now,
    snapshot: result,
    done,
    stop() {
      endSending()
      return done
    },
  }
}
