import { describe, expect, it } from 'vitest'
import { account, ledgerGap, reckon } from '#fleet/report/accounting.js'
import { emptyRevisionStats } from '#fleet/router/stats.js'
import type { RevisionStats, RouterStats } from '#fleet/router/types.js'
import type { LoadResult } from '#fleet/load/load.js'

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

  it('a drop the generator saw and the router missed makes it inconsistent, and the larger count is reported', () => {
    const a = reckon(routerSaw({ requests: 100, ok: 100 }), loadSaw({ sent: 100, ok: 96, reset: 3, timeout: 1 }))
    expect(a.crossCheck?.consistent).toBe(false)
    expect(a.crossCheck?.note).toMatch(/the load saw 4 drops in 100 requests \(generator 4 in 100, exact clients 0 in 0\) but the router counted 0 drops/)
    expect(a.dropped).toBe(4)
  })
})
