import { SLOW_BUDGET, type ResolvedAnalysis } from '../options/progressive.js'
import { histogramQuantile, RevisionScraper, windowDelta, type ScrapeTarget, type TotalsSnapshot } from './scrape.js'
import { confidenceInterval, differenceAcceptAt, differenceDecision, differenceRejectAt, type DifferenceDesign } from './confidence.js'
import { acceptBoundary, rejectBoundary, sprtDecision, sprtDesign, step, stepDecision, type MetricState, type SequentialLimits, type SprtDesign } from './sprt.js'

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

/** One side of a baseline comparison. */
export interface Side {
  readonly n: number
  readonly k: number
  /** k / n */
  readonly estimate: number
}

/**
 * A relative test, canary against stable. Errors: H0 "canary rate ≤ stable rate + margin", by
 * anytime-valid confidence sequences (confidence.ts). Latency: the stable's p99 over the window ×
 * the factor, rounded up to a bucket, is the canary's threshold; H0 "at most 1 % of the canary's
 * requests slower than it" by the same SPRT as the absolute latency test.
 */
export interface BaselineDetail {
  readonly canary: Side
  readonly stable: Side
  /** errors: canary − stable rate; latency: the canary's share above the threshold */
  readonly estimate: number
  /** errors: the margin; latency: the factor */
  readonly allowance: number
  /** the fewest canary k that fail at its n, and the most that pass (−1: none yet) */
  readonly failAt: number
  readonly passAt: number
  readonly decision: TestDetail['decision']
  readonly atMs: number
  /** canary requests the last scrape added */
  readonly batch: number
  /** latency: the stable's p99 (ms) and the threshold (a bucket, ms); undefined until the stable had enough requests */
  readonly stableP99Ms?: number
  readonly aboveMs?: number
  /** errors: the two confidence intervals at the failing level α/2 */
  readonly canaryInterval?: { readonly lower: number; readonly upper: number }
  readonly stableInterval?: { readonly lower: number; readonly upper: number }
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
  /** baseline comparison: the canary against the stable revision over the same window */
  readonly baseline?: { readonly errorRate: BaselineDetail; readonly latency: BaselineDetail }
  /** what gated the measurement (the other tests are shown, not counted) */
  readonly compare?: 'absolute' | 'both' | 'baseline'
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
  /** sequential gate: what happened since `begin`, cumulative (with `above` when `aboveMs` is given) */
  counts?(aboveMs?: number): Promise<SequentialCounts>
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
  /** the window's cumulative buckets (le in seconds), for the baseline comparison */
  readonly buckets?: ReadonlyArray<{ readonly le: number; readonly count: number }>
  /** asked for with `counts(aboveMs)`: requests slower than that bucket, and in flight longer */
  readonly above?: { readonly aboveMs: number; readonly slow: number; readonly slowInFlight: number }
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

  async counts(aboveMs?: number): Promise<SequentialCounts> {
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
    const base: SequentialCounts = { requests: d.requests, errors: d.errors, slow: Math.max(0, d.requests - fast), slowAboveMs: le * 1000, routerErrors, slowInFlight, p99Seconds: histogramQuantile(0.99, d.buckets), buckets: d.buckets }
    if (aboveMs !== undefined) {
      // the stable's bucket, or (a revision with other buckets) the canary's next one up: never none
      const at = slowBucket(now.buckets.keys(), aboveMs / 1000)
      const within = Number.isFinite(at) ? (d.buckets.find((b) => b.le === at)?.count ?? d.requests) : d.requests
      const inFlight = this.#signal && Number.isFinite(at) ? this.#signal.inFlightOlderThan(at * 1000) : 0
      Object.assign(base, { above: { aboveMs: at * 1000, slow: Math.max(0, d.requests - within), slowInFlight: inFlight } })
    }
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
  /** the stable revision over the same window, for `compare` 'both' or 'baseline'; undefined: no comparison here (the stable gets no traffic) */
  readonly baseline?: MetricsSource
}

/** The error test (H0: rate ≤ maxErrorRate) and the latency test (H0: ≤ 1 % slower than maxP99Ms). */
export function gateDesigns(s: ResolvedAnalysis): { errorRate: SprtDesign; slow: SprtDesign } {
  return { errorRate: sprtDesign(s.maxErrorRate, s.effect, s.alpha, s.beta), slow: sprtDesign(SLOW_BUDGET, s.effect, s.alpha, s.beta) }
}

const decisionOf = (st: MetricState): TestDetail['decision'] =>
  st.decision === 'reject' ? 'failed' : st.decision === 'accept' ? 'successful' : st.decision === 'inconclusive' ? 'inconclusive' : 'undecided'

function detail(d: SprtDesign, st: MetricState, n: number, k: number, atMs: number, batch: number): TestDetail {
  const dn = st.decision === 'continue' ? n : st.n
  const dk = st.decision === 'continue' ? k : st.k
  return { n: dn, k: dk, estimate: dn > 0 ? dk / dn : Number.NaN, p0: d.p0, p1: d.p1, failAt: rejectBoundary(d, dn), passAt: acceptBoundary(d, dn), decision: decisionOf(st), atMs: st.decision === 'continue' ? atMs : st.atMs, batch }
}

const pctText = (x: number): string => (Number.isNaN(x) ? 'n/a' : `${(x * 100).toFixed(1)} %`)

/** One test as a person reads it: `errors n 71, k 0 (0.0 %), fails at k ≥ 4, passes at k ≤ 0: successful`. */
export function formatTest(name: string, t: TestDetail): string {
  return `${name} n ${t.n}, k ${t.k} (${pctText(t.estimate)}; H0 ≤ ${pctText(t.p0)}, H1 ≥ ${pctText(t.p1)}), fails at k ≥ ${t.failAt}, passes at k ≤ ${t.passAt < 0 ? 'none yet' : t.passAt}: ${t.decision}`
}

/** Stable requests in the window before its p99 sets the canary's latency threshold (two above a p99). */
export const BASELINE_MIN_STABLE = 200

export function baselineDesign(s: ResolvedAnalysis): DifferenceDesign {
  return { margin: s.baselineErrorMargin, alpha: s.alpha, beta: s.beta }
}

const sideOf = (n: number, k: number): Side => ({ n, k, estimate: n > 0 ? k / n : Number.NaN })

/** `vs stable errors: canary n 340, k 0 (0.0 %), stable n 3300, k 2 (0.1 %), difference −0.1 % (margin 2.0 %), fails at k ≥ 9, passes at k ≤ 1: successful`. */
export function formatBaseline(name: 'errors' | 'latency', t: BaselineDetail): string {
  const sides = `canary n ${t.canary.n}, k ${t.canary.k} (${pctText(t.canary.estimate)}), stable n ${t.stable.n}, k ${t.stable.k} (${pctText(t.stable.estimate)})`
  const bounds = `fails at k ≥ ${t.failAt}, passes at k ≤ ${t.passAt < 0 ? 'none yet' : t.passAt}: ${t.decision}`
  if (name === 'errors') return `vs stable errors: ${sides}, difference ${pctText(t.estimate)} (margin ${pctText(t.allowance)}), ${bounds}`
  if (t.aboveMs === undefined) return `vs stable latency: the stable had fewer than ${BASELINE_MIN_STABLE} requests, no threshold yet (${sides}): ${t.decision}`
  const threshold = Number.isFinite(t.aboveMs) ? `${t.aboveMs} ms` : 'the last bucket'
  return `vs stable latency: slower than ${threshold} (stable p99 ${(t.stableP99Ms ?? Number.NaN).toFixed(0)} ms × ${t.allowance}): ${sides}, ${bounds}`
}

/**
 * The canary failures the gate let pass at a measurement, or the count it failed at: the gate's
 * term of the blast radius. The gating error tests only (absolute, relative or both).
 */
export function gateErrorBoundary(m: Measurement): number | undefined {
  const t = m.tests?.errorRate
  if (t === undefined) return undefined
  const gating: Array<{ failAt: number; decision: string }> = []
  if (m.compare !== 'baseline' || m.baseline === undefined) gating.push(t)
  if (m.baseline !== undefined && m.compare !== undefined && m.compare !== 'absolute') gating.push(m.baseline.errorRate)
  const least = Math.min(...gating.map((x) => x.failAt))
  if (m.phase === 'failed') return gating.find((x) => x.decision === 'failed')?.failAt ?? least
  return Math.max(0, least - 1)
}

/**
 * One sequential measurement: the tests fed the sources' cumulative counts at every scrape until
 * one that gates fails, all that gate pass, or the window reaches `maxMeasurementMs`. With a
 * baseline, the stable's counts are read over the same window, first (its p99 sets the canary's
 * latency threshold once it had `BASELINE_MIN_STABLE` requests; fixed from then on).
 */
export async function measureSequential(o: RunAnalysisOptions): Promise<Measurement> {
  const s = o.settings
  const source = o.source
  if (source.counts === undefined) throw new TypeError('the sequential gate needs a source that counts (the embedded one)')
  const base = s.compare !== 'absolute' && o.baseline?.counts !== undefined ? o.baseline : undefined
  const relative = base !== undefined
  const absolute = s.compare !== 'baseline' || !relative
  const designs = gateDesigns(s)
  const diff = baselineDesign(s)
  const limits: SequentialLimits = { minMs: s.minMeasurementMs, maxMs: s.maxMeasurementMs, minSamples: s.minSamples }
  await Promise.all([source.begin(), base?.begin()])
  const start = o.now()
  let e: MetricState = { decision: 'continue' }
  let l: MetricState = { decision: 'continue' }
  let re: MetricState = { decision: 'continue' }
  let rl: MetricState = { decision: 'continue' }
  let threshold: { aboveMs: number; stableP99Ms: number } | undefined
  // the stable's side when each relative test decided
  let reStable = sideOf(0, 0)
  let rlStable = sideOf(0, 0)
  const last = { e: 0, l: 0, re: 0, rl: 0 }
  for (;;) {
    await o.wait(Math.min(s.scrapePeriodMs, Math.max(0, start + s.maxMeasurementMs - o.now())))
    const elapsed = o.now() - start
    const b = base === undefined ? undefined : await (base.counts as NonNullable<MetricsSource['counts']>)()
    if (b !== undefined && b.error === undefined && threshold === undefined && b.requests >= BASELINE_MIN_STABLE) {
      const q = histogramQuantile(0.99, b.buckets ?? [])
      if (Number.isFinite(q)) threshold = { stableP99Ms: q * 1000, aboveMs: slowBucket((b.buckets ?? []).map((x) => x.le), q * s.baselineLatencyFactor) * 1000 }
    }
    const c = await source.counts(threshold?.aboveMs)
    const p99Ms = c.p99Seconds * 1000
    const error = c.error ?? (b?.error === undefined ? undefined : `the stable revision (the baseline): ${b.error}`)
    if (error !== undefined) {
      return { t: o.now(), samples: c.requests, errorRate: Number.NaN, p99Ms, phases: { errorRate: 'error', p99: 'error' }, phase: 'error', message: error }
    }
    const nE = c.requests + c.routerErrors
    const kE = c.errors + c.routerErrors
    const nL = c.requests + c.slowInFlight
    const kL = c.slow + c.slowInFlight
    e = step(designs.errorRate, limits, e, nE, kE, elapsed)
    l = step(designs.slow, limits, l, nL, kL, elapsed)
    let nR = c.requests
    let kR = 0
    let stableE = sideOf(0, 0)
    let stableL = sideOf(0, 0)
    if (b !== undefined) {
      stableE = sideOf(b.requests + b.routerErrors, b.errors + b.routerErrors)
      const wasRe: MetricState['decision'] = re.decision
      re = stepDecision(differenceDecision(diff, { n: nE, k: kE }, stableE), limits, re, nE, kE, elapsed)
      if (re.decision !== wasRe) reStable = stableE
      const wasRl: MetricState['decision'] = rl.decision
      if (threshold !== undefined && c.above !== undefined) {
        const within = Number.isFinite(threshold.aboveMs) ? (b.buckets?.find((x) => Math.abs(x.le * 1000 - threshold!.aboveMs) < 1e-6)?.count ?? b.requests) : b.requests
        stableL = sideOf(b.requests, Math.max(0, b.requests - within))
        nR = c.requests + c.above.slowInFlight
        kR = c.above.slow + c.above.slowInFlight
        rl = stepDecision(sprtDecision(designs.slow, nR, kR), limits, rl, nR, kR, elapsed)
      } else {
        stableL = sideOf(b.requests, 0)
        rl = stepDecision('continue', limits, rl, nR, kR, elapsed)
      }
      if (rl.decision !== wasRl) rlStable = stableL
    }
    const gating = [...(absolute ? [e, l] : []), ...(relative ? [re, rl] : [])]
    const failed = gating.some((x) => x.decision === 'reject')
    const done = failed || gating.every((x) => x.decision !== 'continue')
    const batches = { e: nE - last.e, l: nL - last.l, rl: nR - last.rl }
    last.e = nE
    last.l = nL
    last.rl = nR
    if (!done) continue
    const tests = { errorRate: detail(designs.errorRate, e, nE, kE, elapsed, batches.e), slow: detail(designs.slow, l, nL, kL, elapsed, batches.l) }
    const baseline = b === undefined
      ? undefined
      : {
          errorRate: relativeErrors(diff, re, nE, kE, re.decision === 'continue' ? stableE : reStable, elapsed, batches.e),
          latency: relativeLatency(designs.slow, rl, nR, kR, rl.decision === 'continue' ? stableL : rlStable, elapsed, batches.rl, threshold, s.baselineLatencyFactor),
        }
    const phases = absolute && relative
      ? { errorRate: worst(phaseOf(e), phaseOf(re)), p99: worst(phaseOf(l), phaseOf(rl)) }
      : relative ? { errorRate: phaseOf(re), p99: phaseOf(rl) } : { errorRate: phaseOf(e), p99: phaseOf(l) }
    const phase: MeasurementPhase = failed ? 'failed' : gating.every((x) => x.decision === 'accept') ? 'successful' : 'inconclusive'
    const signals = { histogramRequests: c.requests, errors5xx: c.errors, routerErrors: c.routerErrors, slowFinished: c.slow, slowInFlight: c.slowInFlight, slowAboveMs: c.slowAboveMs }
    const parts = [formatTest('errors', tests.errorRate), formatTest(`slower than ${c.slowAboveMs} ms`, tests.slow)]
    if (!absolute) parts[1] += ' (budgets off: shown, not gating)'
    if (baseline !== undefined) parts.push(formatBaseline('errors', baseline.errorRate), formatBaseline('latency', baseline.latency))
    else if (s.compare !== 'absolute') parts.push('vs stable: not compared (the stable revision serves no traffic here), the budgets decide')
    if (c.routerErrors > 0 || c.slowInFlight > 0) parts.push(`router: ${c.routerErrors} reset/refused/lost/timed out, ${c.slowInFlight} in flight > ${s.maxP99Ms} ms`)
    if (phase === 'inconclusive') parts.push(`undecided after ${(s.maxMeasurementMs / 1000).toFixed(0)} s`)
    const candidates: Array<{ n: number; k: number; estimate: number; failAt: number; decision: string }> = [
      ...(absolute ? [tests.errorRate, tests.slow] : []),
      ...(baseline !== undefined ? [{ ...baseline.errorRate, n: baseline.errorRate.canary.n, k: baseline.errorRate.canary.k }, { ...baseline.latency, n: baseline.latency.canary.n, k: baseline.latency.canary.k }] : []),
    ]
    const decisive = candidates.find((x) => x.decision === 'failed') ?? candidates[0] ?? tests.errorRate
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
      ...(baseline !== undefined ? { baseline } : {}),
      compare: s.compare,
      signals,
    }
  }
}

function worst(a: MeasurementPhase, b: MeasurementPhase): MeasurementPhase {
  for (const p of ['failed', 'inconclusive', 'successful'] as const) if (a === p || b === p) return p
  return a
}

function relativeErrors(d: DifferenceDesign, st: MetricState, n: number, k: number, stable: Side, atMs: number, batch: number): BaselineDetail {
  const dn = st.decision === 'continue' ? n : st.n
  const dk = st.decision === 'continue' ? k : st.k
  const canary = sideOf(dn, dk)
  return {
    canary,
    stable,
    estimate: canary.estimate - stable.estimate,
    allowance: d.margin,
    failAt: differenceRejectAt(d, dn, stable),
    passAt: differenceAcceptAt(d, dn, stable),
    decision: decisionOf(st),
    atMs: st.decision === 'continue' ? atMs : st.atMs,
    batch,
    canaryInterval: confidenceInterval(dn, dk, d.alpha / 2),
    stableInterval: confidenceInterval(stable.n, stable.k, d.alpha / 2),
  }
}

function relativeLatency(d: SprtDesign, st: MetricState, n: number, k: number, stable: Side, atMs: number, batch: number, threshold: { aboveMs: number; stableP99Ms: number } | undefined, factor: number): BaselineDetail {
  const t = detail(d, st, n, k, atMs, batch)
  return {
    canary: sideOf(t.n, t.k),
    stable,
    estimate: t.estimate,
    allowance: factor,
    failAt: t.failAt,
    passAt: t.passAt,
    decision: t.decision,
    atMs: t.atMs,
    batch,
    ...(threshold === undefined ? {} : { stableP99Ms: threshold.stableP99Ms, aboveMs: threshold.aboveMs }),
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
