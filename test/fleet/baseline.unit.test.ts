import { describe, expect, it } from 'vitest'
import { confidenceBound, confidenceInterval, differenceAcceptAt, differenceDecision, differenceMinRequestsToAccept, differenceRejectAt, logGamma, type DifferenceDesign } from '#fleet/analysis/confidence.js'
import { formatBaseline, gateErrorBoundary, runAnalysis, type MetricsSource, type SequentialCounts } from '#fleet/analysis/analysis.js'
import { resolveAnalysis, type AnalysisSettings } from '#fleet/options/progressive.js'
import { resolveDeployOptions } from '#fleet/options/deploy.js'
import { checkGateCanDecide } from '#fleet/strategies/progressive.js'
import { GateCannotDecideError } from '#fleet/core/errors.js'
import { parse } from '#fleet/cli/parse.js'
import { prng } from '../helpers/random.js'

// The baseline comparison (canary against stable over the same window), without a wall clock:
// the confidence sequences' error rates simulated with a seeded PRNG, and the gate's measurement
// loop on two scripted sources (canary, stable) and a simulated clock.

function binomial(rand: () => number, n: number, p: number): number {
  let k = 0
  for (let i = 0; i < n; i++) if (rand() < p) k++
  return k
}

describe('confidence sequences for a binomial rate', () => {
  it('logGamma matches known values', () => {
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12)
    expect(logGamma(10)).toBeCloseTo(Math.log(362_880), 12)
    expect(logGamma(1)).toBeCloseTo(0, 12)
  })

  it('an interval holds its estimate, narrows with n, and needs no failure to shrink', () => {
    const a = confidenceInterval(100, 5, 0.05)
    expect(a.lower).toBeLessThan(0.05)
    expect(a.upper).toBeGreaterThan(0.05)
    const b = confidenceInterval(10_000, 500, 0.05)
    expect(b.upper - b.lower).toBeLessThan(a.upper - a.lower)
    expect(confidenceInterval(1000, 0, 0.025)).toMatchObject({ lower: 0 })
    expect(confidenceInterval(1000, 0, 0.025).upper).toBeLessThan(0.01)
    expect(confidenceInterval(0, 0, 0.05)).toEqual({ lower: 0, upper: 1 })
  })

  it('anytime-valid: the true rate leaves the interval at some check in at most alpha + 3 sigma of 2000 sequences (checked after every batch of 20, 100 checks)', () => {
    const N = 2000
    const alpha = 0.05
    const rand = prng(12)
    for (const p of [0.01, 0.2]) {
      let missed = 0
      for (let i = 0; i < N; i++) {
        let n = 0
        let k = 0
        for (let c = 0; c < 100; c++) {
          n += 20
          k += binomial(rand, 20, p)
          // the side the estimate is on is the only one the true rate can leave by
          const out = k / n > p ? p < confidenceBound(n, k, alpha, 'lower') : p > confidenceBound(n, k, alpha, 'upper')
          if (out) {
            missed++
            break
          }
        }
      }
      expect(missed / N).toBeLessThanOrEqual(alpha + 3 * Math.sqrt((alpha * (1 - alpha)) / N))
    }
  })
})

describe('the two-sample comparison (canary rate ≤ stable rate + margin)', () => {
  const d: DifferenceDesign = { margin: 0.02, alpha: 0.05, beta: 0.05 }

  it('at the edge of H0 (canary exactly stable + margin): false reject <= alpha + 3 sigma and false accept <= beta + 3 sigma, 2000 simulated analyses of 120 scrapes with a moving split', () => {
    const N = 2000
    const rand = prng(7)
    let rejects = 0
    let accepts = 0
    const ps = 0.01
    const pc = ps + d.margin
    for (let i = 0; i < N; i++) {
      const c = { n: 0, k: 0 }
      const s = { n: 0, k: 0 }
      for (let t = 0; t < 120; t++) {
        // the split moves within the window (a weight change, l4 connection churn)
        const cn = 5 + Math.floor(rand() * 20)
        c.n += cn
        c.k += binomial(rand, cn, pc)
        s.n += 100
        s.k += binomial(rand, 100, ps)
        const x = differenceDecision(d, c, s)
        if (x === 'reject') rejects++
        if (x === 'accept') accepts++
        if (x !== 'continue') break
      }
    }
    const sigma = Math.sqrt((0.05 * 0.95) / N)
    expect(rejects / N).toBeLessThanOrEqual(0.05 + 3 * sigma)
    expect(accepts / N).toBeLessThanOrEqual(0.05 + 3 * sigma)
  })

  it('decides on sparse data: no error on either side passes, 6 errors in 17 against a clean stable fails at once', () => {
    expect(differenceDecision(d, { n: 600, k: 0 }, { n: 60_000, k: 0 })).toBe('accept')
    expect(differenceDecision(d, { n: 17, k: 6 }, { n: 1700, k: 0 })).toBe('reject')
    // a stable failing as much as the canary does not make the canary fail the comparison
    expect(differenceDecision(d, { n: 20_000, k: 2000 }, { n: 200_000, k: 20_000 })).toBe('accept')
  })

  it('boundaries: the fewest k that fail and the most that pass, consistent with the decision', () => {
    const stable = { n: 30_000, k: 30 }
    for (const n of [50, 300, 1000]) {
      const failAt = differenceRejectAt(d, n, stable)
      const passAt = differenceAcceptAt(d, n, stable)
      expect(differenceDecision(d, { n, k: failAt }, stable)).toBe('reject')
      expect(differenceDecision(d, { n, k: failAt - 1 }, stable)).not.toBe('reject')
      if (passAt >= 0) expect(differenceDecision(d, { n, k: passAt }, stable)).toBe('accept')
      expect(differenceDecision(d, { n, k: passAt + 1 }, stable)).not.toBe('accept')
    }
    expect(differenceMinRequestsToAccept(d)).toBe(248)
  })
})

// ---- the gate, canary against a scripted stable ------------------------------------------------

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5, 10, Number.POSITIVE_INFINITY]

interface Script {
  /** requests per scrape (1 s) */
  readonly perSecond: number
  /** every request takes this long */
  readonly latencyMs: number
  /** share of requests that are 5xx */
  readonly errorRate?: number
}

/** A revision whose every request takes `latencyMs`: cumulative counts, its histogram, and `above` when asked. */
function scripted(s: Script, budgetMs = 300): MetricsSource {
  let i = 0
  return {
    begin: async () => {},
    measure: async () => ({ samples: 0, errorRate: 0, p99Seconds: 0 }),
    counts: async (aboveMs?: number): Promise<SequentialCounts> => {
      i++
      const requests = s.perSecond * i
      const errors = Math.round(requests * (s.errorRate ?? 0))
      const buckets = BUCKETS.map((le) => ({ le, count: le * 1000 >= s.latencyMs ? requests : 0 }))
      const slowAboveMs = (BUCKETS.find((le) => le * 1000 >= budgetMs) ?? Number.POSITIVE_INFINITY) * 1000
      const slow = s.latencyMs > slowAboveMs ? requests : 0
      const lo = BUCKETS.filter((le) => le * 1000 < s.latencyMs).at(-1) ?? 0
      const hi = BUCKETS.find((le) => le * 1000 >= s.latencyMs) ?? 10
      const p99Seconds = lo + (hi - lo) * 0.99
      const base: SequentialCounts = { requests, errors, slow, slowAboveMs, routerErrors: 0, slowInFlight: 0, p99Seconds, buckets }
      return aboveMs === undefined ? base : { ...base, above: { aboveMs, slow: s.latencyMs > aboveMs ? requests : 0, slowInFlight: 0 } }
    },
    close: async () => {},
  }
}

async function compare(canary: Script, stable: Script | undefined, settings: AnalysisSettings) {
  let t = 0
  const resolved = resolveAnalysis({ minMeasurementMs: 5000, ...settings })
  return runAnalysis({
    name: 't',
    settings: resolved,
    source: scripted(canary, resolved.maxP99Ms),
    ...(stable === undefined ? {} : { baseline: scripted(stable, resolved.maxP99Ms) }),
    now: () => t,
    wait: async (ms) => {
      t += ms
    },
  })
}

describe('the gate against the stable revision (simulated clock)', () => {
  it('a canary 3 × slower than stable fails the relative latency check though within the budget; the control (as fast as stable) passes', async () => {
    const slow = await compare({ perSecond: 50, latencyMs: 150 }, { perSecond: 50, latencyMs: 50 }, { compare: 'both' })
    expect(slow.phase).toBe('failed')
    const m = slow.measurements[0]!
    expect(m.tests?.slow.decision).not.toBe('failed')
    expect(m.baseline?.latency).toMatchObject({ decision: 'failed', aboveMs: 100, allowance: 1.5 })
    expect(m.baseline?.latency.canary.k).toBeGreaterThanOrEqual(m.baseline!.latency.failAt)
    expect(m.message).toMatch(/vs stable latency: slower than 100 ms \(stable p99 50 ms × 1\.5\): canary n \d+, k \d+ \(100\.0 %\), stable n \d+, k 0 \(0\.0 %\), fails at k ≥ \d+, passes at k ≤ \S+: failed/)
    const same = await compare({ perSecond: 50, latencyMs: 50 }, { perSecond: 50, latencyMs: 50 }, { compare: 'both' })
    expect(same.phase).toBe('successful')
    expect(same.measurements[0]!.baseline).toMatchObject({ errorRate: { decision: 'successful' }, latency: { decision: 'successful' } })
  })

  it('a canary as slow as a slow stable passes the comparison, but the budget still fails it; with the budgets off (the control) it passes', async () => {
    const both = await compare({ perSecond: 50, latencyMs: 400 }, { perSecond: 50, latencyMs: 400 }, { compare: 'both' })
    expect(both.phase).toBe('failed')
    const m = both.measurements[0]!
    expect(m.tests?.slow.decision).toBe('failed')
    expect(m.baseline?.latency.decision).not.toBe('failed')
    const only = await compare({ perSecond: 50, latencyMs: 400 }, { perSecond: 50, latencyMs: 400 }, { compare: 'baseline' })
    expect(only.phase).toBe('successful')
    expect(only.measurements[0]!.message).toMatch(/budgets off: shown, not gating/)
  })

  it('errors: a canary failing 10 % beside a clean stable fails the comparison; beside a stable failing as much it passes it, and the budget fails it', async () => {
    const bad = await compare({ perSecond: 50, latencyMs: 10, errorRate: 0.1 }, { perSecond: 200, latencyMs: 10 }, { compare: 'baseline' })
    expect(bad.phase).toBe('failed')
    expect(bad.measurements[0]!.baseline?.errorRate.decision).toBe('failed')
    expect(bad.measurements[0]!.message).toMatch(/vs stable errors: canary n \d+, k \d+ \(10\.0 %\), stable n \d+, k 0 \(0\.0 %\), difference 10\.0 % \(margin 2\.0 %\), fails at k ≥ \d+/)
    const alike = { perSecond: 500, latencyMs: 10, errorRate: 0.1 }
    const relative = await compare(alike, { ...alike, perSecond: 2000 }, { compare: 'baseline' })
    expect(relative.phase).toBe('successful')
    const guarded = await compare(alike, { ...alike, perSecond: 2000 }, { compare: 'both' })
    expect(guarded.phase).toBe('failed')
    expect(guarded.measurements[0]!.tests?.errorRate.decision).toBe('failed')
    expect(guarded.measurements[0]!.baseline?.errorRate.decision).not.toBe('failed')
  })

  it('without a stable serving (weight 100) the budgets decide, and the line says so', async () => {
    const run = await compare({ perSecond: 50, latencyMs: 10 }, undefined, { compare: 'both' })
    expect(run.phase).toBe('successful')
    expect(run.measurements[0]!.baseline).toBeUndefined()
    expect(run.measurements[0]!.message).toMatch(/vs stable: not compared/)
  })

  it("the blast radius's gate term is the failing comparison's boundary", async () => {
    const bad = await compare({ perSecond: 50, latencyMs: 10, errorRate: 0.1 }, { perSecond: 200, latencyMs: 10 }, { compare: 'baseline' })
    const m = bad.measurements[0]!
    expect(gateErrorBoundary(m)).toBe(m.baseline!.errorRate.failAt)
  })

  it('formats the latency comparison before the stable had enough requests', () => {
    const side = { n: 10, k: 0, estimate: 0 }
    expect(formatBaseline('latency', { canary: side, stable: side, estimate: 0, allowance: 1.5, failAt: 3, passAt: -1, decision: 'inconclusive', atMs: 120_000, batch: 1 })).toBe(
      'vs stable latency: the stable had fewer than 200 requests, no threshold yet (canary n 10, k 0 (0.0 %), stable n 10, k 0 (0.0 %)): inconclusive',
    )
  })
})

describe('baseline options and flags', () => {
  const base = { from: 'node a.js', to: 'node b.js', strategy: 'canary' as const, router: 'l7' as const }
  it('--compare baseline with an analysis at weight 100 cannot decide there: a usage error naming the flags', () => {
    const o = resolveDeployOptions({ ...base, analysis: { compare: 'baseline' }, canary: { steps: [{ setWeight: 50 }, { analysis: true }, { setWeight: 100 }, { analysis: true }] } })
    expect(() => checkGateCanDecide(o)).toThrow(GateCannotDecideError)
    expect(() => checkGateCanDecide(o)).toThrow(/weight 100 the stable serves no traffic.*--compare both/)
    const ok = resolveDeployOptions({ ...base, analysis: { compare: 'both' }, canary: { steps: [{ setWeight: 50 }, { analysis: true }, { setWeight: 100 }, { analysis: true }] } })
    expect(() => checkGateCanDecide(ok)).not.toThrow()
  })

  it('the comparison needs its requests at each compared step, and says how many', () => {
    // weight 1 of 300 req/s: 360 requests in 120 s, the comparison wants twice 248
    const o = resolveDeployOptions({ ...base, analysis: { compare: 'both' } })
    expect(() => checkGateCanDecide(o)).toThrow(/step 2 \(weight 1\) cannot decide: .* takes at least 496 .*--baseline-error-margin 0\.02/)
  })

  it('bad values are blamed on the flag as typed; the comparison is for canary and the sequential gate', () => {
    const argv = ['deploy', '--from', 'node v1.js', '--to', 'node v2.js', '--quiet', '--strategy', 'canary']
    const message = (fn: () => unknown): string => {
      try {
        fn()
      } catch (err) {
        return (err as Error).message
      }
      return 'no error'
    }
    expect(message(() => parse([...argv, '--compare', 'relative']))).toBe("--compare: expected 'absolute', 'both', 'baseline', instead got 'relative'")
    expect(message(() => parse([...argv, '--baseline-latency-factor', '0.5']))).toBe('--baseline-latency-factor: expected a number from 1 to 100, instead got 0.5')
    expect(message(() => parse([...argv, '--baseline-error-margin', 'x']))).toMatch(/^--baseline-error-margin: expected a number/)
    expect(message(() => parse([...argv, '--compare', 'both', '--gate', 'fixed']))).toMatch(/^--compare: expected 'absolute' with the fixed gate/)
    expect(message(() => parse(['deploy', '--from', 'node v1.js', '--to', 'node v2.js', '--quiet', '--compare', 'both']))).toMatch(/--compare/)
    expect(resolveAnalysis({ compare: 'both', maxErrorRate: 0.05 }).baselineErrorMargin).toBe(0.05)
    expect(() => resolveDeployOptions({ ...base, strategy: 'blue-green', analysis: { compare: 'both' } })).toThrow(/'absolute' with the blue-green strategy/)
  })
})
