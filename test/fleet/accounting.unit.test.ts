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
    const load = { exact: undefined } as unknown as LoadResult
    const a = reckon(s, load)
    expect(a.ok + a.non2xx + a.lost + a.reset + a.refused + a.timeout + a.aborted + a.unaccounted).toBe(a.requests)
    expect(a.requests).toBe(12)
    expect(a.noEndpoint).toEqual({ requests: 1, connections: 2 })
    expect(a.dropped).toBe(3 + 2)
  })
})
