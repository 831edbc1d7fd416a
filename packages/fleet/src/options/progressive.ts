import { parseArgoDuration } from '../core/durations.js'
import { InvalidOptionError } from '../core/errors.js'
import { loopbackHttpUrl } from '../core/ports.js'
import { int, intMs, ms, num, seconds } from '../core/validate.js'

/**
 * Options of the analysis that gates blue-green and canary, named as `manifests.ts` reads them
 * from an AnalysisTemplate (`AnalysisOptions`), with Argo Rollouts' semantics.
 */
export interface AnalysisSettings {
  /**
   * The error budget: the share of the revision's requests that may fail. Fixed gate: a window
   * above it fails. Sequential gate: H0 of the test (rate ≤ budget) against H1 (rate ≥ effect × budget).
   * @default 0.02
   */
  readonly maxErrorRate?: number
  /**
   * The latency budget, a bucket boundary of the service's histogram. Fixed gate: a window whose p99
   * is above it fails. Sequential gate: a binomial test on the requests slower than this (in-flight
   * ones older than it included) against 1 % of them.
   * @default 300
   */
  readonly maxP99Ms?: number
  /**
   * `sequential` (the embedded source's default): each measurement is Wald's SPRT, deciding as soon
   * as the evidence is clear, within `minMeasurementMs`..`maxMeasurementMs`. `fixed` (the default
   * with `prometheusUrl`, Argo's semantics): one window of `intervalMs` per measurement, judged
   * against the budgets.
   */
  readonly gate?: 'sequential' | 'fixed'
  /** Sequential gate: the chance of failing a revision that is within budget. @default 0.05 */
  readonly alpha?: number
  /** Sequential gate: the chance of passing a revision at effect × budget or worse. @default 0.05 */
  readonly beta?: number
  /** Sequential gate: H1 is a rate of `effect` × the budget (the indifference zone lies between). @default 3 */
  readonly effect?: number
  /** Sequential gate: no measurement passes before this long (a fault with a slow onset must have time to show). Argo duration or ms. @default 10000 */
  readonly minMeasurementMs?: number | string
  /** Sequential gate: a measurement still undecided after this long is inconclusive. Argo duration or ms. @default 120000 */
  readonly maxMeasurementMs?: number | string
  /**
   * Embedded source: the router's resets, refusals, lost requests and timeouts of the revision
   * count as its errors, and its requests in flight longer than `maxP99Ms` as slow — what the
   * service's own histogram cannot see.
   * @default true
   */
  readonly routerSignal?: boolean
  /**
   * Sequential gate, canary: what the canary is judged against. `absolute`: the budgets above.
   * `both`: the budgets and the stable revision over the same window (a stable that is failing
   * too cannot make a bad canary pass: the budgets still apply). `baseline`: the stable revision
   * only (the budgets explicitly off). The comparison needs the stable to serve traffic: an
   * analysis at weight 100 is judged by the budgets alone.
   * @default 'absolute'
   */
  readonly compare?: 'absolute' | 'both' | 'baseline'
  /** Baseline comparison: the canary's error rate may exceed the stable's by this much (absolute, 0.02 = 2 points) before it fails. @default maxErrorRate */
  readonly baselineErrorMargin?: number
  /**
   * Baseline comparison: the canary's p99 may be up to this many times the stable's p99 over the
   * same window (rounded up to a histogram bucket) before it fails.
   * @default 1.5
   */
  readonly baselineLatencyFactor?: number
  /** Fixed gate: time between measurements, and the window each one covers (`rate(...[interval])`). Argo duration or ms. @default 5000 */
  readonly intervalMs?: number | string
  /** Measurements (sequential: decisions) per analysis run. @default 1 sequential, 3 fixed */
  readonly count?: number
  /** Failed measurements tolerated; one more fails the run. @default 0 */
  readonly failureLimit?: number
  /** Inconclusive measurements tolerated; one more makes the run inconclusive (not promoted). @default 1 */
  readonly inconclusiveLimit?: number
  /** Consecutive measurements that could not be taken (Prometheus down); one more errors the run. @default 4 (Argo's) */
  readonly consecutiveErrorLimit?: number
  /** Fixed gate: a window with fewer requests than this is inconclusive. Sequential gate: no pass on fewer requests. @default 20 */
  readonly minSamples?: number
  /** Embedded source: how often each instance's /metrics is scraped. @default min(1000, intervalMs / 4) */
  readonly scrapePeriodMs?: number
  /**
   * A Prometheus on loopback (`http://127.0.0.1:9090`) to query instead of scraping the
   * instances: the AnalysisTemplate's PromQL (k8s/canary) with the revision as `canary-hash`.
   */
  readonly prometheusUrl?: string
  /**
   * With `prometheusUrl`: a file_sd JSON file the fleet keeps up to date with every instance as a
   * target labelled `namespace` and `rollouts_pod_template_hash` (= the revision name), for the
   * Prometheus' `file_sd_configs`.
   */
  readonly prometheusTargetsFile?: string
  /**
   * With `prometheusUrl`: that Prometheus' scrape interval; the query window is at least 4 × it.
   * @default read from the server's configuration (`/api/v1/status/config`, the longest `scrape_interval`)
   */
  readonly prometheusScrapeIntervalMs?: number
  /** The `namespace` label on the targets and in the queries. @default 'zerodrop' */
  readonly prometheusNamespace?: string
  /** PromQL templates with Argo's `{{args.*}}` placeholders. @default the queries of k8s/canary's AnalysisTemplate */
  readonly errorRateQuery?: string
  readonly p99Query?: string
}

export interface ResolvedAnalysis {
  readonly maxErrorRate: number
  readonly maxP99Ms: number
  readonly gate: 'sequential' | 'fixed'
  readonly alpha: number
  readonly beta: number
  readonly effect: number
  readonly minMeasurementMs: number
  readonly maxMeasurementMs: number
  readonly routerSignal: boolean
  readonly compare: 'absolute' | 'both' | 'baseline'
  readonly baselineErrorMargin: number
  readonly baselineLatencyFactor: number
  readonly intervalMs: number
  readonly count: number
  readonly failureLimit: number
  readonly inconclusiveLimit: number
  readonly consecutiveErrorLimit: number
  readonly minSamples: number
  readonly scrapePeriodMs: number
  readonly source: 'metrics' | 'prometheus'
  readonly prometheusUrl: string | undefined
  readonly prometheusTargetsFile: string | undefined
  readonly prometheusScrapeIntervalMs: number | undefined
  readonly prometheusNamespace: string
  readonly errorRateQuery: string | undefined
  readonly p99Query: string | undefined
}

/** Argo Rollouts canary steps; `analysis` is an inline (blocking) analysis with the deploy's analysis settings. */
export type CanaryStepInput =
  | { readonly setWeight: number }
  | { readonly pause: { readonly duration?: number | string | undefined; readonly durationMs?: number | undefined } }
  | { readonly analysis: object | true }

export type CanaryStep = { readonly setWeight: number } | { readonly pause: { readonly durationMs: number } } | { readonly analysis: true }

export interface CanaryOptions {
  /** @default setWeight 1, 5, 25, 50, 100, each followed by an analysis */
  readonly steps?: readonly CanaryStepInput[]
  /** After an abort, canary instances are drained this long after the weight went to 0. @default 0 */
  readonly abortScaleDownDelaySeconds?: number
}

export interface ResolvedCanary {
  readonly steps: readonly CanaryStep[]
  readonly abortScaleDownDelaySeconds: number
}

export interface BlueGreenOptions {
  /** Blue is drained this long after the switch (kept for an instant flip back). @default 30 (Argo's) */
  readonly scaleDownDelaySeconds?: number
  /** Run the analysis on synthetic load against the preview before the switch. @default true */
  readonly prePromotionAnalysis?: boolean
  /** Run the analysis on live traffic after the switch; a failure flips back to blue. @default true */
  readonly postPromotionAnalysis?: boolean
  /** Preview router port on 127.0.0.1 (0 = a free one). @default 0 */
  readonly previewPort?: number
  /** Synthetic requests per second against the preview during pre-promotion analysis. @default 50 */
  readonly previewRate?: number
  /** Argo's `autoPromotionSeconds`: wait this long after green is proven before the switch. @default 0 */
  readonly autoPromotionSeconds?: number
}

export interface ResolvedBlueGreen {
  readonly scaleDownDelaySeconds: number
  readonly prePromotionAnalysis: boolean
  readonly postPromotionAnalysis: boolean
  readonly previewPort: number
  readonly previewRate: number
  readonly autoPromotionSeconds: number
}

/** The latency test's budget: the share of requests slower than `maxP99Ms` a p99 budget allows. */
export const SLOW_BUDGET = 0.01

export const COMPARE_MODES: readonly ['absolute', 'both', 'baseline'] = ['absolute', 'both', 'baseline']

export const DEFAULT_CANARY_WEIGHTS: readonly number[] = Object.freeze([1, 5, 25, 50, 100])

function bool(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new InvalidOptionError(option, 'true or false', value)
  return value
}

function loopbackUrl(option: string, value: unknown): string | undefined {
  if (value === undefined) return undefined
  const url = loopbackHttpUrl(value)
  if (url === undefined) {
    throw new InvalidOptionError(option, 'an http:// URL on loopback, e.g. http://127.0.0.1:9090 (the fleet only talks to this machine)', value)
  }
  return url.href.replace(/\/$/, '')
}

export function resolveAnalysis(a: AnalysisSettings = {}): ResolvedAnalysis {
  const intervalMs = typeof a.intervalMs === 'string' ? parseArgoDuration(a.intervalMs, 'analysis.intervalMs') : ms('analysis.intervalMs', a.intervalMs, 5000, 100)
  if (intervalMs < 100) throw new InvalidOptionError('analysis.intervalMs', 'at least 100 ms', a.intervalMs)
  const prometheusUrl = loopbackUrl('analysis.prometheusUrl', a.prometheusUrl)
  const gate = a.gate ?? (prometheusUrl === undefined ? 'sequential' : 'fixed')
  if (gate !== 'sequential' && gate !== 'fixed') throw new InvalidOptionError('analysis.gate', "'sequential' or 'fixed'", a.gate)
  if (gate === 'sequential' && prometheusUrl !== undefined) {
    throw new InvalidOptionError('analysis.gate', "'fixed' with prometheusUrl (a Prometheus answers rates over fixed windows, the AnalysisTemplate's semantics)", gate)
  }
  const effect = num('analysis.effect', a.effect, 3, 1.1, 100)
  const maxErrorRate = num('analysis.maxErrorRate', a.maxErrorRate, 0.02, 0, 1)
  if (gate === 'sequential' && !(maxErrorRate > 0 && maxErrorRate * effect < 1)) {
    throw new InvalidOptionError('analysis.maxErrorRate', `above 0 and below 1 / effect (${(1 / effect).toFixed(3)}) with the sequential gate`, maxErrorRate)
  }
  const duration = (option: string, v: number | string | undefined, fallback: number): number =>
    v === undefined ? fallback : typeof v === 'string' ? parseArgoDuration(v, option) : num(option, v, fallback, 0)
  const minMeasurementMs = duration('analysis.minMeasurementMs', a.minMeasurementMs, 10_000)
  const maxMeasurementMs = duration('analysis.maxMeasurementMs', a.maxMeasurementMs, 120_000)
  if (maxMeasurementMs < Math.max(minMeasurementMs, 100)) {
    throw new InvalidOptionError('analysis.maxMeasurementMs', `at least analysis.minMeasurementMs (${minMeasurementMs} ms) and 100 ms`, a.maxMeasurementMs)
  }
  const compare = a.compare ?? 'absolute'
  if (!COMPARE_MODES.includes(compare)) throw new InvalidOptionError('analysis.compare', COMPARE_MODES.map((m) => `'${m}'`).join(', '), a.compare)
  if (compare !== 'absolute' && gate !== 'sequential') {
    throw new InvalidOptionError('analysis.compare', "'absolute' with the fixed gate (the baseline comparison is a sequential test on the embedded source)", compare)
  }
  return Object.freeze({
    maxErrorRate,
    maxP99Ms: num('analysis.maxP99Ms', a.maxP99Ms, 300, 0),
    gate,
    alpha: num('analysis.alpha', a.alpha, 0.05, 0.0001, 0.25),
    beta: num('analysis.beta', a.beta, 0.05, 0.0001, 0.25),
    effect,
    minMeasurementMs,
    maxMeasurementMs,
    routerSignal: bool('analysis.routerSignal', a.routerSignal, true),
    compare,
    baselineErrorMargin: num('analysis.baselineErrorMargin', a.baselineErrorMargin, Math.max(maxErrorRate, 0.0001), 0.0001, 0.5),
    baselineLatencyFactor: num('analysis.baselineLatencyFactor', a.baselineLatencyFactor, 1.5, 1, 100),
    intervalMs,
    count: int('analysis.count', a.count, gate === 'sequential' ? 1 : 3, 1),
    failureLimit: int('analysis.failureLimit', a.failureLimit, 0, 0),
    inconclusiveLimit: int('analysis.inconclusiveLimit', a.inconclusiveLimit, 1, 0),
    consecutiveErrorLimit: int('analysis.consecutiveErrorLimit', a.consecutiveErrorLimit, 4, 0),
    minSamples: int('analysis.minSamples', a.minSamples, 20, 1),
    scrapePeriodMs: intMs('analysis.scrapePeriodMs', a.scrapePeriodMs, Math.max(100, Math.min(1000, Math.floor(intervalMs / 4))), 50),
    source: prometheusUrl === undefined ? 'metrics' : 'prometheus',
    prometheusUrl,
    prometheusTargetsFile: a.prometheusTargetsFile,
    prometheusScrapeIntervalMs: a.prometheusScrapeIntervalMs === undefined ? undefined : num('analysis.prometheusScrapeIntervalMs', a.prometheusScrapeIntervalMs, 0, 1),
    prometheusNamespace: a.prometheusNamespace ?? 'zerodrop',
    errorRateQuery: a.errorRateQuery,
    p99Query: a.p99Query,
  })
}

/** The longest one analysis run can take, errored measurements aside. */
export function analysisMaxMs(a: ResolvedAnalysis): number {
  return a.gate === 'sequential' ? a.count * (a.maxMeasurementMs + a.scrapePeriodMs) : a.intervalMs * (a.count + 2)
}

/**
 * `--steps` syntax: `1,5,25,50,100` (an analysis after each weight), or Argo-like
 * `w1,pause:10s,analysis,w5,...`. A part that is neither is blamed as typed.
 */
export function parseStepsFlag(text: string): CanaryStepInput[] {
  const parts = text.split(',').map((p) => p.trim())
  const expected = "weights like '1,5,25,50,100', or steps like 'w1,pause:10s,analysis,w50,analysis'"
  const empty = parts.findIndex((p) => p === '')
  if (empty !== -1) throw new InvalidOptionError('canary.steps', `${expected}, with no empty part`, text)
  const weight = (p: string): boolean => /^\d+(\.\d+)?$/.test(p)
  const step = (p: string): CanaryStepInput | undefined => {
    let m = /^(?:w|setWeight[:=])(\d+(?:\.\d+)?)$/.exec(p)
    if (m) return { setWeight: Number(m[1]) }
    m = /^pause(?:[:=](.+))?$/.exec(p)
    if (m) return { pause: { duration: m[1] } }
    if (p === 'analysis') return { analysis: true }
    return undefined
  }
  const bad = parts.find((p) => !weight(p) && step(p) === undefined)
  if (bad !== undefined) throw new InvalidOptionError('canary.steps', expected, bad)
  if (parts.every(weight)) return parts.flatMap((p) => [{ setWeight: Number(p) }, { analysis: true as const }])
  const plain = parts.find(weight)
  if (plain !== undefined) throw new InvalidOptionError('canary.steps', `steps written one way: 'w${plain}' among Argo-like steps (or weights only)`, plain)
  return parts.map((p) => step(p) as CanaryStepInput)
}

export function resolveCanary(c: CanaryOptions = {}): ResolvedCanary {
  const input = c.steps ?? DEFAULT_CANARY_WEIGHTS.flatMap((w) => [{ setWeight: w }, { analysis: true as const }])
  if (!Array.isArray(input) || input.length === 0) throw new InvalidOptionError('canary.steps', 'a non-empty list of steps', input)
  const steps = input.map((s: CanaryStepInput, i): CanaryStep => {
    const at = `canary.steps[${i}]`
    if (s !== null && typeof s === 'object' && 'setWeight' in s) return { setWeight: num(`${at}.setWeight`, s.setWeight, 0, 0, 100) }
    if (s !== null && typeof s === 'object' && 'pause' in s) {
      const p = s.pause ?? {}
      if (p.durationMs !== undefined) return { pause: { durationMs: ms(`${at}.pause.durationMs`, p.durationMs, 0) } }
      if (p.duration === undefined) throw new InvalidOptionError(`${at}.pause.duration`, 'a duration (an indefinite pause needs a human, and the fleet has none)', undefined)
      return { pause: { durationMs: parseArgoDuration(p.duration, `${at}.pause.duration`) } }
    }
    if (s !== null && typeof s === 'object' && 'analysis' in s) return { analysis: true }
    throw new InvalidOptionError(at, '{ setWeight }, { pause: { duration } } or { analysis }', s)
  })
  return Object.freeze({ steps, abortScaleDownDelaySeconds: seconds('canary.abortScaleDownDelaySeconds', c.abortScaleDownDelaySeconds, 0) })
}

export function resolveBlueGreen(b: BlueGreenOptions = {}): ResolvedBlueGreen {
  return Object.freeze({
    scaleDownDelaySeconds: seconds('blueGreen.scaleDownDelaySeconds', b.scaleDownDelaySeconds, 30),
    prePromotionAnalysis: bool('blueGreen.prePromotionAnalysis', b.prePromotionAnalysis, true),
    postPromotionAnalysis: bool('blueGreen.postPromotionAnalysis', b.postPromotionAnalysis, true),
    previewPort: int('blueGreen.previewPort', b.previewPort, 0, 0, 65535),
    previewRate: num('blueGreen.previewRate', b.previewRate, 50, 1),
    autoPromotionSeconds: seconds('blueGreen.autoPromotionSeconds', b.autoPromotionSeconds, 0),
  })
}
