import type { LoadResult } from '../load/load.js'
import type { RevisionStats, RouterStats } from '../router/router.js'

/**
 * Two ledgers that never mix. Requests: `ok + non2xx + lost + reset + refused + timeout + aborted
 * + unaccounted = requests`, always. Connections: `refusedConnections` never carried a request
 * (an l4 upstream connect failed, or an l4 connection found an empty pool), so they are not in
 * `requests`; they are drops all the same.
 */
export interface RevisionAccount {
  readonly connections: number
  /** connections that never carried a request: refused by the instance, or no endpoint (l4) */
  readonly refusedConnections: number
  readonly requests: number
  readonly ok: number
  /** 1xx, 3xx, 4xx and 5xx answers */
  readonly non2xx: number
  readonly status: Readonly<Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', number>>
  readonly lost: number
  readonly reset: number
  /** requests the instance refused (l7: a router-made 502), or that found no endpoint (l7: 503) */
  readonly refused: number
  readonly timeout: number
  /**
   * requests outstanding when the client itself closed its connection. The fleet's clients only
   * do that when their own timeout fires (the stop is graceful), so these are drops too.
   */
  readonly aborted: number
  /** requests the router counted but never settled as a response, a failure or a client abort */
  readonly unaccounted: number
  /** l4 responses that arrived with no request outstanding (settle nothing; not in `ok`/`non2xx`) */
  readonly unsolicited: number
  /** every request not answered 2xx, plus every refused connection */
  readonly dropped: number
}

export interface Accounting extends RevisionAccount {
  /** what found an empty router pool: requests (l7, among `refused`) and connections (l4, among `refusedConnections`) */
  readonly noEndpoint: { readonly requests: number; readonly connections: number }
  readonly byRevision: Readonly<Record<string, RevisionAccount>>
  /** the load side, which sees every request it sends settle: the main load's generator and the exact clients */
  readonly crossCheck: {
    readonly exactSent: number
    readonly exactDropped: number
    readonly generatorSent: number
    readonly generatorDropped: number
    /** the router saw at least as many requests and drops as the load side sent and saw */
    readonly consistent: boolean
    readonly note: string
  } | undefined
}

/** The requests' ledger settles requests only: `unaccounted` is what is left of them, never offset by connections. */
export function account(s: RevisionStats): RevisionAccount {
  const r = s.responses
  const f = s.failures
  const non2xx = r['1xx'] + r['3xx'] + r['4xx'] + r['5xx']
  const settled = r['2xx'] + non2xx + f.lost + f.reset + f.refused + f.timeout + s.aborted
  // every settlement is of a counted request (unsolicited responses are apart), so this is ≥ 0
  // unless the router double-settled one — then the identity below is broken and the report says so
  const unaccounted = Math.max(0, s.requests - settled)
  return {
    connections: s.connections,
    refusedConnections: s.refusedConnections,
    requests: s.requests,
    ok: r['2xx'],
    non2xx,
    status: { ...r },
    lost: f.lost,
    reset: f.reset,
    refused: f.refused,
    timeout: f.timeout,
    aborted: s.aborted,
    unaccounted,
    unsolicited: s.unsolicited,
    dropped: non2xx + f.lost + f.reset + f.refused + f.timeout + s.aborted + unaccounted + s.refusedConnections,
  }
}

/** `ok + non2xx + lost + reset + refused + timeout + aborted + unaccounted − requests`: 0 when the ledger adds up. */
export function ledgerGap(a: RevisionAccount): number {
  return a.ok + a.non2xx + a.lost + a.reset + a.refused + a.timeout + a.aborted + a.unaccounted - a.requests
}

/**
 * docs/architecture.md, "Counting a drop": dropped = lost + reset + refused + timeouts +
 * non-2xx answers, counted per request by the router (which never retries; requests that found no
 * endpoint are among its `refused`), plus any the router counted but never settled, plus refused
 * connections. The load side cross-checks it — the main load's generator and the exact clients
 * each settle every request they send: everything they sent and every drop they saw must be among
 * the router's; if not, the larger count is reported.
 */
export function reckon(stats: RouterStats, load: LoadResult): Accounting {
  const total = account(stats.total)
  const byRevision: Record<string, RevisionAccount> = {}
  for (const [rev, s] of Object.entries(stats.byRevision)) byRevision[rev] = account(s)
  const g = load.generator
  const generatorDropped = g.non2xx + g.lost + g.reset + g.refused + g.timeout
  const e = load.exact
  const exactSent = e?.sent ?? 0
  const exactDropped = e === undefined ? 0 : e.non2xx + e.lost + e.refused + e.timeout
  const loadSent = g.sent + exactSent
  const loadDropped = generatorDropped + exactDropped
  // a connection the router refused (l4) carried the one request the load sent on it
  const consistent = total.dropped >= loadDropped && total.requests + total.refusedConnections >= loadSent
  const crossCheck: Accounting['crossCheck'] = {
    exactSent,
    exactDropped,
    generatorSent: g.sent,
    generatorDropped,
    consistent,
    note: consistent
      ? `the router's count covers the load's ${loadSent} requests and ${loadDropped} drops (generator ${g.sent} and ${generatorDropped}, exact clients ${exactSent} and ${exactDropped})`
      : `the load saw ${loadDropped} drops in ${loadSent} requests (generator ${generatorDropped} in ${g.sent}, exact clients ${exactDropped} in ${exactSent}) but the router counted ${total.dropped} drops in ${total.requests} requests: the router missed some; reporting the larger count`,
  }
  const dropped = consistent ? total.dropped : Math.max(total.dropped, loadDropped)
  return { ...total, dropped, noEndpoint: { ...stats.total.noEndpoint }, byRevision, crossCheck }
}
