import { afterEach, describe, expect, it } from 'vitest'
import { afterEachCleanup, expectBalanced, expectNothingLeft, period, run } from './progressive-harness.js'

// Blue-green under load: green proven on the preview before any user sees it, the
// switch after the endpoint lag, post-promotion analysis with an instant flip back, blue drained
// after scaleDownDelaySeconds — on real processes behind real routers, counted request by request.

afterEach(async (ctx) => afterEachCleanup(ctx.task.result?.state === 'fail'))

describe('blue-green', () => {
  it('l7: promoted, zero dropped; no user reached green before the switch, all did after', { timeout: 120_000 }, async () => {
    const r = await run({}, { strategy: 'blue-green', router: 'l7', blueGreen: { scaleDownDelaySeconds: 2 } })
    expect(r.verdict).toBe('promoted')
    expect(r.dropped).toBe(0)
    expect(r.exitCode).toBe(0)
    expectBalanced(r)
    const pre = period(r, 'active v1')
    expect(pre.requests.v2 ?? 0).toBe(0)
    expect(pre.observed.v1).toBe(1)
    const post = period(r, 'active v2')
    expect(post.requests.v2).toBeGreaterThan(100)
    expect(post.observed.v2).toBeGreaterThan(0.97)
    // green was load-tested through the preview only
    expect(r.progressive?.preview?.requests).toBeGreaterThan(20)
    expect(r.progressive?.preview?.failed).toBe(0)
    expect(r.progressive?.analyses.map((a) => [a.name, a.phase])).toEqual([
      ['pre-promotion', 'successful'],
      ['post-promotion', 'successful'],
    ])
    const flip = r.progressive?.flips[0]
    expect(flip!.effectiveAt - flip!.orderedAt).toBeGreaterThanOrEqual(1000)
    expect(r.instances.filter((i) => i.revision === 'v1').every((i) => i.termination && !i.termination.killed && i.termination.code === 0)).toBe(true)
    await expectNothingLeft(r)
  })

  it('l4: promoted, zero dropped; new connections go to green after the switch, pinned ones leave blue as it drains', { timeout: 120_000 }, async () => {
    const r = await run({}, { strategy: 'blue-green', router: 'l4', blueGreen: { scaleDownDelaySeconds: 2 } })
    expect(r.verdict).toBe('promoted')
    expect(r.dropped).toBe(0)
    expectBalanced(r)
    expect(period(r, 'active v1').requests.v2 ?? 0).toBe(0)
    const post = period(r, 'active v2')
    // connections opened before the switch stay on blue until they close (reconnect every 10 requests) or blue drains
    expect(post.observed.v2).toBeGreaterThan(0.5)
    expect(post.requests.v1 ?? 0).toBeGreaterThan(0)
    await expectNothingLeft(r)
  })

  it('bad green FAIL_RATE=0.5: pre-promotion analysis fails on the preview, never promoted, users see zero errors', { timeout: 120_000 }, async () => {
    const r = await run({ to: 'FAIL_RATE=0.5' }, { strategy: 'blue-green', router: 'l7' })
    expect(r.verdict).toBe('rolled-back')
    expect(r.reason).toMatch(/pre-promotion analysis failed/)
    expect(r.progressive?.flips).toHaveLength(0)
    expect(r.accounting.byRevision.v2?.requests ?? 0).toBe(0)
    expect(r.accounting.non2xx).toBe(0)
    expect(r.dropped).toBe(0)
    expect(r.progressive?.preview?.failed).toBeGreaterThan(0)
    expect(r.progressive?.detection?.exposedAt).toBeUndefined()
    expectBalanced(r)
    await expectNothingLeft(r)
  })

  it('slow green LATENCY_MS=400: pre-promotion analysis fails on p99, never promoted, zero dropped', { timeout: 120_000 }, async () => {
    const r = await run({ to: 'LATENCY_MS=400' }, { strategy: 'blue-green', router: 'l7' })
    expect(r.verdict).toBe('rolled-back')
    expect(r.reason).toMatch(/pre-promotion analysis failed/)
    expect(r.progressive?.analyses[0]?.measurements.at(-1)?.phases.p99).toBe('failed')
    expect(r.accounting.byRevision.v2?.requests ?? 0).toBe(0)
    expect(r.dropped).toBe(0)
    await expectNothingLeft(r)
  })

  it('green that goes bad under live traffic (FAIL_AFTER_REQUESTS): post-promotion analysis fails, flipped back to blue, zero drops from the flips', { timeout: 120_000 }, async () => {
    const r = await run(
      { to: 'FAIL_RATE=0.5 FAIL_AFTER_REQUESTS=150' },
      // the test is about errors after the switch: a latency budget a stalled machine cannot break
      // (4 requests held > 300 ms by a loaded CI host failed pre-promotion once, on latency alone)
      { strategy: 'blue-green', router: 'l7', blueGreen: { scaleDownDelaySeconds: 60 }, analysis: { maxP99Ms: 2500 } },
    )
    // each green instance fails after its 150th request: the preview's synthetic load (50 req/s over
    // 3 instances until the latency test passes at 145 requests, ~50 each) stays well below that; live
    // traffic after the switch (~100 req/s each) crosses it in about a second
    expect(r.progressive?.analyses[0]?.phase, 'pre-promotion passed').toBe('successful')
    expect(r.verdict).toBe('rolled-back')
    expect(r.reason).toMatch(/post-promotion analysis failed/)
    expect(r.progressive?.flips.map((f) => f.to)).toEqual(['v2', 'v1'])
    const b = r.progressive?.badRelease
    expect(b?.failed).toBeGreaterThan(0)
    expect(b?.withinBound, `${b?.failed} failed vs bound ${b?.bound}`).toBe(true)
    // nothing but green's own 5xx: no request lost, refused or reset by either flip
    expect(r.dropped).toBe(0)
    expect(r.accounting.lost + r.accounting.reset + r.accounting.refused + r.accounting.timeout).toBe(0)
    const back = period(r, 'active v1')
    expect(back.observed.v1).toBe(1)
    expect(r.instances.filter((i) => i.revision === 'v1').every((i) => i.termination === undefined)).toBe(true)
    expectBalanced(r)
    await expectNothingLeft(r)
  })

  it('scaleDownDelaySeconds 0 with a draining blue, l4: blue drains while the switch propagates, zero dropped', { timeout: 120_000 }, async () => {
    const r = await run({}, { strategy: 'blue-green', router: 'l4', blueGreen: { scaleDownDelaySeconds: 0, prePromotionAnalysis: false, postPromotionAnalysis: false } })
    expect(r.verdict).toBe('promoted')
    expect(r.dropped).toBe(0)
    expect(r.accounting.byRevision.v1?.requests).toBeGreaterThan(0)
    await expectNothingLeft(r)
  })

  it('negative control: scaleDownDelaySeconds 0 with a NAIVE=1 blue, l4: blue dies while the switch propagates and connections are pinned to it', { timeout: 120_000 }, async () => {
    const r = await run({ from: 'NAIVE=1' }, { strategy: 'blue-green', router: 'l4', blueGreen: { scaleDownDelaySeconds: 0, prePromotionAnalysis: false, postPromotionAnalysis: false } })
    expect(r.dropped).toBeGreaterThan(0)
    expect(r.exitCode).toBe(1)
    expect(r.accounting.byRevision.v1?.dropped).toBeGreaterThan(0)
    await expectNothingLeft(r)
  })
})
