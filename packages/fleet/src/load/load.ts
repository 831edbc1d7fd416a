import autocannon from 'autocannon'
import { startExactLoad, type ExactLoad, type ExactLoadResult } from './exact-client.js'
import type { ResolvedLoad } from '../options/deploy.js'

type AutocannonClient = Parameters<NonNullable<Parameters<typeof autocannon>[0]['setupClient']>>[0]

export interface AutocannonSummary {
  readonly connections: number
  readonly targetRate: number
  /** autocannon's own counters, for information only: they hide connection-level drops (docs/architecture.md, "Counting a drop") */
  readonly responses: number
  readonly errors: number
  readonly timeouts: number
  readonly non2xx: number
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number; readonly mean: number }
  readonly durationS: number
}

export interface ExactSummary {
  readonly clients: number
  readonly sent: number
  readonly ok: number
  readonly non2xx: number
  readonly lost: number
  readonly refused: number
  readonly timeout: number
  readonly byVersion: Readonly<Record<string, number>>
  /** each failed request, for the report */
  readonly failures: ReadonlyArray<{ readonly start: number; readonly outcome: string; readonly error?: string; readonly status?: number }>
}

export interface LoadResult {
  readonly autocannon: AutocannonSummary
  readonly exact: ExactSummary | undefined
  /** ms from start to the graceful end */
  readonly durationMs: number
  /** ms from start until stop() was called: the time requests were being sent */
  readonly sendingMs: number
}

export interface RunningLoad {
  /** ms since the load started */
  elapsed(): number
  /** Stops sending, lets every outstanding request finish (or fail), then returns the results. */
  stop(): Promise<LoadResult>
}

/**
 * autocannon through the router, paced: each keep-alive connection sends its share of `rate` in
 * small bursts of back-to-back requests (`burst`), the bursts evenly spaced and phase-shifted
 * across connections, so the load is steady instead of autocannon's once-a-second bursts, and
 * keep-alive sockets are reused the instant a response arrives — the moment a server that closes
 * sockets without `Connection: close` loses the next request. Every `reconnectRate` requests a connection is replaced, so new connections keep
 * arriving as they do in production (and an `l4` router moves traffic only with new connections).
 *
 * autocannon's `stop()` destroys connections with requests in flight; this stop is graceful:
 * each client ends when it has no outstanding request (after its response, its error or its
 * timeout), so nothing is abandoned that the router would have to count.
 */
export async function startLoad(url: string, load: ResolvedLoad, maxDurationMs: number): Promise<RunningLoad> {
  const t0 = performance.now()
  const clients: AutocannonClient[] = []
  const pending = new Map<AutocannonClient, NodeJS.Timeout>()
  const burst = load.burst
  // each connection sends `burst` requests back to back every burstIntervalMs
  const burstIntervalMs = (1000 * load.connections * burst) / load.rate
  let stopping = false

  const finished = new Promise<autocannon.AutocannonResult>((resolve, reject) => {
    autocannon(
      {
        url,
        connections: load.connections,
        duration: Math.ceil(maxDurationMs / 1000),
        // the router times out at timeoutMs and counts it; the clients wait a little longer
        timeout: Math.ceil(load.timeoutMs / 1000) + 2,
        pipelining: 1,
        // autocannon reports its end at the next sample tick: short ticks make the graceful stop prompt
        sampleInt: 250,
        reconnectRate: load.reconnectRate,
        method: load.method,
        headers: { ...load.headers },
        ...(load.body === undefined ? {} : { body: load.body }),
        setupClient(client) {
          const index = clients.length
          clients.push(client)
          const send = client._doRequest.bind(client)
          const connect = client._connect.bind(client)
          let next = performance.now() + (index * burstIntervalMs) / load.connections
          let inBurst = 0
          let closeAnnounced = false
          // A client must not send another request on a connection whose response said
          // `Connection: close` (RFC 9112 §9.6); autocannon does, which would turn a correct
          // drain into "lost" requests. This client honours it, as browsers and Node's agent do.
          client.on('headers', (...args: unknown[]) => {
            // http-parser-js passes one info object, or positional fields in its older call style
            const first = args[0] as { shouldKeepAlive?: boolean } | number | undefined
            const keepAlive = typeof first === 'object' && first !== null ? first.shouldKeepAlive : args[8]
            if (keepAlive === false) closeAnnounced = true
          })
          client._connect = function connectFresh(): void {
            closeAnnounced = false // a burst goes on over the new connection
            connect()
          }
          client._doRequest = function paced(): void {
            if (pending.has(client)) return // one request at a time: a reconnect already scheduled it
            if (stopping) {
              client.destroy()
              return
            }
            if (closeAnnounced) {
              client._resetConnection() // nothing is outstanding: open a new connection, which sends
              return
            }
            if (inBurst > 0 && inBurst < burst) {
              inBurst++
              send()
              return
            }
            const now = performance.now()
            const wait = next - now
            next = Math.max(next + burstIntervalMs, now)
            inBurst = 1
            if (wait <= 0) {
              send()
              return
            }
            const t = setTimeout(() => {
              pending.delete(client)
              if (stopping) client.destroy()
              else send()
            }, wait)
            pending.set(client, t)
          }
        },
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    )
  })
  finished.catch(() => {})

  let exact: ExactLoad | undefined
  if (load.exactClients > 0) {
    exact = startExactLoad({
      url,
      saturating: 0,
      paced: load.exactClients,
      pacedIntervalMs: load.exactIntervalMs,
      durationMs: maxDurationMs,
      timeoutMs: load.timeoutMs + 2000,
      method: load.method,
      headers: { ...load.headers },
      ...(load.body === undefined ? {} : { body: load.body }),
    })
  }

  return {
    elapsed: () => Math.round(performance.now() - t0),
    async stop(): Promise<LoadResult> {
      const sendingMs = Math.round(performance.now() - t0)
      stopping = true
      // clients waiting for their next slot have nothing in flight: end them now
      for (const [client, t] of pending) {
        clearTimeout(t)
        pending.delete(client)
        client.destroy()
      }
      const [result, exactResult] = await Promise.all([finished, exact?.stop()])
      return {
        autocannon: summarize(result, load),
        exact: exactResult === undefined ? undefined : summarizeExact(exactResult, load.exactClients),
        durationMs: Math.round(performance.now() - t0),
        sendingMs,
      }
    },
  }
}

function summarize(r: autocannon.AutocannonResult, load: ResolvedLoad): AutocannonSummary {
  return {
    connections: load.connections,
    targetRate: load.rate,
    responses: r.requests.total,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: r.latency.mean },
    durationS: r.duration,
  }
}

function summarizeExact(r: ExactLoadResult, clients: number): ExactSummary {
  return {
    clients,
    sent: r.sent,
    ok: r.ok,
    non2xx: r.non2xx,
    lost: r.lost,
    refused: r.refused,
    timeout: r.timeout,
    byVersion: r.byVersion,
    failures: r.records
      .filter((x) => x.outcome !== 'ok')
      .map((x) => ({ start: x.start, outcome: x.outcome, ...(x.error === undefined ? {} : { error: x.error }), ...(x.status === undefined ? {} : { status: x.status }) })),
  }
}
