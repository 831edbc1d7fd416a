import type { LoadResult } from '../load/load.js'
import type { RevisionStats, RouterStats } from '../router/router.js'

export interface RevisionAccount {
  readonly connections: number
  readonly requests: number
  readonly ok: number
  /** 1xx, 3xx, 4xx and 5xx answers */
  readonly non2xx: number
  readonly status: Readonly<Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', number>>
  readonly lost: number
  readonly reset: number
  readonly refused: number
  readonly timeout: number
  /**
   * requests outstanding when the client itself closed its connection. The fleet's clients only
   * do that when their own timeout fires (the stop is graceful), so these are drops too.
   */
  readonly aborted: number
  /** requests the router counted but never settled as a response, a failure or a client abort */
  readonly unaccounted: number
  readonly dropped: number
}

export interface Accounting extends RevisionAccount {
  /** requests that found no endpoint in the router's pool */
  readonly noEndpoint: number
  readonly byRevision: Readonly<Record<string, RevisionAccount>>
  /** the load side's exact clients, which see every request they send settle */
  readonly crossCheck: {
    readonly exactSent: number
    readonly exactDropped: number
    /** the router saw at least as many requests and drops as the exact clients alone */
    readonly consistent: boolean
    readonly note: string
  } | undefined
}

/**
 * `noEndpoint` (total only): the router counts those in `failures.refused` but not in `requests`,
 * so they are added to what was sent.
 */
function account(s: RevisionStats, noEndpoint = 0): RevisionAccount {
  const r = s.responses
  const f = s.failures
  const non2xx = r['1xx'] + r['3xx'] + r['4xx'] + r['5xx']
  const requests = s.requests + noEndpoint
  const settled = r['2xx'] + non2xx + f.lost + f.reset + f.refused + f.timeout + s.aborted
  const unaccounted = Math.max(0, requests - settled)
  return {
    connections: s.connections,
    requests,
    ok: r['2xx'],
    non2xx,
    status: { ...r },
    lost: f.lost,
    reset: f.reset,
    refused: f.refused,
    timeout: f.timeout,
    aborted: s.aborted,
    unaccounted,
    dropped: non2xx + f.lost + f.reset + f.refused + f.timeout + s.aborted + unaccounted,
  }
}

/**
 * DESIGN.md "Honesty rules": dropped = lost + reset + refused + timeouts + non-2xx answers, counted
 * per request by the router (which never retries; requests that found no endpoint are among its
 * `refused`), plus any the router counted but never settled. The exact clients on the load side cross-check it: every
 * drop they saw must be among the router's; if not, the larger count is reported.
 */
export function reckon(stats: RouterStats, load: LoadResult): Accounting {
  const total = account(stats.total, stats.total.noEndpoint)
  const byRevision: Record<string, RevisionAccount> = {}
  for (const [rev, s] of Object.entries(stats.byRevision)) byRevision[rev] = account(s)
  let crossCheck: Accounting['crossCheck']
  let dropped = total.dropped
  if (load.exact !== undefined) {
    const e = load.exact
    const exactDropped = e.non2xx + e.lost + e.refused + e.timeout
    const consistent = total.dropped >= exactDropped && total.requests >= e.sent
    crossCheck = {
      exactSent: e.sent,
      exactDropped,
      consistent,
      note: consistent
        ? `the router's count covers the exact clients' ${e.sent} requests and ${exactDropped} drops`
        : `the exact clients saw ${exactDropped} drops in ${e.sent} requests but the router counted ${total.dropped} drops in ${total.requests} requests: the router missed some; reporting the larger count`,
    }
    if (!consistent) dropped = Math.max(dropped, exactDropped)
  }
  return { ...total, dropped, noEndpoint: stats.total.noEndpoint, byRevision, crossCheck }
}
