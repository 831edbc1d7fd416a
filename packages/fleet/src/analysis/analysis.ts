import type { ResolvedAnalysis } from '../options/progressive.js'
import { histogramQuantile, RevisionScraper, windowDelta, type ScrapeTarget, type TotalsSnapshot } from './scrape.js'

/**
 * The analysis that gates blue-green and canary, with Argo Rollouts' semantics
 * (analysis/analysis.go assessMetricStatus): a measurement every `interval`, `count` of them;
 * more than `failureLimit` failed measurements fail the run, more than `inconclusiveLimit`
 * inconclusive ones make it inconclusive, more than `consecutiveErrorLimit` errors in a row
 * error it. Two metrics, each measured over the window since the previous measurement on the
 * revision under test only: error rate (5xx / all) and p99 latency. A window with fewer than
 * `minSamples` requests is inconclusive — too little traffic is never a pass — and, unlike
 * Argo, a run whose measurements were never successful is not successful either.
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
}

export interface AnalysisRun {
  /** e.g. 'canary step 2 (weight 5)', 'pre-promotion', 'post-promotion' */
  readonly name: string
  readonly source: 'metrics' | 'prometheus'
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
  close(): Promise<void>
}

/** Scrapes the revision's instances (its `/metrics`), running totals with counter-reset handling. */
export class ScrapeSource implements MetricsSource {
  readonly scraper: RevisionScraper
  #last: TotalsSnapshot | undefined
  #scrapesAtLast = 0
  #failuresAtLast = 0

  constructor(targets: () => readonly ScrapeTarget[], periodMs: number) {
    this.scraper = new RevisionScraper(targets, { periodMs })
    this.scraper.start()
  }

  async begin(): Promise<void> {
    this.#last = await this.scraper.snapshot()
    this.#scrapesAtLast = this.scraper.scrapes
    this.#failuresAtLast = this.scraper.failures
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

/** Runs one analysis to its end: `count` measurements, or earlier when a limit is passed. */
export async function runAnalysis(o: RunAnalysisOptions): Promise<AnalysisRun> {
  const s = o.settings
  const startedAt = o.now()
  const measurements: Measurement[] = []
  const counts = { errorRate: newCounts(), p99: newCounts() }
  await o.source.begin()
  let next = Date.now() + s.intervalMs
  for (;;) {
    await o.wait(Math.max(0, next - Date.now()))
    next += s.intervalMs
    const raw = await o.source.measure(s.intervalMs)
    const m = judge(raw, s, o.now())
    measurements.push(m)
    o.onMeasurement?.(m)
    for (const k of ['errorRate', 'p99'] as const) {
      const c = counts[k]
      c.count++
      const p = m.phases[k]
      if (p === 'error') c.consecutiveErrors++
      else c.consecutiveErrors = 0
      if (p === 'successful') c.successful++
      if (p === 'failed') c.failed++
      if (p === 'inconclusive') c.inconclusive++
    }
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
      return { name: o.name, source: s.source, startedAt, endedAt: o.now(), phase, message, measurements }
    }
  }
}

function newCounts(): MetricCounts {
  return { successful: 0, failed: 0, inconclusive: 0, consecutiveErrors: 0, count: 0 }
}
