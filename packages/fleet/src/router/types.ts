/** The router's shared types: a leaf module, so the engines, the pool and the stats import no facade. */
import type { RouterMode } from '../options/deploy.js'

export type { RouterMode }

export interface Endpoint {
  readonly id: string
  readonly revision: string
  /** loopback only: 127.0.0.0/8, ::1 or localhost */
  readonly host: string
  readonly port: number
}

export interface RouterLogger {
  info(o: object, msg?: string): void
  warn(o: object, msg?: string): void
  error(o: object, msg?: string): void
}

export interface RouterOptions {
  /** @default 'l4' */
  readonly mode?: RouterMode
  /** Loopback only; anything else is rejected. @default '127.0.0.1' */
  readonly host?: string
  /** @default 0 (an ephemeral port, read it back from `router.port`) */
  readonly port?: number
  /**
   * l7 only: an idle pooled upstream socket is closed after this long (nginx `keepalive_timeout`
   * in an upstream block; the server's own `Keep-Alive: timeout=N` hint is ignored, as nginx does).
   * If the server closes an idle socket just as the router reuses it, the request gets a 502
   * counted as `reset` or `lost`; it is never retried.
   * @default 60000
   */
  readonly upstreamIdleTimeoutMs?: number
  /**
   * Upstream response timeout: no response byte for this long while a request waits. Counted as
   * `timeout`. l7 answers 504 (or cuts a response already under way); l4 writes a 504 with
   * `Connection: close` when no response had started on the connection, else resets it.
   * @default 30000
   */
  readonly requestTimeoutMs?: number
  /** `close()` ends connections gracefully, then destroys what is left after this long. @default 2000 */
  readonly closeTimeoutMs?: number
  /** l7: how long an idle client keep-alive connection to the router is kept (nginx `keepalive_timeout`). @default 75000 */
  readonly clientKeepAliveTimeoutMs?: number
  /** @default a logger that drops everything */
  readonly logger?: RouterLogger
}

export interface ResolvedRouterOptions {
  readonly mode: RouterMode
  readonly host: string
  readonly port: number
  readonly upstreamIdleTimeoutMs: number
  readonly requestTimeoutMs: number
  readonly closeTimeoutMs: number
  readonly clientKeepAliveTimeoutMs: number
  readonly logger: RouterLogger
}

export interface RevisionStats {
  /** l4: client connections assigned to this revision; l7: upstream sockets opened to it */
  connections: number
  /** requests forwarded to an instance of this revision */
  requests: number
  /**
   * Complete responses from an instance passed on to the client (interim 100/102/103 are not
   * counted; 101 is, with 2xx: the switch an upgrade request asks for is its success). Counted when the router has written the last byte to the client socket, not
   * when the client read it. Router-made 502/503/504 answers are not here: they are `failures`.
   */
  responses: { '1xx': number; '2xx': number; '3xx': number; '4xx': number; '5xx': number }
  /**
   * By cause, each a request the client did not get a real answer for, or got a router-made 502/504 for:
   * `refused` (l7: the upstream connect failed, a router-made 502; l4 connect failures are `refusedConnections`),
   * `reset` (the upstream reset the connection with the request outstanding),
   * `lost` (the upstream closed cleanly with the request outstanding, or the request arrived after it closed),
   * `timeout` (`requestTimeoutMs` passed without a response).
   */
  failures: { refused: number; reset: number; lost: number; timeout: number }
  /** requests outstanding when the client itself reset or closed its connection: not the fleet's drops, not in `failures` */
  aborted: number
  /**
   * The connection ledger's drops: l4 client connections whose upstream connect failed, so they
   * never carried a request (the client sees a reset). Not in `requests` nor in `failures`.
   */
  refusedConnections: number
  /** l4 responses that arrived with no request outstanding: passed on, not counted in `responses` */
  unsolicited: number
  /** connections where framing stopped (protocol switch or unframeable input): later messages on them are not counted */
  passthrough: number
  /** upgraded connections: a `101` answer turned them into tunnels (the request is counted with 2xx) */
  tunnels: number
  /**
   * The tunnel ledger's drops: tunnels the upstream reset while the client still had them open
   * (a WebSocket cut mid-stream, not closed with a close frame and a FIN). Not requests.
   */
  brokenTunnels: number
}

export interface RouterStats {
  /**
   * `noEndpoint`: what found an empty pool, in two ledgers. `requests` (l7: a router-made 503)
   * are also in `total.requests` and `total.failures.refused`; `connections` (l4: the client
   * connection is reset at once, as a refused connection would be — the kernel has already
   * accepted it) are also in `total.refusedConnections`. They belong to no revision.
   */
  total: RevisionStats & { noEndpoint: { requests: number; connections: number } }
  byRevision: Record<string, RevisionStats>
  /**
   * One bucket per second that saw traffic; `ok` = 2xx responses, `failed` = other responses plus
   * failures. Empty-pool drops are under the key `(none)`.
   */
  perSecond: Array<{ t: number; byRevision: Record<string, { requests: number; ok: number; failed: number }> }>
  openConnections: number
  /**
   * Requests forwarded and not yet settled (answered, failed or aborted). Count once this is 0:
   * then, per revision and in both modes, requests = Σresponses + Σfailures + aborted, except the
   * requests outstanding when a connection went to pass-through (see `passthrough`), which stay
   * unsettled (the report's `unaccounted`).
   */
  inFlight: number
}

/** Why a request counted as dropped: the router's failure causes, a non-2xx answer, or the client giving up. */
export type FailureRecordCause = 'lost' | 'reset' | 'refused' | 'timeout' | 'non-2xx' | 'aborted'

/** One dropped request (or, l4 `refused`, one connection that never carried a request), where and when. */
export interface FailureRecord {
  /** ms since the epoch */
  readonly t: number
  readonly cause: FailureRecordCause
  /** `(none)` for an empty pool */
  readonly revision: string
  /** the endpoint's id; undefined for an empty pool */
  readonly instance: string | undefined
  /** non-2xx: the status the instance answered */
  readonly status?: number
  /** l4: several requests outstanding on one connection fail together; one record carries their count */
  readonly count?: number
  /** a refused connection that never carried a request (the accounting's `refusedConnections`) */
  readonly connection?: true
}

export interface FailureLog {
  /** the first `FAILURE_RECORDS_CAP` failures since the last reset, in order */
  readonly records: readonly FailureRecord[]
  /** failures after the cap, counted but not recorded */
  readonly omitted: number
}

export interface Router {
  readonly port: number
  readonly mode: RouterMode
  /** Into the pool now (the fleet calls it when an instance turns ready). Re-adding an id replaces it. */
  add(endpoint: Endpoint): void
  /** Out of the pool now for new traffic; existing l4 connections stay pinned until either side closes. */
  remove(id: string): void
  endpoints(): Endpoint[]
  /**
   * Per revision, e.g. `{v1: 95, v2: 5}`. l7: exact share of requests; l4: share of new connections.
   * Revisions without a weight get no traffic. `null` = plain round robin over all endpoints.
   */
  setWeights(weights: Record<string, number> | null): void
  stats(): RouterStats
  /** every failure since the last `resetStats()`, up to a cap, with its time, cause, revision and instance */
  failureLog(): FailureLog
  /** The revision's requests forwarded more than ms ago and not settled yet (l4 and l7). */
  inFlightOlderThan(revision: string, ms: number): number
  resetStats(): void
  /** Stop listening, end client connections gracefully, destroy what is left after `closeTimeoutMs`. */
  close(): Promise<void>
}

/** What each mode implements. */
export interface RouterEngine {
  listen(): Promise<number>
  /** an endpoint left the pool */
  removed(endpoint: Endpoint): void
  close(): Promise<void>
}

/**
 * An upstream reset this soon after a complete 2xx response, with nothing sent by the client
 * since, cost the client that response unless it had already read it: a reset passed on (as
 * kube-proxy's NAT does) makes the client's kernel discard the bytes the client has not read.
 * The router cannot see what the client read, so such a response is counted lost, not ok
 * (docs/architecture.md, "Counting a drop"). A client that sent its next request had read it.
 * l4 counts such a response lost; l7, which read it in full, delivers it and ends the client
 * connection cleanly. Shared by both engines.
 */
export const RESET_AFTER_RESPONSE_MS = 1000
