import { describe, expect, it } from 'vitest'
import { formatTest, runAnalysis, slowBucket, type MetricsSource, type SequentialCounts } from '#fleet/analysis/analysis.js'
import { resolveAnalysis } from '#fleet/options/progressive.js'
import { checkGateCanDecide } from '#fleet/strategies/progressive.js'
import { resolveDeployOptions } from '#fleet/options/deploy.js'
import { GateCannotDecideError } from '#fleet/core/errors.js'

// The sequential gate's measurement loop on a scripted source and a simulated clock: each
// `wait` advances the clock, each `counts` returns the next scripted cumulative counts.

function scripted(steps: Array<Partial<SequentialCounts>>): MetricsSource {
  let i = 0
  const base: SequentialCounts = { requests: 0, errors: 0, slow: 0, slowAboveMs: 300, routerErrors: 0, slowInFlight: 0, p99Seconds: 0.01 }
  return {
    begin: async () => {},
    measure: async () => ({ samples: 0, errorRate: 0, p99Seconds: 0 }),
    counts: async () => ({ ...base, ...steps[Math.min(i++, steps.length - 1)] }),
    close: async () => {},
  }
}

async function analyse(steps: Array<Partial<SequentialCounts>>, settings = resolveAnalysis()) {
  let t = 0
  return runAnalysis({
    name: 't',
    settings,
    source: scripted(steps),
    now: () => t,
    wait: async (ms) => {
      t += ms
    },
  })
}

/** per second: cumulative counts growing by `perSecond` requests, `errorsPerSecond` of them 5xx */
const linear = (seconds: number, perSecond: number, errorsPerSecond = 0, extra: Partial<SequentialCounts> = {}) =>
  Array.from({ length: seconds }, (_, i) => ({ requests: perSecond * (i + 1), errors: errorsPerSecond * (i + 1), ...extra }))

describe('the sequential gate, measured (simulated clock)', () => {
  it('6 errors in 17 requests fails at once, long before the minimum time', async () => {
    const run = await analyse([{ requests: 17, errors: 6 }])
    expect(run.phase).toBe('failed')
    const m = run.measurements[0]!
    expect(m.tests?.errorRate).toMatchObject({ n: 17, k: 6, decision: 'failed' })
    expect(m.tests!.errorRate.failAt).toBeLessThanOrEqual(6)
    expect(m.message).toMatch(/errors n 17, k 6 \(35\.3 %; H0 ≤ 2\.0 %, H1 ≥ 6\.0 %\), fails at k ≥ \d+, passes at k ≤ none yet: failed/)
  })

  it('a clean canary at 3 req/s keeps measuring until both tests accept (145 requests for the latency test), not before the minimum time', async () => {
    const run = await analyse(linear(200, 3))
    expect(run.phase).toBe('successful')
    const m = run.measurements[0]!
    expect(m.tests?.slow.n).toBeGreaterThanOrEqual(145)
    expect(m.tests?.slow.atMs).toBe(49_000)
    expect(run.measurements).toHaveLength(1)
    // at a high weight the minimum time holds the pass back
    const fast = await analyse(linear(200, 300))
    expect(fast.phase).toBe('successful')
    expect(fast.measurements[0]!.tests!.errorRate.atMs).toBe(10_000)
  })

  it('undecided at the maximum window (a rate inside the indifference zone) is inconclusive', async () => {
    // 3.65 %: where the drift of the log-likelihood ratio is 0 for a 2 % budget and H1 at 6 %
    const run = await analyse(linear(200, 274, 10))
    expect(run.phase).toBe('inconclusive')
    expect(run.measurements[0]!.tests!.errorRate.decision).toBe('inconclusive')
    expect(run.measurements[0]!.message).toMatch(/undecided after 120 s/)
  })

  it('the router feeds it: resets the histogram never saw fail the canary; without the router signal they would not exist here', async () => {
    const run = await analyse(linear(30, 10, 0).map((c, i) => ({ ...c, routerErrors: i + 1 })))
    expect(run.phase).toBe('failed')
    expect(run.measurements[0]!.signals?.routerErrors).toBeGreaterThan(0)
    expect(run.measurements[0]!.signals?.errors5xx).toBe(0)
  })

  it('requests in flight longer than the budget count as slow: a hanging canary fails on latency, not "inconclusive: 0 requests"', async () => {
    const run = await analyse(Array.from({ length: 20 }, () => ({ requests: 0, slowInFlight: 4 })))
    expect(run.phase).toBe('failed')
    expect(run.measurements[0]!.phases.p99).toBe('failed')
    expect(run.measurements[0]!.tests!.slow).toMatchObject({ n: 4, k: 4 })
  })

  it('an errored measurement is not a decision: counted apart, then the next one decides', async () => {
    const run = await analyse([{ error: 'no instance could be scraped' }, ...linear(200, 300)])
    expect(run.phase).toBe('successful')
    expect(run.measurements.map((m) => m.phase)).toEqual(['error', 'successful'])
  })

  it('the latency test counts against the bucket at or above the budget', () => {
    expect(slowBucket([0.1, 0.2, 0.3, 0.5, Number.POSITIVE_INFINITY], 0.3)).toBe(0.3)
    expect(slowBucket([0.1, 0.2, 0.5, Number.POSITIVE_INFINITY], 0.3)).toBe(0.5)
  })

  it('formats a test as a person reads it', () => {
    expect(formatTest('errors', { n: 71, k: 0, estimate: 0, p0: 0.02, p1: 0.06, failAt: 4, passAt: 0, decision: 'successful', atMs: 24_000, batch: 3 })).toBe(
      'errors n 71, k 0 (0.0 %; H0 ≤ 2.0 %, H1 ≥ 6.0 %), fails at k ≥ 4, passes at k ≤ 0: successful',
    )
  })
})

describe('pre-flight: every step must be able to decide', () => {
  const base = { from: 'node a.js', to: 'node b.js', strategy: 'canary' as const }
  it('the defaults pass, l7 and l4, 2 and 3 replicas', () => {
    for (const router of ['l4', 'l7'] as const) for (const replicas of [2, 3]) expect(() => checkGateCanDecide(resolveDeployOptions({ ...base, router, replicas }))).not.toThrow()
    expect(() => checkGateCanDecide(resolveDeployOptions({ ...base, strategy: 'blue-green' }))).not.toThrow()
  })
  it('too little traffic at weight 1 is a usage error naming the flags to change', () => {
    const o = resolveDeployOptions({ ...base, router: 'l7', load: { rate: 50 } })
    expect(() => checkGateCanDecide(o)).toThrow(GateCannotDecideError)
    expect(() => checkGateCanDecide(o)).toThrow(/step 2 \(weight 1\) cannot decide: it gets about 0\.5 req\/s, 60 requests .* raise --rate, the step's weight \(--steps\) or --max-measurement-ms/)
    const strict = resolveDeployOptions({ ...base, router: 'l7', analysis: { maxErrorRate: 0.001 } })
    expect(() => checkGateCanDecide(strict)).toThrow(/--max-error-rate 0\.001/)
  })
})

describe('the Prometheus query window holds at least 4 scrapes', () => {
  it('reads the longest scrape_interval from the server config and widens the window to 4 × it', async () => {
    const { longestScrapeIntervalMs, promDurationMs, PrometheusSource } = await import('#fleet/analysis/promql.js')
    expect(promDurationMs('1m30s')).toBe(90_000)
    expect(promDurationMs('500ms')).toBe(500)
    expect(promDurationMs('abc')).toBeUndefined()
    const yaml = 'global:\n  scrape_interval: 15s\n  evaluation_interval: 1m\nscrape_configs:\n- job_name: zerodrop-fleet\n  scrape_interval: 500ms\n'
    expect(longestScrapeIntervalMs(yaml)).toBe(15_000)
    const src = new PrometheusSource(resolveAnalysis({ prometheusUrl: 'http://127.0.0.1:9', prometheusScrapeIntervalMs: 15_000 }), 'v2')
    expect(src.window(5000)).toEqual({ windowMs: 60_000, note: 'window 1m (>= 4 x scrape interval 15s, from the option)' })
    expect(src.window(120_000).windowMs).toBe(120_000)
  })
})
