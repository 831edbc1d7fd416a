import { startLoadGenerator, type LoadRecord, type LoadRun } from './generator.js'

/**
 * An exact keep-alive load client: every request is counted once, as ok (2xx), non-2xx,
 * lost (sent, then the connection reset or hung up before a full response), refused
 * (the connection could not be opened, so nothing was sent) or timeout.
 *
 * The same engine as the fleet's main load (`startLoadGenerator`), in its closed-loop form:
 * some clients send the next request as soon as the answer arrives, some wait between requests
 * so their sockets sit idle. Its `lost` is the engine's `lost` and `reset` together.
 */
export interface ExactLoadOptions {
  /** Target URL on loopback, e.g. `http://127.0.0.1:3000/`. */
  readonly url: string
  /** Clients that send their next request as soon as the previous answer arrives. @default 4 */
  readonly saturating?: number
  /** Clients that wait `pacedIntervalMs` between requests, so their sockets sit idle. @default 4 */
  readonly paced?: number
  /** @default 50 */
  readonly pacedIntervalMs?: number
  /** Hard bound on the run; `stop()` ends it earlier. @default 30000 */
  readonly durationMs?: number
  /**
   * Hard bound on requests per client. The default is 100 per millisecond of `durationMs`
   * (at least 100 000), so on loopback the duration always ends the run first: a saturating
   * client on a fast machine does ~9 000 req/s, and a fixed 100 000 once left nothing in flight
   * 11 s into a 45 s run. @default max(100000, 100 × durationMs)
   */
  readonly maxRequestsPerClient?: number
  /** Per-request timeout. @default 10000 */
  readonly timeoutMs?: number
  readonly method?: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string
}

export type Outcome = 'ok' | 'non2xx' | 'lost' | 'refused' | 'timeout'

export interface RequestRecord {
  /** ms since the load started, when the request was issued */
  readonly start: number
  /** ms since the load started, when the outcome was known */
  readonly end: number
  readonly outcome: Outcome
  readonly status?: number
  /** the response said `Connection: close` */
  readonly connectionClose?: boolean
  /** value of the `x-app-version` response header, when present */
  readonly version?: string
  /** error code for lost / refused / timeout */
  readonly error?: string
  /** the request went out on a keep-alive socket that had already carried a request */
  readonly reused?: boolean
  readonly client: number
}

export interface ExactLoadResult {
  readonly sent: number
  readonly ok: number
  readonly non2xx: number
  readonly lost: number
  /**
   * Of `lost`, the requests sent on a reused keep-alive connection that was then reset: one the
   * other side was resetting as it went out may never have been read by it (a router's count
   * can be short by these, and no more).
   */
  readonly reset: number
  readonly refused: number
  readonly timeout: number
  readonly connectionClose: number
  readonly byStatus: Readonly<Record<string, number>>
  readonly byVersion: Readonly<Record<string, number>>
  readonly records: readonly RequestRecord[]
  readonly durationMs: number
}

export interface ExactLoad {
  /** Stops issuing new requests, waits for the outstanding ones, returns the counts. */
  stop(): Promise<ExactLoadResult>
  /** Resolves when the load ends on its own (duration or request bound) or after `stop()`. */
  readonly done: Promise<ExactLoadResult>
  /** Counts so far. */
  snapshot(): ExactLoadResult
}

function toRecord(r: LoadRecord): RequestRecord {
  const { connection, outcome, ...rest } = r
  return { ...rest, outcome: outcome === 'reset' ? 'lost' : outcome, client: connection }
}

function toResult(r: LoadRun): ExactLoadResult {
  return {
    sent: r.sent,
    ok: r.ok,
    non2xx: r.non2xx,
    lost: r.lost + r.reset,
    reset: r.reset,
    refused: r.refused,
    timeout: r.timeout,
    connectionClose: r.connectionClose,
    byStatus: r.byStatus,
    byVersion: r.byVersion,
    records: r.records.map(toRecord),
    durationMs: r.durationMs,
  }
}

export function startExactLoad(options: ExactLoadOptions): ExactLoad {
  const saturating = options.saturating ?? 4
  const paced = options.paced ?? 4
  const pacedIntervalMs = options.pacedIntervalMs ?? 50
  const durationMs = options.durationMs ?? 30_000
  const request = { method: options.method ?? 'GET', ...(options.headers ? { headers: options.headers } : {}), ...(options.body === undefined ? {} : { body: options.body }) }
  const generator = startLoadGenerator({
    url: options.url,
    connections: saturating + paced,
    // saturating clients first, then paced ones
    pace: { thinkMs: (client) => (client < saturating ? 0 : pacedIntervalMs) },
    request: () => request,
    durationMs,
    maxRequestsPerConnection: options.maxRequestsPerClient ?? Math.max(100_000, Math.ceil(100 * durationMs)),
    timeoutMs: options.timeoutMs ?? 10_000,
    records: true,
  })
  const done = generator.done.then(toResult)
  return {
    done,
    stop: () => generator.stop().then(toResult),
    snapshot: () => toResult(generator.snapshot()),
  }
}
