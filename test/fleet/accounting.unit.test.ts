import { describe, expect, it } from 'vitest'
import { account, ledgerGap, reckon, unmatchedFailures } from '#fleet/report/accounting.js'
import { emptyRevisionStats } from '#fleet/router/stats.js'
import type { RevisionStats, RouterStats } from '#fleet/router/types.js'
import type { LoadResult } from '#fleet/load/load.js'
import fs from 'node:fs'
import { formatReport, type Report } from '#fleet/report/report.js'

function stats(p: Partial<Omit<RevisionStats, 'responses' | 'failures'>> & { ok?: number; '5xx'?: number; failures?: Partial<RevisionStats['failures']> }): RevisionStats {
  const s = emptyRevisionStats()
  return {
    ...s,
    ...p,
    responses: { ...s.responses, '2xx': p.ok ?? 0, '5xx': p['5xx'] ?? 0 },
    failures: { ...s.failures, ...p.failures },
  }
}

/** what the load side saw: the generator's counts (the rest zero) and, optionally, the exact clients' */
function loadSaw(g: Partial<LoadResult['generator']> = {}, exact?: Partial<NonNullable<LoadResult['exact']>>): LoadResult {
  const zero = { sent: 0, ok: 0, non2xx: 0, lost: 0, reset: 0, refused: 0, timeout: 0 }
  return {
    generator: { connections: 1, targetRate: 1, burst: 1, reconnectRate: 0, ...zero, connectionsOpened: 0, connectionClose: 0, latencyMs: { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 }, durationS: 0, failures: [], ...g },
    exact: exact === undefined ? undefined : { clients: 1, ...zero, byVersion: {}, failures: [], ...exact },
  } as unknown as LoadResult
}

describe('the two ledgers', () => {
  it('refused connections never offset unaccounted requests, and count as drops', () => {
    // 10 requests, 6 answered, 4 never settled; 5 connections refused before they carried a request
    const a = account(stats({ connections: 8, requests: 10, ok: 6, refusedConnections: 5 }))
    expect(a.unaccounted).toBe(4)
    expect(ledgerGap(a)).toBe(0)
    expect(a.refusedConnections).toBe(5)
    expect(a.dropped).toBe(4 + 5)
  })

  it('unsolicited responses settle nothing: they do not hide an unsettled request', () => {
    const a = account(stats({ requests: 3, ok: 2, unsolicited: 1 }))
    expect(a.unaccounted).toBe(1)
    expect(a.dropped).toBe(1)
    expect(ledgerGap(a)).toBe(0)
  })

  it('the identity holds in total with requests that found no endpoint (l7) and connections that found none (l4)', () => {
    const total = { ...stats({ connections: 4, requests: 12, ok: 9, refusedConnections: 2, failures: { refused: 3 } }), noEndpoint: { requests: 1, connections: 2 } }
    const s: RouterStats = { total, byRevision: {}, perSecond: [], openConnections: 0, inFlight: 0 }
    const a = reckon(s, loadSaw())
    expect(a.ok + a.non2xx + a.lost + a.reset + a.refused + a.timeout + a.aborted + a.unaccounted).toBe(a.requests)
    expect(a.requests).toBe(12)
    expect(a.noEndpoint).toEqual({ requests: 1, connections: 2 })
    expect(a.dropped).toBe(3 + 2)
  })
})

describe('the load side cross-checks the router', () => {
  const routerSaw = (p: Parameters<typeof stats>[0]): RouterStats =>
    ({ total: { ...stats(p), noEndpoint: { requests: 0, connections: p.refusedConnections ?? 0 } }, byRevision: {}, perSecond: [], openConnections: 0, inFlight: 0 })

  it('consistent when the router counted everything the generator and the exact clients sent and saw fail', () => {
    // 2 of the generator's requests went on l4 connections the router refused: requests it never counted as such
    const a = reckon(routerSaw({ requests: 98, ok: 97, failures: { lost: 1 }, refusedConnections: 2 }), loadSaw({ sent: 90, ok: 87, lost: 1, refused: 2 }, { sent: 10, ok: 10 }))
    expect(a.crossCheck).toMatchObject({ generatorSent: 90, generatorDropped: 3, exactSent: 10, exactDropped: 0, consistent: true })
    expect(a.dropped).toBe(3)
  })

  it('the router may be short of the load by the requests the load saw reset on reused connections, and no more (l4 passing a reset on)', () => {
    // 3 requests written on connections as the router reset them: the load counts them reset, the router never read them
    const short = reckon(routerSaw({ requests: 97, ok: 94, failures: { lost: 3 } }), loadSaw({ sent: 90, ok: 87, reset: 2 }, { sent: 10, ok: 9, lost: 1, reset: 1 }), 'l4')
    expect(short.crossCheck?.consistent, short.crossCheck?.note).toBe(true)
    expect(short.dropped).toBe(3)
    // one more missing request than the load's resets explain: inconsistent
    const more = reckon(routerSaw({ requests: 96, ok: 93, failures: { lost: 3 } }), loadSaw({ sent: 90, ok: 87, reset: 2 }, { sent: 10, ok: 9, lost: 1, reset: 1 }), 'l4')
    expect(more.crossCheck?.consistent).toBe(false)
    expect(more.crossCheck?.note).toMatch(/the router missed some requests/)
  })

  it('a drop the generator saw and the router missed makes it inconsistent, and the larger count is reported', () => {
    const a = reckon(routerSaw({ requests: 100, ok: 100 }), loadSaw({ sent: 100, ok: 96, reset: 3, timeout: 1 }))
    expect(a.crossCheck?.consistent).toBe(false)
    expect(a.crossCheck?.note).toMatch(/the load saw 4 drops in 100 requests \(generator 4 in 100, exact clients 0 in 0\) but the router counted 0 drops/)
    expect(a.dropped).toBe(4)
  })

  it('per category, not only totals: a reset the router never saw does not cancel against a 5xx the client never saw (l4), and the unmatched one is added to the drops', () => {
    const router = routerSaw({ requests: 100, ok: 99, '5xx': 1 })
    const load = loadSaw({ sent: 100, ok: 99, reset: 1 })
    const a = reckon(router, load, 'l4')
    // the totals agree: 1 drop on each side
    expect(a.crossCheck).toMatchObject({ generatorDropped: 1, consistent: false, byCategory: { unmatched: 1, short: ['reset'] } })
    expect(a.crossCheck?.note).toMatch(/1 of the load's reset match no router failure that produces one on l4 \(per category, load non-2xx 0, lost 0, reset 1, refused 0, timeout 0; router non-2xx 1, lost 0, reset 0, refused 0, timeout 0, aborted 0, unaccounted 0, refused connections 0\)/)
    expect(a.dropped).toBe(2)
    // the control: the same reset counted by the router as one (forwarded on l4) matches
    const b = reckon(routerSaw({ requests: 100, ok: 98, '5xx': 1, failures: { reset: 1 } }), loadSaw({ sent: 100, ok: 98, non2xx: 1, reset: 1 }), 'l4')
    expect(b.crossCheck?.consistent).toBe(true)
    expect(b.crossCheck?.note).toMatch(/each drop matched to a router failure that produces it \(per category, load non-2xx 1, lost 0, reset 1/)
    expect(b.dropped).toBe(2)
  })

  it('the categories map per router: an upstream reset is a 502 to the client on l7, a reset on l4', () => {
    const router = routerSaw({ requests: 50, ok: 47, failures: { reset: 2, lost: 1 } })
    const load = loadSaw({ sent: 50, ok: 47, non2xx: 3 })
    expect(reckon(router, load, 'l7').crossCheck).toMatchObject({ consistent: true, byCategory: { unmatched: 0 } })
    expect(reckon(router, load, 'l4').crossCheck).toMatchObject({ consistent: false, byCategory: { unmatched: 3, short: ['non2xx'] } })
    // the client's own timeout is the router's `aborted` (the client closed under it)
    const gaveUp = reckon(routerSaw({ requests: 10, ok: 8, aborted: 2 }), loadSaw({ sent: 10, ok: 8, timeout: 2 }), 'l4')
    expect(gaveUp.crossCheck?.consistent).toBe(true)
    expect(gaveUp.dropped).toBe(2)
  })

  it("a caught bad canary's non-2xx are matched on both sides, so they never come back as unmatched drops (its blast radius is subtracted once, by the report)", () => {
    const total = { ...stats({ requests: 300, ok: 289, '5xx': 11 }), noEndpoint: { requests: 0, connections: 0 } }
    const router: RouterStats = { total, byRevision: { v1: stats({ requests: 250, ok: 250 }), v2: stats({ requests: 50, ok: 39, '5xx': 11 }) }, perSecond: [], openConnections: 0, inFlight: 0 }
    const a = reckon(router, loadSaw({ sent: 280, ok: 271, non2xx: 9 }, { sent: 20, ok: 18, non2xx: 2 }), 'l7')
    expect(a.crossCheck).toMatchObject({ consistent: true, byCategory: { unmatched: 0, load: { non2xx: 11 } } })
    expect(a.dropped).toBe(11)
  })

  it('Hall: the deficiency is over sets of categories, so one router failure never explains two load failures', () => {
    const zero = { non2xx: 0, lost: 0, reset: 0, refused: 0, timeout: 0 }
    const routerZero = { ...zero, aborted: 0, unaccounted: 0, refusedConnections: 0 }
    // one unaccounted request can stand for a non-2xx or a timeout, not both
    expect(unmatchedFailures({ ...zero, non2xx: 1, timeout: 1 }, { ...routerZero, unaccounted: 1 }, 'l4')).toEqual({ unmatched: 1, short: ['non2xx', 'timeout'] })
    expect(unmatchedFailures({ ...zero, lost: 2, refused: 1 }, { ...routerZero, reset: 1, refusedConnections: 2 }, 'l4')).toEqual({ unmatched: 0, short: [] })
  })
})

describe('the tunnel ledger', () => {
  it('a tunnel the upstream reset under an open client is a drop, in its own ledger line; requests and connections are untouched', () => {
    const a = account(stats({ requests: 3, ok: 3, tunnels: 2, brokenTunnels: 1, passthrough: 2 }))
    expect(a).toMatchObject({ requests: 3, ok: 3, tunnels: 2, brokenTunnels: 1, unaccounted: 0, dropped: 1 })
    expect(ledgerGap(a)).toBe(0)
    const clean = JSON.parse(fs.readFileSync(new URL('fixtures/report-clean-rolling.json', import.meta.url), 'utf8')) as Report
    const v1 = { ...clean.accounting.byRevision.v1!, tunnels: 2, brokenTunnels: 1 }
    const r: Report = { ...clean, accounting: { ...clean.accounting, tunnels: 2, brokenTunnels: 1, byRevision: { ...clean.accounting.byRevision, v1 } } }
    expect(formatReport(r)).toContain('tunnels   2 upgraded (101) connections, 1 reset by the upstream while the client still had them open (counted as drops: v1 1)')
    // a report without tunnels has no such line
    expect(formatReport(clean)).not.toMatch(/^tunnels /m)
  })
})
