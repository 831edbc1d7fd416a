import { SLOW_BUDGET, type ResolvedAnalysis } from '../options/progressive.js'
import { histogramQuantile, RevisionScraper, windowDelta, type ScrapeTarget, type TotalsSnapshot } from './scrape.js'
import { acceptBoundary, rejectBoundary, sprtDesign, step, type MetricState, type SequentialLimits, type SprtDesign } from './sprt.js'

/**
 * The analysis that gates blue-green and canary, with Argo Rollouts' semantics
 * (analysis/analysis.go assessMetricStatus): a measurement every `interval`, `count` of them;
 * more than `failureLimit` failed measurements fail the run, more than `inconclusiveLimit`
 * inconclusive ones make it inconclusive, more than `consecutiveErrorLimit` errors in a row
 * error it; errored measurements are counted apart and never towards `count`. Two metrics on
 * the revision under test only: error rate and latency. Unlike Argo, a run whose measurements
 * were never successful is not successful either.
 *
 * Two gates (docs/architecture.md, "The canary gate"):
 * - `sequential` (embedded source): one measurement is one sequential decision per metric
 *   (sprt.ts), fed at every scrape: errors (5xx, plus the router's resets, refusals, lost
 *   requests and timeouts of the revision) against the error budget, and requests slower than
 *   `maxP99Ms` (plus those in flight for longer) against 1 %. A rejection fails at once; passing
 *   takes both tests accepting after `minMeasurementMs`; undecided at `maxMeasurementMs` is
 *   inconclusive.
 * - `fixed` (Prometheus, the shipped AnalysisTemplates): a window of `intervalMs` per
 *   measurement; fewer than `minSamples` requests is inconclusive, a budget exceeded fails.
 */

export const MEASUREMENT_PHASES = ['successful', 'failed', 'inconclusive', 'error'] as const
export type MeasurementPhase = (typeof MEASUREMENT_PHASES)[number]
export type AnalysisPhase = MeasurementPhase

export interface RawMeasurement {
  /** requests in the window; NaN when the source does not say (Prometheus: the queries gate on it) */
  readonly samples: number
  /** 5xx / all, NaN when not measurable */
  readonly errorRate: number
  /** seconds, NaN when not measurable */
  readonly p99Seconds: number
  /** the source could not be read (error phase) */
  readonly error?: string
  /** how the source measured, for the report (e.g. the Prometheus query window) */
  readonly note?: string
}

/** One metric's sequential test at the end of a measurement: why it decided what it did. */
export interface TestDetail {
  /** requests the test saw */
  readonly n: number
  /** of those, failed (error test) or slower than the budget (latency test) */
  readonly k: number
  /** k / n */
  readonly estimate: number
  /** H0's rate (the budget) and H1's */
  readonly p0: number
  readonly p1: number
  /** the fewest k that fail at this n, and the most k that pass (−1: none yet) */
  readonly failAt: number
  readonly passAt: number
  /** `undecided`: the measurement ended on the other test before this one decided */
  readonly decision: 'failed' | 'successful' | 'inconclusive' | 'undecided'
  /** ms into the measurement when it decided */
  readonly atMs: number
  /** requests the last scrape added (what the decision may overshoot its boundary by) */
  readonly batch: number
}

export interface Measurement {
  /** ms since the rollout started, when taken */
  readonly t: number
  readonly samples: number
  readonly errorRate: number
  readonly p99Ms: number
  readonly phases: { readonly errorRate: MeasurementPhase; readonly p99: MeasurementPhase }
  readonly phase: MeasurementPhase
  readonly message: string
  /** sequential gate: the deciding test's (the one that failed, else the error test's) n, k, k / n and failure boundary */
  readonly n?: number
  readonly k?: number
  readonly estimate?: number
  readonly boundary?: number
  /** sequential gate: the two tests; `t` is then the measurement's end */
  readonly tests?: { readonly errorRate: TestDetail; readonly slow: TestDetail }
  /** sequential gate: what fed the tests */
  readonly signals?: { readonly histogramRequests: number; readonly errors5xx: number; readonly routerErrors: number; readonly slowFinished: number; readonly slowInFlight: number; readonly slowAboveMs: number }
}

export interface AnalysisRun {
  /** e.g. 'canary step 2 (weight 5)', 'pre-promotion', 'post-promotion' */
  readonly name: string
  readonly source: 'metrics' | 'prometheus'
  readonly gate: 'sequential' | 'fixed'
  readonly startedAt: number
  readonly endedAt: number
  readonly phase: AnalysisPhase
  readonly message: string
  readonly measurements: readonly Measurement[]
}

/** Where measurements come from: the instances' /metrics, or a Prometheus. */
export interface MetricsSource {
  /** Marks the start of the first window. */
  begin(): Promise<void>
  /** The window since the previous call (or `begin`). */
  measure(windowMs: number): Promise<RawMeasurement>
  /** sequential gate: what happened since `begin`, cumulative */
  counts?(): Promise<SequentialCounts>
  close(): Promise<void>
}

/** What the router knows about one revision that its instances' histograms cannot. */
export interface RevisionSignal {
  /** the revision's requests the router saw refused, reset, lost or timed out, so far (cumulative) */
  failures(): number
  /** its requests in flight at the router for longer than ms, now */
  inFlightOlderThan(ms: number): number
}

/** Cumulative since the measurement began; `error` when the source could not be read. */
export interface SequentialCounts {
  /** requests the histogram observed */
  readonly requests: number
  /** of those, 5xx */
  readonly errors: number
  /** of those, slower than the latency budget's bucket */
  readonly slow: number
  /** the bucket boundary `slow` is measured against, ms */
  readonly slowAboveMs: number
  /** the router's failures of the revision (0 without the router signal) */
  readonly routerErrors: number
  /** its requests in flight longer than the budget, now (0 without the router signal) */
  readonly slowInFlight: number
  readonly p99Seconds: number
  readonly error?: string
}

/** The smallest histogram bucket boundary at or above the budget (requests above it are slow). */
export function slowBucket(buckets: Iterable<number>, maxSeconds: number): number {
  let best = Number.POSITIVE_INFINITY
  for (const le of buckets) if (le >= maxSeconds - 1e-9 && le < best) best = le
  return best
}

/** Scrapes the revision's instances (its `/metrics`), running totals with counter-reset handling. */
export class ScrapeSource implements MetricsSource {
  readonly scraper: RevisionScraper
  #last: TotalsSnapshot | undefined
  #scrapesAtLast = 0
  #failuresAtLast = 0
  #begin: TotalsSnapshot | undefined
  #routerAtBegin = 0
  readonly #signal: RevisionSignal | undefined
  readonly #maxP99Ms: number

  constructor(targets: () => readonly ScrapeTarget[], periodMs: number, options: { signal?: RevisionSignal | undefined; maxP99Ms?: number } = {}) {
    this.scraper = new RevisionScraper(targets, { periodMs })
    this.scraper.start()
    this.#signal = options.signal
    this.#maxP99Ms = options.maxP99Ms ?? 300
  }

  async begin(): Promise<void> {
    this.#last = await this.scraper.snapshot()
    this.#begin = this.#last
    this.#routerAtBegin = this.#signal?.failures() ?? 0
    this.#scrapesAtLast = this.scraper.scrapes
    this.#failuresAtLast = this.scraper.failures
  }

  async counts(): Promise<SequentialCounts> {
    const now = await this.scraper.snapshot()
    const scraped = this.scraper.scrapes - this.#scrapesAtLast
    const failedNow = this.scraper.failures > this.#failuresAtLast
    this.#scrapesAtLast = this.scraper.scrapes
    this.#failuresAtLast = this.scraper.failures
    const from = this.#begin ?? { requests: 0, errors: 0, buckets: new Map() }
    const d = windowDelta(from, now)
    const le = slowBucket(now.buckets.keys(), this.#maxP99Ms / 1000)
    const fast = d.buckets.find((b) => b.le === le)?.count ?? d.requests
    const routerErrors = this.#signal ? this.#signal.failures() - this.#routerAtBegin : 0
    const slowInFlight = this.#signal ? this.#signal.inFlightOlderThan(this.#maxP99Ms) : 0
    const base = { requests: d.requests, errors: d.errors, slow: Math.max(0, d.requests - fast), slowAboveMs: le * 1000, routerErrors, slowInFlight, p99Seconds: histogramQuantile(0.99, d.buckets) }
    if (scraped === 0 && failedNow) return { ...base, error: `no instance could be scraped: ${this.scraper.lastError ?? 'no targets'}` }
    return base
  }

  async measure(): Promise<RawMeasurement> {
    const now = await this.scraper.snapshot()
    const from = this.#last ?? { requests: 0, errors: 0, buckets: new Map() }
    const scraped = this.scraper.scrapes - this.#scrapesAtLast
    this.#last = now
    this.#scrapesAtLast = this.scraper.scrapes
    const failedNow = this.scraper.failures > this.#failuresAtLast
    this.#failuresAtLast = this.scraper.failures
    // no instance to scrape is no traffic (inconclusive); instances that cannot be scraped are an error
    if (scraped === 0 && failedNow) {
      return { samples: Number.NaN, errorRate: Number.NaN, p99Seconds: Number.NaN, error: `no instance could be scraped: ${this.scraper.lastError ?? 'no targets'}` }
    }
    const d = windowDelta(from, now)
    return {
      samples: d.requests,
      errorRate: d.requests > 0 ? d.errors / d.requests : Number.NaN,
      p99Seconds: histogramQuantile(0.99, d.buckets),
    }
  }

  close(): Promise<void> {
    return this.scraper.stop()
  }
}

/** One measurement, judged: too few samples is inconclusive; NaN is inconclusive; a breach is failed. */
export function judge(raw: RawMeasurement, settings: ResolvedAnalysis, t: number): Measurement {
  const p99Ms = raw.p99Seconds * 1000
  if (raw.error !== undefined) {
    return { t, samples: raw.samples, errorRate: raw.errorRate, p99Ms, phases: { errorRate: 'error', p99: 'error' }, phase: 'error', message: raw.error }
  }
  const tooFew = raw.samples < settings.minSamples
  const metric = (value: number, max: number): MeasurementPhase => (tooFew || Number.isNaN(value) ? 'inconclusive' : value > max ? 'failed' : 'successful')
  const phases = { errorRate: metric(raw.errorRate, settings.maxErrorRate), p99: metric(p99Ms, settings.maxP99Ms) }
  const phase: MeasurementPhase = phases.errorRate === 'failed' || phases.p99 === 'failed' ? 'failed' : phases.errorRate === 'inconclusive' || phases.p99 === 'inconclusive' ? 'inconclusive' : 'successful'
  const parts = [
    `${Number.isNaN(raw.samples) ? '?' : raw.samples} requests`,
    `error rate ${Number.isNaN(raw.errorRate) ? 'n/a' : `${(raw.errorRate * 100).toFixed(2)} %`} (max ${(settings.maxErrorRate * 100).toFixed(2)} %)`,
    `p99 ${Number.isNaN(p99Ms) ? 'n/a' : `${p99Ms.toFixed(0)} ms`} (max ${settings.maxP99Ms} ms)`,
  ]
  if (tooFew) parts.push(`fewer than ${settings.minSamples} requests: inconclusive`)
  if (raw.note !== undefined) parts.push(raw.note)
  return { t, samples: raw.samples, errorRate: raw.errorRate, p99Ms, phases, phase, message: parts.join(', ') }
}

interface MetricCounts {
  successful: number
  failed: number
  inconclusive: number
  consecutiveErrors: number
  count: number
}

/** Argo's assessMetricStatus for one metric, plus: no successful measurement is no success. */
export function assessMetric(c: MetricCounts, s: ResolvedAnalysis): AnalysisPhase | 'running' {
  if (c.failed > s.failureLimit) return 'failed'
  if (c.inconclusive > s.inconclusiveLimit) return 'inconclusive'
  if (c.consecutiveErrors > s.consecutiveErrorLimit) return 'error'
  if (c.count >= s.count) return c.successful > 0 ? 'successful' : 'inconclusive'
  return 'running'
}

/** The run's phase from its metrics: a failure anywhere wins, then error, then inconclusive. */
export function assessRun(phases: ReadonlyArray<AnalysisPhase | 'running'>): AnalysisPhase | 'running' {
  for (const p of ['failed', 'error', 'inconclusive', 'running'] as const) if (phases.includes(p)) return p
  return 'successful'
}

export interface RunAnalysisOptions {
  readonly name: string
  readonly settings: ResolvedAnalysis
  readonly source: MetricsSource
  /** ms since the rollout started */
  readonly now: () => number
  /** waits up to ms, throwing if the deploy was aborted */
  readonly wait: (ms: number) => Promise<void>
  readonly onMeasurement?: (m: Measurement) => void
}

/** The error test (H0: rate ≤ maxErrorRate) and the latency test (H0: ≤ 1 % slower than maxP99Ms). */
export function gateDesigns(s: ResolvedAnalysis): { errorRate: SprtDesign; slow: SprtDesign } {
  return { errorRate: sprtDesign(s.maxErrorRate, s.effect, s.alpha, s.beta), slow: sprtDesign(SLOW_BUDGET, s.effect, s.alpha, s.beta) }
}

function detail(d: SprtDesign, st: MetricState, n: number, k: number, atMs: number, batch: number): TestDetail {
  const dn = st.decision === 'continue' ? n : st.n
  const dk = st.decision === 'continue' ? k : st.k
  const decision = st.decision === 'reject' ? 'failed' : st.decision === 'accept' ? 'successful' : st.decision === 'inconclusive' ? 'inconclusive' : 'undecided'
  return { n: dn, k: dk, estimate: dn > 0 ? dk / dn : Number.NaN, p0: d.p0, p1: d.p1, failAt: rejectBoundary(d, dn), passAt: acceptBoundary(d, dn), decision, atMs: st.decision === 'continue' ? atMs : st.atMs, batch }
}

const pctText = (x: number): string => (Number.isNaN(x) ? 'n/a' : `${(x * 100).toFixed(1)} %`)

/** One test as a person reads it: `errors n 71, k 0 (0.0 %), fails at k ≥ 4, passes at k ≤ 0: successful`. */
export function formatTest(name: string, t: TestDetail): string {
  return `${name} n ${t.n}, k ${t.k} (${pctText(t.estimate)}; H0 ≤ ${pctText(t.p0)}, H1 ≥ ${pctText(t.p1)}), fails at k ≥ ${t.failAt}, passes at k ≤ ${t.passAt < 0 ? 'none yet' : t.passAt}: ${t.decision}`
}

/**
 * One sequential measurement: both tests fed the source's cumulative counts at every scrape until
 * one fails, both pass, or the window reaches `maxMeasurementMs`.
 */
export async function measureSequential(o: RunAnalysisOptions): Promise<Measurement> {
  const s = o.settings
  const source = o.source
  if (source.counts === undefined) throw new TypeError('the sequential gate needs a source that counts (the embedded one)')
  const designs = gateDesigns(s)
  const limits: SequentialLimits = { minMs: s.minMeasurementMs, maxMs: s.maxMeasurementMs, minSamples: s.minSamples }
  await source.begin()
  const start = o.now()
  let e: MetricState = { decision: 'continue' }
  let l: MetricState = { decision: 'continue' }
  let lastE = 0
  let lastL = 0
  for (;;) {
    await o.wait(Math.min(s.scrapePeriodMs, Math.max(0, start + s.maxMeasurementMs - o.now())))
    const elapsed = o.now() - start
    const c = await source.counts()
    const p99Ms = c.p99Seconds * 1000
    if (c.error !== undefined) {
      return { t: o.now(), samples: c.requests, errorRate: Number.NaN, p99Ms, phases: { errorRate: 'error', p99: 'error' }, phase: 'error', message: c.error }
    }
    const nE = c.requests + c.routerErrors
    const kE = c.errors + c.routerErrors
    const nL = c.requests + c.slowInFlight
    const kL = c.slow + c.slowInFlight
    e = step(designs.errorRate, limits, e, nE, kE, elapsed)
    l = step(designs.slow, limits, l, nL, kL, elapsed)
    const failed = e.decision === 'reject' || l.decision === 'reject'
    const done = failed || (e.decision !== 'continue' && l.decision !== 'continue')
    const batches = { e: nE - lastE, l: nL - lastL }
    lastE = nE
    lastL = nL
    if (!done) continue
    const tests = { errorRate: detail(designs.errorRate, e, nE, kE, elapsed, batches.e), slow: detail(designs.slow, l, nL, kL, elapsed, batches.l) }
    const phases = { errorRate: phaseOf(e), p99: phaseOf(l) }
    const phase: MeasurementPhase = failed ? 'failed' : phases.errorRate === 'successful' && phases.p99 === 'successful' ? 'successful' : 'inconclusive'
    const signals = { histogramRequests: c.requests, errors5xx: c.errors, routerErrors: c.routerErrors, slowFinished: c.slow, slowInFlight: c.slowInFlight, slowAboveMs: c.slowAboveMs }
    const parts = [formatTest('errors', tests.errorRate), formatTest(`slower than ${c.slowAboveMs} ms`, tests.slow)]
    if (c.routerErrors > 0 || c.slowInFlight > 0) parts.push(`router: ${c.routerErrors} reset/refused/lost/timed out, ${c.slowInFlight} in flight > ${s.maxP99Ms} ms`)
    if (phase === 'inconclusive') parts.push(`undecided after ${(s.maxMeasurementMs / 1000).toFixed(0)} s`)
    const decisive = l.decision === 'reject' && e.decision !== 'reject' ? tests.slow : tests.errorRate
    return {
      t: o.now(),
      samples: nE,
      errorRate: nE > 0 ? kE / nE : Number.NaN,
      p99Ms,
      phases,
      phase,
      message: `${(elapsed / 1000).toFixed(1)} s: ${parts.join('; ')}`,
      n: decisive.n,
      k: decisive.k,
      estimate: decisive.estimate,
      boundary: decisive.failAt,
      tests,
      signals,
    }
  }
}

function phaseOf(st: MetricState): MeasurementPhase {
  return st.decision === 'reject' ? 'failed' : st.decision === 'accept' ? 'successful' : 'inconclusive'
}

/** Runs one analysis to its end: `count` measurements, or earlier when a limit is passed. */
export async function runAnalysis(o: RunAnalysisOptions): Promise<AnalysisRun> {
  const s = o.settings
  const startedAt = o.now()
  const measurements: Measurement[] = []
  const counts = { errorRate: newCounts(), p99: newCounts() }
  const sequential = s.gate === 'sequential'
  if (!sequential) await o.source.begin()
  let next = Date.now() + s.intervalMs
  for (;;) {
    let m: Measurement
    if (sequential) {
      m = await measureSequential(o)
    } else {
      await o.wait(Math.max(0, next - Date.now()))
      next += s.intervalMs
      m = judge(await o.source.measure(s.intervalMs), s, o.now())
    }
    measurements.push(m)
    o.onMeasurement?.(m)
    for (const k of ['errorRate', 'p99'] as const) {
      const c = counts[k]
      const p = m.phases[k]
      // Argo: an errored measurement is counted apart (consecutiveErrorLimit), never towards count
      if (p === 'error') {
        c.consecutiveErrors++
        continue
      }
      c.consecutiveErrors = 0
      c.count++
      if (p === 'successful') c.successful++
      if (p === 'failed') c.failed++
      if (p === 'inconclusive') c.inconclusive++
    }
    if (sequential && m.phase === 'error') await o.wait(s.scrapePeriodMs)
    const phase = assessRun([assessMetric(counts.errorRate, s), assessMetric(counts.p99, s)])
    if (phase !== 'running') {
      const last = measurements[measurements.length - 1] as Measurement
      const message =
        phase === 'successful'
          ? `${measurements.length} measurements, ${counts.errorRate.successful} successful`
          : phase === 'failed'
            ? `measurement ${measurements.length} failed: ${last.message}`
            : phase === 'inconclusive'
              ? `inconclusive after ${measurements.length} measurements (limit ${s.inconclusiveLimit}): ${last.message}`
              : `${counts.errorRate.consecutiveErrors} measurements in a row could not be taken: ${last.message}`
      return { name: o.name, source: s.source, gate: s.gate, startedAt, endedAt: o.now(), phase, message, measurements }
    }
  }
}

function newCounts(): MetricCounts {
  return { successful: 0, failed: 0, inconclusive: 0, consecutiveErrors: 0, count: 0 }
}
