import { mixSource } from '../options/requests.js'
import { WriteLedger } from './data-check.js'
import { startExactLoad, type ExactLoad, type ExactLoadResult } from './exact-client.js'
import { startLoadGenerator, type LatencySummary, type LoadCounts, type LoadRun } from './generator.js'
import type { ResolvedLoad } from '../options/deploy.js'

/** The main load as the report shows it: the generator's own exact counts (once it has ended) and latency. */
export interface GeneratorSummary extends Omit<LoadCounts, 'inFlight'> {
  readonly connections: number
  readonly targetRate: number
  readonly burst: number
  readonly reconnectRate: number
  /** new connections opened, the first ones and every reconnect (churn, `Connection: close`, after a failure) */
  readonly connectionsOpened: number
  /** responses that said `Connection: close` (each moved the connection to a new socket) */
  readonly connectionClose: number
  readonly latencyMs: LatencySummary
  /** seconds requests were being sent */
  readonly durationS: number
  /** each failed request, for the report (the first 10 000) */
  readonly failures: ReadonlyArray<{ readonly start: number; readonly outcome: string; readonly error?: string; readonly status?: number }>
  /** failed requests past the first 10 000: counted, not listed */
  readonly failuresOmitted: number
}

/**
 * The report's former `load.autocannon` section, kept with the same fields and meanings, now
 * filled from the fleet's own generator (which replaced autocannon; see GeneratorSummary).
 */
export interface AutocannonSummary {
  readonly connections: number
  readonly targetRate: number
  /** complete responses (2xx and other) */
  readonly responses: number
  /** requests that got no response: lost + reset + refused + timeout */
  readonly errors: number
  readonly timeouts: number
  readonly non2xx: number
  readonly latencyMs: LatencySummary
  readonly durationS: number
}

export interface ExactSummary {
  readonly clients: number
  readonly sent: number
  readonly ok: number
  readonly non2xx: number
  readonly lost: number
  /** of `lost`, sent on a reused connection that was then reset (absent in reports written before it) */
  readonly reset?: number
  readonly refused: number
  readonly timeout: number
  readonly byVersion: Readonly<Record<string, number>>
  /** each failed request, for the report */
  readonly failures: ReadonlyArray<{ readonly start: number; readonly outcome: string; readonly error?: string; readonly status?: number }>
}

export interface LoadResult {
  readonly generator: GeneratorSummary
  /** the same run in the former autocannon section's shape */
  readonly autocannon: AutocannonSummary
  readonly exact: ExactSummary | undefined
  /** ms from start to the graceful end */
  readonly durationMs: number
  /** ms from start until stop() was called: the time requests were being sent */
  readonly sendingMs: number
  /** the checked writes answered 2xx, for the data check; undefined when the mix has none */
  readonly writes: WriteLedger | undefined
}

export interface RunningLoad {
  /** ms since the load started */
  elapsed(): number
  /** Stops sending, lets every outstanding request finish (or fail), then returns the results. */
  stop(): Promise<LoadResult>
}

/**
 * The fleet's load through the router: `connections` keep-alive connections sharing `rate`,
 * evenly paced and phase-shifted, each sending bursts of `burst` back-to-back requests — the next
 * the instant a response arrives, the moment a server that closes sockets without
 * `Connection: close` loses it — and replaced every `reconnectRate` requests, so new connections
 * keep arriving as in production (an `l4` router moves traffic only with new connections). A
 * response that says `Connection: close` is honoured: the next request goes on a new connection
 * (RFC 9112 §9.6), as browsers and Node's agent do. Beside it, `exactClients` closed-loop clients
 * as a second load-side cross-check. The stop is graceful: nothing is abandoned that the router
 * would have to count.
 */
function exactFromMix(load: ResolvedLoad, run: string): { method: string; path: string; headers: Record<string, string>; body?: string } {
  const spec = load.requests.find((r) => r.method === 'GET') ?? load.requests[0]!
  const one = mixSource([spec], load.headers, `${run}-exact`)(0)
  return { ...one, headers: { ...one.headers } }
}

export async function startLoad(url: string, load: ResolvedLoad, maxDurationMs: number): Promise<RunningLoad> {
  const t0 = performance.now()
  const request = { method: load.method, headers: { ...load.headers }, ...(load.body === undefined ? {} : { body: load.body }) }
  // a mix: every request of the main load from it; the exact clients send its first GET (a
  // cross-check that repeats one write would only add duplicates), or its first entry
  const run = Date.now().toString(36)
  const mix = load.requests.length > 0 ? mixSource(load.requests, load.headers, run) : undefined
  const exact1 = mix === undefined ? undefined : exactFromMix(load, run)
  const exactRequest = exact1 === undefined ? request : { method: exact1.method, headers: exact1.headers, ...(exact1.body === undefined ? {} : { body: exact1.body }) }
  const exactUrl = exact1 === undefined ? url : new URL(exact1.path, url).toString()
  const ledger = load.requests.some((r) => r.check !== undefined) ? new WriteLedger(load.requests, load.dataCheckMaxWrites) : undefined
  // only a checked write's answer is buffered, and only while the ledger has room
  const fromMix = mix === undefined
    ? undefined
    : ledger === undefined
      ? ({ sequence }: { sequence: number }) => mix(sequence)
      : ({ sequence }: { sequence: number }) => {
          const m = mix(sequence)
          const c = m.check
          if (c === undefined) return m
          if (!ledger.room) return { ...m, statusOnly: true, onResponse: (status: number) => ledger.answer(c.entry, c.value, status, undefined) }
          return { ...m, onResponse: (status: number, body: Buffer | undefined) => ledger.answer(c.entry, c.value, status, body) }
        }
  const main = startLoadGenerator({
    url,
    connections: load.connections,
    pace: { rate: load.rate, burst: load.burst },
    request: fromMix ?? (() => request),
    reconnectRate: load.reconnectRate,
    // the router times out at timeoutMs and counts it; the clients wait a little longer
    timeoutMs: load.timeoutMs + 2000,
    durationMs: maxDurationMs,
    // what the pacing allows in maxDurationMs: the bound never cuts the load short
    maxRequestsPerConnection: Math.ceil((load.rate * maxDurationMs) / 1000 / load.connections) + load.burst,
  })
  let exact: ExactLoad | undefined
  if (load.exactClients > 0) {
    exact = startExactLoad({
      url: exactUrl,
      saturating: 0,
      paced: load.exactClients,
      pacedIntervalMs: load.exactIntervalMs,
      durationMs: maxDurationMs,
      timeoutMs: load.timeoutMs + 2000,
      ...exactRequest,
    })
  }

  return {
    elapsed: () => Math.round(performance.now() - t0),
    async stop(): Promise<LoadResult> {
      const sendingMs = Math.round(performance.now() - t0)
      const [run, exactResult] = await Promise.all([main.stop(), exact?.stop()])
      const generator = summarize(run, load)
      return {
        generator,
        autocannon: {
          connections: generator.connections,
          targetRate: generator.targetRate,
          responses: run.ok + run.non2xx,
          errors: run.lost + run.reset + run.refused + run.timeout,
          timeouts: run.timeout,
          non2xx: run.non2xx,
          latencyMs: run.latencyMs,
          durationS: generator.durationS,
        },
        exact: exactResult === undefined ? undefined : summarizeExact(exactResult, load.exactClients),
        durationMs: Math.round(performance.now() - t0),
        sendingMs,
        writes: ledger,
      }
    },
  }
}

/** The load's result when it never ran or never finished: nothing sent. */
export function noLoadResult(load: ResolvedLoad): LoadResult {
  const latencyMs = { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 }
  const zero = { sent: 0, ok: 0, non2xx: 0, lost: 0, reset: 0, refused: 0, timeout: 0 }
  return {
    generator: { connections: load.connections, targetRate: load.rate, burst: load.burst, reconnectRate: load.reconnectRate, ...zero, connectionsOpened: 0, connectionClose: 0, latencyMs, durationS: 0, failures: [], failuresOmitted: 0 },
    autocannon: { connections: load.connections, targetRate: load.rate, responses: 0, errors: 0, timeouts: 0, non2xx: 0, latencyMs, durationS: 0 },
    exact: undefined,
    durationMs: 0,
    sendingMs: 0,
    writes: undefined,
  }
}

const failure = (x: { start: number; outcome: string; error?: string; status?: number }): GeneratorSummary['failures'][number] =>
  ({ start: x.start, outcome: x.outcome, ...(x.error === undefined ? {} : { error: x.error }), ...(x.status === undefined ? {} : { status: x.status }) })

function summarize(r: LoadRun, load: ResolvedLoad): GeneratorSummary {
  return {
    connections: load.connections,
    targetRate: load.rate,
    burst: load.burst,
    reconnectRate: load.reconnectRate,
    sent: r.sent,
    ok: r.ok,
    non2xx: r.non2xx,
    lost: r.lost,
    reset: r.reset,
    refused: r.refused,
    timeout: r.timeout,
    connectionsOpened: r.connectionsOpened,
    connectionClose: r.connectionClose,
    latencyMs: r.latencyMs,
    durationS: r.sendingMs / 1000,
    failures: r.failures.map(failure),
    failuresOmitted: r.failuresOmitted,
  }
}

function summarizeExact(r: ExactLoadResult, clients: number): ExactSummary {
  return {
    clients,
    sent: r.sent,
    ok: r.ok,
    non2xx: r.non2xx,
    lost: r.lost,
    reset: r.reset,
    refused: r.refused,
    timeout: r.timeout,
    byVersion: r.byVersion,
    failures: r.records.filter((x) => x.outcome !== 'ok').map(failure),
  }
}
