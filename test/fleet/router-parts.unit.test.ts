import { describe, expect, it } from 'vitest'
import { EndpointPool } from '#fleet/router/pool.js'
import { StatsRecorder } from '#fleet/router/stats.js'
import { RouterError } from '#fleet/core/errors.js'

// The router's two pure parts, directly: the pool's balancing and the stats recorder's counts.

const ep = (id: string, revision: string, port: number) => ({ id, revision, host: '127.0.0.1', port })

function shares(pool: EndpointPool, picks: number): Record<string, number> {
  const n: Record<string, number> = {}
  for (let i = 0; i < picks; i++) {
    const e = pool.pick()
    const k = e === undefined ? '(none)' : e.id
    n[k] = (n[k] ?? 0) + 1
  }
  return n
}

describe('EndpointPool', () => {
  it('round robin over every endpoint without weights, in the order they were added', () => {
    const pool = new EndpointPool()
    pool.add(ep('a', 'v1', 1001))
    pool.add(ep('b', 'v1', 1002))
    pool.add(ep('c', 'v2', 1003))
    expect(Array.from({ length: 6 }, () => pool.pick()?.id)).toEqual(['a', 'b', 'c', 'a', 'b', 'c'])
  })

  it('weights split exactly over every cycle (smooth weighted round robin), then round robin inside a revision', () => {
    const pool = new EndpointPool()
    pool.add(ep('a1', 'v1', 1001))
    pool.add(ep('a2', 'v1', 1002))
    pool.add(ep('b1', 'v2', 1003))
    pool.setWeights({ v1: 95, v2: 5 })
    for (let cycle = 0; cycle < 3; cycle++) {
      const s = shares(pool, 20)
      expect(s.b1, `cycle ${cycle}: 5 % of 20 picks`).toBe(1)
      expect((s.a1 ?? 0) + (s.a2 ?? 0)).toBe(19)
    }
    const s = shares(pool, 200)
    expect(Math.abs((s.a1 ?? 0) - (s.a2 ?? 0))).toBeLessThanOrEqual(1)
  })

  it('a 1 % weight gets exactly one pick in a hundred, spread evenly, never as a burst', () => {
    const pool = new EndpointPool()
    pool.add(ep('s', 'stable', 1001))
    pool.add(ep('c', 'canary', 1002))
    pool.setWeights({ stable: 99, canary: 1 })
    const picks = Array.from({ length: 300 }, () => pool.pick()?.id)
    const at = picks.flatMap((id, i) => (id === 'c' ? [i] : []))
    expect(at.length).toBe(3)
    expect(at[1]! - at[0]!).toBe(100)
  })

  it('a revision missing from the weights, at weight 0, or without endpoints gets nothing; none left is an empty pick', () => {
    const pool = new EndpointPool()
    pool.add(ep('a', 'v1', 1001))
    pool.add(ep('b', 'v2', 1002))
    pool.setWeights({ v1: 0, v3: 50 })
    expect(pool.pick()).toBeUndefined()
    pool.setWeights({ v1: 1 })
    expect(shares(pool, 10)).toEqual({ a: 10 })
    pool.remove('a')
    expect(pool.pick()).toBeUndefined()
    pool.setWeights(null)
    expect(shares(pool, 4)).toEqual({ b: 4 })
  })

  it('re-adding an id replaces the endpoint; bad endpoints and weights are refused with the value received', () => {
    const pool = new EndpointPool()
    pool.add(ep('a', 'v1', 1001))
    pool.add(ep('a', 'v2', 1005))
    expect(pool.list()).toEqual([ep('a', 'v2', 1005)])
    expect(() => pool.add({ ...ep('x', 'v1', 1), host: '10.0.0.1' })).toThrow(/loopback.*'10\.0\.0\.1'/)
    expect(() => pool.add(ep('x', 'v1', 70000))).toThrow(RouterError)
    expect(() => pool.setWeights({ v1: -1 })).toThrow(/'v1'.*>= 0.*-1/)
  })
})

describe('StatsRecorder', () => {
  it('counts per revision and in total, by status class and failure cause', () => {
    const s = new StatsRecorder()
    s.connection('v1')
    for (let i = 0; i < 5; i++) s.request('v1')
    s.response('v1', 200)
    s.response('v1', 204)
    s.response('v1', 503)
    s.failure('v1', 'lost')
    s.failure('v1', 'timeout')
    s.request('v2')
    s.response('v2', 301)
    s.noEndpoint('request')
    s.noEndpoint('connection')
    const snap = s.snapshot()
    expect(snap.byRevision.v1).toMatchObject({ connections: 1, requests: 5, failures: { lost: 1, timeout: 1, reset: 0, refused: 0 } })
    expect(snap.byRevision.v1!.responses['2xx']).toBe(2)
    expect(snap.byRevision.v1!.responses['5xx']).toBe(1)
    expect(snap.byRevision.v2!.responses['3xx']).toBe(1)
    // an l7 request that found an empty pool is a request (refused); an l4 connection is a refused connection
    expect(snap.total.requests).toBe(7)
    expect(snap.total.noEndpoint).toEqual({ requests: 1, connections: 1 })
    expect(snap.total.failures.refused, 'an empty pool is a refusal the client saw').toBe(1)
    expect(snap.total.refusedConnections).toBe(1)
    const sec = snap.perSecond.reduce((n, b) => n + (b.byRevision.v1?.requests ?? 0), 0)
    expect(sec).toBe(5)
  })

  it('snapshots are copies, and reset() clears the counts but not what is live', () => {
    const s = new StatsRecorder()
    s.request('v1')
    const before = s.snapshot()
    s.request('v1')
    expect(before.byRevision.v1!.requests).toBe(1)
    s.inFlight = 3
    s.reset()
    expect(s.snapshot().total.requests).toBe(0)
    expect(s.snapshot().inFlight).toBe(3)
  })
})
