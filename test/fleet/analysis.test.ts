import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describeWithTool } from '../helpers/tools.js'
import { describe, expect, it } from 'vitest'
import { assessMetric, judge, runAnalysis, type MetricsSource, type RawMeasurement } from '#fleet/analysis/analysis.js'
import { parseArgoDuration, promDuration } from '#fleet/core/durations.js'
import { loadManifests } from '#fleet/manifests/manifests.js'
import { parseStepsFlag, resolveAnalysis, resolveBlueGreen, resolveCanary } from '#fleet/options/progressive.js'
import { renderQuery, ERROR_RATE_QUERY } from '#fleet/analysis/promql.js'
import {
  counterIncrease,
  histogramQuantile,
  histogramScrape,
  HistogramTotals,
  parsePrometheusText,
  windowDelta,
  type HistogramScrape,
} from '#fleet/analysis/scrape.js'

// The analysis' math on real exposition text: two scrapes of the demo service's /metrics
// (fixtures/demo-metrics-{1,2}.txt, taken from `FAIL_RATE=0.3 node demo/dist/server.js` with
// 40 + 30 requests on `/` and one `/slow?ms=350` in between), checked against Prometheus' own
// `promtool` where it computes the same thing.

const fixture = (n: number): string => fs.readFileSync(new URL(`./fixtures/demo-metrics-${n}.txt`, import.meta.url), 'utf8')
const s1 = histogramScrape(parsePrometheusText(fixture(1)))
const s2 = histogramScrape(parsePrometheusText(fixture(2)))

function delta(prev: HistogramScrape | undefined, cur: HistogramScrape) {
  const t0 = new HistogramTotals()
  const before = t0.snapshot()
  t0.add(prev, cur)
  return windowDelta(before, t0.snapshot())
}

/**
 * Prometheus' own answer for `expr` over the given series (values at 0 and 1m), through
 * `promtool test rules`: asked to expect an impossible value, it fails and prints what it got.
 */
function promtoolValue(series: Record<string, [number, number]>, expr: string): { value: number; output: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zd-promtool-'))
  try {
    const input = Object.entries(series)
      .map(([s, [a, b]]) => `      - series: '${s}'\n        values: '${a} ${b}'`)
      .join('\n')
    const test = `evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
${input}
    promql_expr_test:
      - expr: '${expr}'
        eval_time: 1m
        exp_samples:
          - labels: '{}'
            value: -12345
`
    const file = path.join(dir, 'test.yaml')
    fs.writeFileSync(file, test)
    let output: string
    try {
      output = execFileSync('promtool', ['test', 'rules', file], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string }
      output = `${e.stdout ?? ''}${e.stderr ?? ''}`
    }
    const m = /got:\s*\{\}\s*(\S+)/.exec(output)
    return { value: m ? Number(m[1]) : Number.NaN, output }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Bucket series of two scrapes, summed over the other labels per le, as promtool input. */
function bucketSeries(prev: HistogramScrape, cur: HistogramScrape): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {}
  for (const [k, b] of cur.buckets) {
    const [labels] = k.split('|')
    const name = `http_request_duration_seconds_bucket{${labels},le="${b.le === Infinity ? '+Inf' : String(b.le)}"}`
    out[name] = [prev.buckets.get(k)?.value ?? 0, b.value]
  }
  return out
}

describe('Prometheus text and histogram math', () => {
  it('parses the demo exposition: counts per status, buckets with +Inf, other metric families ignored', () => {
    const samples = parsePrometheusText(fixture(1))
    expect(samples.length).toBeGreaterThan(100)
    const count = (status: string, route = '/') => s1.counts.get(`method="GET",route="${route}",status_code="${status}"`)?.value
    expect(count('200')).toBe(28)
    expect(count('500')).toBe(12)
    expect(count('200', '/slow')).toBe(1)
    expect(s1.counts.get('method="GET",route="/",status_code="500"')?.error).toBe(true)
    expect([...s1.buckets.values()].some((b) => b.le === Number.POSITIVE_INFINITY)).toBe(true)
    // escaped label values
    expect(parsePrometheusText('x{a="q\\"uo\\\\te",b="n\\nl"} 1.5e3 1700000000000')[0]).toEqual({ name: 'x', labels: { a: 'q"uo\\te', b: 'n\nl' }, value: 1500 })
  })

  it('a window between two scrapes: requests and 5xx are the counter increases', () => {
    const d = delta(s1, s2)
    expect(d.requests).toBe(30)
    expect(d.errors).toBe(8)
    expect(d.buckets.at(-1)).toEqual({ le: Number.POSITIVE_INFINITY, count: 30 })
  })

  it('a counter reset (the instance restarted) counts from 0, as rate() does, never negative', () => {
    expect(counterIncrease(50, 28)).toBe(28)
    expect(counterIncrease(28, 50)).toBe(22)
    expect(counterIncrease(undefined, 7)).toBe(7)
    // scrape 2 then scrape 1 again: the `/` series went down (a reset: each counts its full new
    // value); the `/slow` series stayed at 1 (no reset, no increase)
    const d = delta(s2, s1)
    expect(d.requests).toBe(28 + 12)
    expect(d.errors).toBe(12)
    // running totals stay monotonic across the reset
    const t = new HistogramTotals()
    t.add(undefined, s1)
    t.add(s1, s2)
    t.add(s2, s1)
    expect(t.requests).toBe(41 + 30 + 40)
  })

  describeWithTool('promtool', 'histogram math against promtool', () => {
    it('histogram_quantile interpolates like Prometheus (checked with promtool on the same buckets)', () => {
      const d = delta(s1, s2)
      for (const q of [0.5, 0.9, 0.99]) {
        const ours = histogramQuantile(q, d.buckets)
        expect(Number.isFinite(ours)).toBe(true)
        const expr = `histogram_quantile(${q}, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))`
        const r = promtoolValue(bucketSeries(s1, s2), expr)
        expect(r.value, `q=${q}; promtool said:\n${r.output}`).toBeCloseTo(ours, 12)
      }
      // from zero to scrape 1 (41 requests, one of them the 350 ms /slow one)
      const all = delta(undefined, s1)
      for (const q of [0.9, 0.99]) {
        const r = promtoolValue(bucketSeries({ counts: new Map(), buckets: new Map() }, s1), `histogram_quantile(${q}, sum by (le) (increase(http_request_duration_seconds_bucket[1m])))`)
        expect(r.value, r.output).toBeCloseTo(histogramQuantile(q, all.buckets), 12)
      }
    })
  })

  it('edge cases: +Inf rank answers the highest finite bound, no observations is NaN, non-monotonic buckets are fixed', () => {
    const inf = Number.POSITIVE_INFINITY
    expect(histogramQuantile(0.99, [{ le: 0.1, count: 0 }, { le: 0.3, count: 1 }, { le: inf, count: 100 }])).toBe(0.3)
    expect(histogramQuantile(0.99, [{ le: 0.1, count: 0 }, { le: inf, count: 0 }])).toBeNaN()
    expect(histogramQuantile(0.5, [{ le: 0.1, count: 10 }])).toBeNaN()
    // first bucket starts at 0: rank 5 of 10 in (0, 0.1] → 0.05
    expect(histogramQuantile(0.5, [{ le: 0.1, count: 10 }, { le: inf, count: 10 }])).toBeCloseTo(0.05, 10)
    // (0.1, 0.3]: rank 99 of 100, 90 below, 10 inside → 0.1 + 0.2 × 9/10
    expect(histogramQuantile(0.99, [{ le: 0.1, count: 90 }, { le: 0.3, count: 100 }, { le: inf, count: 100 }])).toBeCloseTo(0.28, 10)
    expect(histogramQuantile(0.5, [{ le: 0.1, count: 6 }, { le: 0.3, count: 4 }, { le: inf, count: 10 }])).toBeCloseTo(histogramQuantile(0.5, [{ le: 0.1, count: 6 }, { le: 0.3, count: 6 }, { le: inf, count: 10 }]), 10)
  })
})

describe('measurements and runs (Argo Rollouts semantics)', () => {
  const s = resolveAnalysis({ gate: 'fixed', intervalMs: 100, count: 3, minSamples: 20, failureLimit: 0, inconclusiveLimit: 1 })
  const m = (samples: number, errorRate: number, p99Seconds: number, error?: string): RawMeasurement => ({ samples, errorRate, p99Seconds, ...(error ? { error } : {}) })

  it('judges one measurement: too few samples is inconclusive (never a pass), a breach fails, NaN is inconclusive', () => {
    expect(judge(m(19, 0, 0.01), s, 0).phase).toBe('inconclusive')
    expect(judge(m(20, 0, 0.01), s, 0).phase).toBe('successful')
    expect(judge(m(100, 0.021, 0.01), s, 0).phases).toEqual({ errorRate: 'failed', p99: 'successful' })
    expect(judge(m(100, 0.02, 0.3), s, 0).phase).toBe('successful')
    expect(judge(m(100, 0, 0.301), s, 0).phases.p99).toBe('failed')
    expect(judge(m(100, Number.NaN, Number.NaN), s, 0).phase).toBe('inconclusive')
    expect(judge(m(Number.NaN, Number.NaN, Number.NaN, 'down'), s, 0).phase).toBe('error')
  })

  it('assesses a metric: limits, count, and no success without a successful measurement', () => {
    const c = (x: Partial<{ successful: number; failed: number; inconclusive: number; consecutiveErrors: number; count: number }>) => ({ successful: 0, failed: 0, inconclusive: 0, consecutiveErrors: 0, count: 0, ...x })
    expect(assessMetric(c({ failed: 1, count: 1 }), s)).toBe('failed')
    expect(assessMetric(c({ failed: 1, count: 1 }), { ...s, failureLimit: 1 })).toBe('running')
    expect(assessMetric(c({ inconclusive: 1, count: 1 }), s)).toBe('running')
    expect(assessMetric(c({ inconclusive: 2, count: 2 }), s)).toBe('inconclusive')
    expect(assessMetric(c({ successful: 2, inconclusive: 1, count: 3 }), s)).toBe('successful')
    expect(assessMetric(c({ consecutiveErrors: 5, count: 5 }), s)).toBe('error')
    expect(assessMetric(c({ inconclusive: 3, count: 3 }), { ...s, inconclusiveLimit: 5 })).toBe('inconclusive')
  })

  async function runWith(raws: RawMeasurement[], settings = s) {
    let i = 0
    const source: MetricsSource = { begin: async () => {}, measure: async () => raws[Math.min(i++, raws.length - 1)] as RawMeasurement, close: async () => {} }
    return runAnalysis({ name: 't', settings, source, now: () => 0, wait: (ms) => new Promise((r) => setTimeout(r, ms)) })
  }

  it('runs: count successes pass; the first failure ends the run at once; inconclusive past the limit ends it', async () => {
    expect((await runWith([m(50, 0, 0.01)])).measurements).toHaveLength(3)
    const failed = await runWith([m(50, 0, 0.01), m(50, 0.5, 0.01), m(50, 0, 0.01)])
    expect(failed.phase).toBe('failed')
    expect(failed.measurements).toHaveLength(2)
    const inc = await runWith([m(3, 0, 0.01)])
    expect(inc.phase).toBe('inconclusive')
    expect(inc.measurements).toHaveLength(2)
    // Argo: errored measurements are counted apart, never towards count — error, error, successful is not a pass of 3
    const errored = await runWith([m(Number.NaN, Number.NaN, Number.NaN, 'down'), m(Number.NaN, Number.NaN, Number.NaN, 'down'), m(50, 0, 0.01)])
    expect(errored.phase).toBe('successful')
    expect(errored.measurements).toHaveLength(5)
    expect(errored.measurements.filter((x) => x.phase === 'successful')).toHaveLength(3)
  })

  it('durations, steps and queries', () => {
    expect(parseArgoDuration('30s', 'x')).toBe(30_000)
    expect(parseArgoDuration('1m', 'x')).toBe(60_000)
    expect(parseArgoDuration('1h', 'x')).toBe(3_600_000)
    expect(parseArgoDuration('1m30s', 'x')).toBe(90_000)
    expect(parseArgoDuration('500ms', 'x')).toBe(500)
    expect(parseArgoDuration(10, 'x')).toBe(10_000)
    expect(() => parseArgoDuration('10 minutes', 'pause.duration')).toThrow(/pause.duration: expected a duration/)
    expect(promDuration(1500)).toBe('1500ms')
    expect(promDuration(60_000)).toBe('1m')
    expect(parseStepsFlag('5,50')).toEqual([{ setWeight: 5 }, { analysis: true }, { setWeight: 50 }, { analysis: true }])
    expect(resolveCanary({ steps: parseStepsFlag('w10,pause:2s,analysis') }).steps).toEqual([{ setWeight: 10 }, { pause: { durationMs: 2000 } }, { analysis: true }])
    expect(resolveCanary().steps.filter((x) => 'setWeight' in x).map((x) => (x as { setWeight: number }).setWeight)).toEqual([1, 5, 25, 50, 100])
    const q = renderQuery(ERROR_RATE_QUERY, { namespace: 'ns', 'canary-hash': 'v2', 'min-samples': '20' }, 3000)
    expect(q).toContain('rollouts_pod_template_hash="v2"')
    expect(q).toContain('[3s]')
    expect(q).toContain('>= 20')
    expect(q).not.toContain('{{')
    expect(() => resolveAnalysis({ prometheusUrl: 'http://10.0.0.1:9090' })).toThrow(/loopback/)
  })

  it('the k8s/ manifests map onto these options: the ladder, the pauses, the gate, the scale-down delays', () => {
    const k8s = (dir: string) => loadManifests(new URL(`../../k8s/${dir}`, import.meta.url).pathname).options
    const c = k8s('canary')
    const canary = resolveCanary({ steps: c.canary!.steps, abortScaleDownDelaySeconds: c.canary!.abortScaleDownDelaySeconds })
    expect(canary.steps.flatMap((x) => ('setWeight' in x ? [x.setWeight] : []))).toEqual([1, 5, 25, 50])
    expect(canary.steps.flatMap((x) => ('pause' in x ? [x.pause.durationMs] : []))).toEqual([60_000, 60_000, 60_000, 60_000])
    expect(canary.steps.filter((x) => 'analysis' in x)).toHaveLength(4)
    expect(canary.abortScaleDownDelaySeconds).toBe(30)
    const { metrics, ...gate } = c.analysis!
    expect(metrics.length).toBe(2)
    expect(resolveAnalysis(gate)).toMatchObject({ maxErrorRate: 0.02, maxP99Ms: 300, intervalMs: 60_000, count: 3, failureLimit: 0, inconclusiveLimit: 1, minSamples: 50 })
    const bg = k8s('blue-green').blueGreen!
    expect(
      resolveBlueGreen({ scaleDownDelaySeconds: bg.scaleDownDelaySeconds, prePromotionAnalysis: bg.prePromotionAnalysis !== undefined, postPromotionAnalysis: bg.postPromotionAnalysis !== undefined }),
    ).toMatchObject({ scaleDownDelaySeconds: 60, prePromotionAnalysis: true, postPromotionAnalysis: true })
  })
})
