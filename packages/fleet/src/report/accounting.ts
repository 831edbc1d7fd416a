import type { LoadResult } from '../load/load.js'
import type { RevisionStats, RouterStats } from '../router/router.js'

/**
 * Three ledgers that never mix. Requests: `ok + non2xx + lost + reset + refused + timeout + aborted
 * + unaccounted = requests`, always. Connections: `refusedConnections` never carried a request
 * (an l4 upstream connect failed, or an l4 connection found an empty pool), so they are not in
 * `requests`; they are drops all the same. Tunnels: an upgraded connection's request is counted
 * (its `101` with 2xx), then its tunnel; one the upstream resets while the client still has it open
 * is a drop (`brokenTunnels`).
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
  /** upgraded connections (a `101`): the tunnel ledger, apart from requests and connections */
  readonly tunnels: number
  /** tunnels the upstream reset while the client still had them open: drops of the tunnel ledger */
  readonly brokenTunnels: number
  /** every request not answered 2xx, plus every refused connection, plus every broken tunnel */
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
    /** the router saw at least as many requests as the load side sent, and every drop the load saw matches one of the router's (per category) */
    readonly consistent: boolean
    readonly note: string
    /** the load side's failures by category (generator and exact clients together), and the router's */
    readonly byCategory?: {
      readonly load: Readonly<Record<LoadCategory, number>>
      readonly router: Readonly<Record<RouterCategory, number>>
      /** load failures no router failure of a category that produces them can account for (added to `dropped`) */
      readonly unmatched: number
      /** the load categories short of router failures, when `unmatched` > 0 */
      readonly short: readonly LoadCategory[]
    }
  } | undefined
}

export const LOAD_CATEGORIES = ['non2xx', 'lost', 'reset', 'refused', 'timeout'] as const
export type LoadCategory = (typeof LOAD_CATEGORIES)[number]
export const ROUTER_CATEGORIES = ['non2xx', 'lost', 'reset', 'refused', 'timeout', 'aborted', 'unaccounted', 'refusedConnections'] as const
export type RouterCategory = (typeof ROUTER_CATEGORIES)[number]

/**
 * Which router failures a failure the load side saw can come from (docs/architecture.md,
 * "Counting a drop"). l4 passes bytes through: an upstream reset or hang-up reaches the client as
 * one (a lost, reset or refused request: which one depends on the client's socket, reused or
 * not, so the three share their sources), and the only non-2xx it makes is a 504 on a timeout. l7 answers for the upstream: a refused, reset, lost or
 * timed-out upstream request is a 502/503/504 to the client (or, after the headers, a cut
 * body). The client's timeout is the router's `aborted` (the client closed under it). What the
 * router never settled (`unaccounted`) may be anything.
 */
export function producers(mode: 'l4' | 'l7' | undefined): Readonly<Record<LoadCategory, readonly RouterCategory[]>> {
  const cut: RouterCategory[] = ['lost', 'reset', 'refused', 'timeout', 'refusedConnections', 'unaccounted']
  return {
    // l4 answers one thing itself: a 504 on a request whose upstream timed out
    non2xx: mode === 'l4' ? ['non2xx', 'timeout', 'unaccounted'] : ['non2xx', 'refused', 'reset', 'lost', 'timeout', 'unaccounted'],
    lost: cut,
    reset: cut,
    refused: cut,
    timeout: ['timeout', 'aborted', 'unaccounted'],
  }
}

/**
 * The load failures that cannot be matched one to one with router failures of a category that
 * produces them: by Hall's theorem, the largest deficiency over sets of load categories
 * (Σ load in the set − Σ router failures that can produce any of them). 0: they all match.
 */
export function unmatchedFailures(load: Readonly<Record<LoadCategory, number>>, router: Readonly<Record<RouterCategory, number>>, mode: 'l4' | 'l7' | undefined): { unmatched: number; short: LoadCategory[] } {
  const from = producers(mode)
  let best = { unmatched: 0, short: [] as LoadCategory[] }
  for (let mask = 1; mask < 1 << LOAD_CATEGORIES.length; mask++) {
    const set = LOAD_CATEGORIES.filter((_, i) => (mask >> i) & 1)
    const sources = new Set(set.flatMap((c) => from[c]))
    const deficiency = set.reduce((n, c) => n + load[c], 0) - [...sources].reduce((n, r) => n + router[r], 0)
    if (deficiency > best.unmatched) best = { unmatched: deficiency, short: set.filter((c) => load[c] > 0) }
  }
  return best
}

const CATEGORY_NAMES: Readonly<Record<LoadCategory | RouterCategory, string>> = {
  non2xx: 'non-2xx',
  lost: 'lost',
  reset: 'reset',
  refused: 'refused',
  timeout: 'timeout',
  aborted: 'aborted',
  unaccounted: 'unaccounted',
  refusedConnections: 'refused connections',
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
    // reports written before the tunnel ledger have no such fields
    tunnels: s.tunnels ?? 0,
    brokenTunnels: s.brokenTunnels ?? 0,
    dropped: non2xx + f.lost + f.reset + f.refused + f.timeout + s.aborted + unaccounted + s.refusedConnections + (s.brokenTunnels ?? 0),
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
 * each settle every request they send: everything they sent must be among the router's requests,
 * and every drop they saw must match one of the router's of a category that produces it
 * (`producers`); the load's drops that match none are added to the router's.
 */
export function reckon(stats: RouterStats, load: LoadResult, mode?: 'l4' | 'l7'): Accounting {
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
  // per category: the exact clients fold a reset into lost
  const loadBy: Record<LoadCategory, number> = {
    non2xx: g.non2xx + (e?.non2xx ?? 0),
    lost: g.lost + (e?.lost ?? 0),
    reset: g.reset,
    refused: g.refused + (e?.refused ?? 0),
    timeout: g.timeout + (e?.timeout ?? 0),
  }
  const routerBy: Record<RouterCategory, number> = {
    non2xx: total.non2xx,
    lost: total.lost,
    reset: total.reset,
    refused: total.refused,
    timeout: total.timeout,
    aborted: total.aborted,
    unaccounted: total.unaccounted,
    refusedConnections: total.refusedConnections,
  }
  const { unmatched, short } = unmatchedFailures(loadBy, routerBy, mode)
  // A connection the router refused (l4) carried the one request the load sent on it. A request
  // sent on a reused connection just as the router reset it (l4 passes an upstream reset on) may
  // never have been read by the router: its kernel answers it with the reset. The load counts
  // those as resets on reused connections, so the router may be short of the load by that many
  // and no more; each is still a drop, matched above like any other.
  const unread = g.reset + (e?.reset ?? 0)
  const sentCovered = total.requests + total.refusedConnections + unread >= loadSent
  const consistent = unmatched === 0 && sentCovered
  const categories = `per category, load ${LOAD_CATEGORIES.map((c) => `${CATEGORY_NAMES[c]} ${loadBy[c]}`).join(', ')}; router ${ROUTER_CATEGORIES.map((c) => `${CATEGORY_NAMES[c]} ${routerBy[c]}`).join(', ')}`
  const totals = `the load saw ${loadDropped} drops in ${loadSent} requests (generator ${generatorDropped} in ${g.sent}, exact clients ${exactDropped} in ${exactSent})`
  const crossCheck: Accounting['crossCheck'] = {
    exactSent,
    exactDropped,
    generatorSent: g.sent,
    generatorDropped,
    consistent,
    note: consistent
      ? `the router's count covers the load's ${loadSent} requests and ${loadDropped} drops (generator ${g.sent} and ${generatorDropped}, exact clients ${exactSent} and ${exactDropped}), each drop matched to a router failure that produces it (${categories})`
      : unmatched > 0
        ? `${totals} but the router counted ${total.dropped} drops in ${total.requests} requests, and ${unmatched} of the load's ${short.map((c) => CATEGORY_NAMES[c]).join(' / ')} match no router failure that produces one${mode === undefined ? '' : ` on ${mode}`} (${categories}): the router missed some; adding them to the drops`
        : `${totals} but the router counted only ${total.requests} requests and ${total.refusedConnections} refused connections: the router missed some requests`,
    byCategory: { load: loadBy, router: routerBy, unmatched, short },
  }
  const dropped = total.dropped + unmatched
  return { ...total, dropped, noEndpoint: { ...stats.total.noEndpoint }, byRevision, crossCheck }
}
