import { describe, expect, it } from 'vitest'
import { acceptBoundary, llr, minRequestsToAccept, rejectBoundary, sprtDecision, sprtDesign, step, type MetricState, type SequentialLimits, type SprtDesign } from '#fleet/analysis/sprt.js'
import { prng } from '../helpers/random.js'

// The sequential gate's error rates, simulated: no wall clock, no sockets. Each simulated
// analysis gets requests in scrape batches (a Poisson number per second, like a canary at a
// weight), is checked after every batch, may not pass before 10 s, and is cut at 120 s.

function poisson(rand: () => number, mean: number): number {
  const l = Math.exp(-mean)
  let k = 0
  let p = rand()
  while (p > l) {
    k++
    p *= rand()
  }
  return k
}

const limits: SequentialLimits = { minMs: 10_000, maxMs: 120_000, minSamples: 20 }

/** One analysis: batches every second at `perSecond` requests, each failing with probability `rate`. */
function simulate(d: SprtDesign, rate: number, perSecond: number, rand: () => number): MetricState {
  let state: MetricState = { decision: 'continue' }
  let n = 0
  let k = 0
  for (let t = 1000; state.decision === 'continue' || state.decision === 'accept'; t += 1000) {
    const batch = poisson(rand, perSecond)
    for (let i = 0; i < batch; i++) if (rand() < rate) k++
    n += batch
    state = step(d, limits, state, n, k, t)
    // a single metric: its measurement ends at its first decision
    if (state.decision === 'accept') return state
  }
  return state
}

const N = 10_000

describe('sequential gate (SPRT), simulated', () => {
  for (const [name, budget, perSecond] of [
    ['error budget 2 %, weight 1 of 300 req/s', 0.02, 3],
    ['latency budget 1 %, weight 5 of 300 req/s', 0.01, 15],
  ] as const) {
    it(`${name}: false abort <= alpha + 3 sigma at H0, false promote <= beta + 3 sigma at H1 (N = ${N})`, () => {
      const alpha = 0.05
      const beta = 0.05
      const d = sprtDesign(budget, 3, alpha, beta)
      const sigmaA = Math.sqrt((alpha * (1 - alpha)) / N)
      const sigmaB = Math.sqrt((beta * (1 - beta)) / N)
      const rand = prng(0x5eed + Math.round(budget * 1000))
      let falseAbort = 0
      let passedAtH0 = 0
      for (let i = 0; i < N; i++) {
        const s = simulate(d, d.p0, perSecond, rand)
        if (s.decision === 'reject') falseAbort++
        if (s.decision === 'accept') passedAtH0++
      }
      let falsePromote = 0
      let caughtAtH1 = 0
      for (let i = 0; i < N; i++) {
        const s = simulate(d, d.p1, perSecond, rand)
        if (s.decision === 'accept') falsePromote++
        if (s.decision === 'reject') caughtAtH1++
      }
      console.log(
        `${name}: at H0 (${d.p0}) false abort ${(falseAbort / N).toFixed(4)}, passed ${(passedAtH0 / N).toFixed(4)}; ` +
          `at H1 (${d.p1}) false promote ${(falsePromote / N).toFixed(4)}, caught ${(caughtAtH1 / N).toFixed(4)}`,
      )
      expect(falseAbort / N).toBeLessThanOrEqual(alpha + 3 * sigmaA)
      expect(falsePromote / N).toBeLessThanOrEqual(beta + 3 * sigmaB)
      // the test decides: most analyses end with the right answer, not inconclusive
      expect(passedAtH0 / N).toBeGreaterThan(0.85)
      expect(caughtAtH1 / N).toBeGreaterThan(0.85)
    })
  }

  it('negative control: a fixed-n bound re-checked at every scrape (no sequential correction) aborts a healthy release far more often than alpha', () => {
    // the naive gate: fail as soon as the observed rate's one-sided 95 % lower bound (normal
    // approximation) is above the budget, re-checked every second over the same 120 s
    const rand = prng(42)
    const budget = 0.02
    let falseAbort = 0
    for (let i = 0; i < N; i++) {
      let n = 0
      let k = 0
      for (let t = 1; t <= 120; t++) {
        const b = poisson(rand, 3)
        for (let j = 0; j < b; j++) if (rand() < budget) k++
        n += b
        if (n >= 20 && k / n - 1.645 * Math.sqrt((budget * (1 - budget)) / n) > budget) {
          falseAbort++
          break
        }
      }
    }
    expect(falseAbort / N).toBeGreaterThan(0.05 + 3 * Math.sqrt((0.05 * 0.95) / N))
  })

  it('boundaries: 6 errors in 17 requests fails at once against a 2 % budget; a clean canary passes after the fewest requests', () => {
    const d = sprtDesign(0.02, 3, 0.05, 0.05)
    expect(sprtDecision(d, 17, 6)).toBe('reject')
    expect(rejectBoundary(d, 17)).toBeLessThanOrEqual(6)
    expect(sprtDecision(d, 17, rejectBoundary(d, 17))).toBe('reject')
    expect(sprtDecision(d, 17, rejectBoundary(d, 17) - 1)).not.toBe('reject')
    const n0 = minRequestsToAccept(d)
    expect(sprtDecision(d, n0, 0)).toBe('accept')
    expect(sprtDecision(d, n0 - 1, 0)).toBe('continue')
    expect(acceptBoundary(d, n0)).toBe(0)
    expect(acceptBoundary(d, n0 - 1)).toBe(-1)
    expect(llr(d, 0, 0)).toBe(0)
    // the latency test: 1 % budget
    expect(minRequestsToAccept(sprtDesign(0.01, 3, 0.05, 0.05))).toBe(145)
    expect(minRequestsToAccept(d)).toBe(71)
  })

  it('limits: no pass before the minimum time or samples; undecided at the maximum is inconclusive; a later crossing still fails a passed test', () => {
    const d = sprtDesign(0.02, 3, 0.05, 0.05)
    let s: MetricState = { decision: 'continue' }
    s = step(d, limits, s, 200, 0, 5000)
    expect(s.decision).toBe('continue')
    s = step(d, limits, s, 210, 0, 10_000)
    expect(s.decision).toBe('accept')
    s = step(d, limits, s, 230, 20, 11_000)
    expect(s.decision).toBe('reject')
    let u: MetricState = { decision: 'continue' }
    // 4 % observed: between the hypotheses, the indifference zone
    u = step(d, limits, u, 50, 2, 119_000)
    expect(u.decision).toBe('continue')
    u = step(d, limits, u, 52, 2, 120_000)
    expect(u.decision).toBe('inconclusive')
    expect(() => sprtDesign(0, 3, 0.05, 0.05)).toThrow(/0 < p0/)
    expect(() => sprtDesign(0.5, 3, 0.05, 0.05)).toThrow(/m × p0 < 1/)
  })
})
