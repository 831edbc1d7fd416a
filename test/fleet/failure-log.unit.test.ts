import { describe, expect, it } from 'vitest'
import { FAILURE_RECORDS_CAP, NO_ENDPOINT_BUCKET, StatsRecorder } from '#fleet/router/stats.js'

describe('router failure records', () => {
  it('records each failure with its time, cause, revision and instance; 2xx answers are not failures', () => {
    const s = new StatsRecorder()
    const before = Date.now()
    s.request('v1')
    s.response('v1', 200, 'v1-0')
    s.request('v1')
    s.response('v1', 503, 'v1-0')
    s.failure('v1', 'lost', 3, 'v1-1')
    s.failure('v2', 'reset', 1, 'v2-0')
    s.refusedConnection('v1', 'v1-2')
    s.noEndpoint('request')
    s.aborted('v2', 1, 'v2-0')
    const log = s.failureLog()
    expect(log.omitted).toBe(0)
    expect(log.records.map(({ t: _t, ...rest }) => rest)).toEqual([
      { cause: 'non-2xx', revision: 'v1', instance: 'v1-0', status: 503 },
      { cause: 'lost', revision: 'v1', instance: 'v1-1', count: 3 },
      { cause: 'reset', revision: 'v2', instance: 'v2-0' },
      { cause: 'refused', revision: 'v1', instance: 'v1-2', connection: true },
      { cause: 'refused', revision: NO_ENDPOINT_BUCKET, instance: undefined },
      { cause: 'aborted', revision: 'v2', instance: 'v2-0' },
    ])
    for (const r of log.records) expect(r.t).toBeGreaterThanOrEqual(before)
  })

  it(`keeps the first ${FAILURE_RECORDS_CAP} records and counts the failed requests after them`, () => {
    const s = new StatsRecorder()
    for (let i = 0; i < FAILURE_RECORDS_CAP + 5; i++) s.failure('v1', 'lost', 1, 'v1-0')
    s.failure('v1', 'reset', 4, 'v1-0')
    const log = s.failureLog()
    expect(log.records).toHaveLength(FAILURE_RECORDS_CAP)
    expect(log.omitted).toBe(5 + 4)
    // the counters are exact whatever the cap
    expect(s.snapshot().total.failures.lost).toBe(FAILURE_RECORDS_CAP + 5)
  })

  it('starts again from nothing at resetStats (the rollout counts from the load start)', () => {
    const s = new StatsRecorder()
    for (let i = 0; i < FAILURE_RECORDS_CAP + 1; i++) s.failure('v1', 'lost', 1, 'v1-0')
    s.reset()
    expect(s.failureLog()).toEqual({ records: [], omitted: 0 })
  })

  it('hands out a copy: a later failure does not change a log already taken', () => {
    const s = new StatsRecorder()
    s.failure('v1', 'timeout', 1, 'v1-0')
    const log = s.failureLog()
    s.failure('v1', 'timeout', 1, 'v1-0')
    expect(log.records).toHaveLength(1)
  })
})
