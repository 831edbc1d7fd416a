import path from 'node:path'
import { GateCannotDecideError } from '../core/errors.js'
import { differenceMinRequestsToAccept } from '../analysis/confidence.js'
import { minRequestsToAccept } from '../analysis/sprt.js'
import { baselineDesign, gateDesigns, ScrapeSource, runAnalysis, type AnalysisRun, type Measurement, type MetricsSource, type RevisionSignal } from '../analysis/analysis.js'
import type { Router } from '../router/router.js'
import type { Instance } from '../runtime/instance.js'
import { PrometheusSource, writeTargetsFile } from '../analysis/promql.js'
import type { ResolvedDeployOptions, ResolvedRevision } from '../options/deploy.js'
import type { StrategyContext, StrategyResult } from './types.js'

interface Counters {
  requests: Record<string, number>
  errors: Record<string, number>
  non2xx: Record<string, number>
  failures: Record<string, number>
}

/** Desired, achievable and observed traffic shares of one period at a fixed weight. */
export interface WeightPeriod {
  /** ms since the rollout started */
  readonly from: number
  readonly to: number
  readonly label: string
  /** share (0..1) per revision the strategy asked for */
  readonly desired: Readonly<Record<string, number>>
  /** what the router can give: l7 = desired; l4 = share of ready instances (new connections only) */
  readonly achievable: Readonly<Record<string, number>>
  /** the router's requests per revision in the period, and their shares */
  readonly requests: Readonly<Record<string, number>>
  readonly observed: Readonly<Record<string, number>>
  /** 5xx answers per revision in the period */
  readonly errors: Readonly<Record<string, number>>
  /** non-2xx answers per revision in the period (the revision's own answers) */
  readonly non2xx: Readonly<Record<string, number>>
  /** everything else that failed per revision: lost, reset, refused (requests and connections), timeout, aborted */
  readonly failures: Readonly<Record<string, number>>
}

export interface Flip {
  /** ms since the rollout started: when the switch was ordered, and when the router applied it (after the endpoint lag) */
  readonly orderedAt: number
  readonly effectiveAt: number
  readonly to: string
  readonly why: string
}

/** What a bad release cost and how fast it was caught. */
export interface Detection {
  /** the revision judged bad */
  readonly revision: string
  /** ms since the rollout started when live users could first reach it (undefined: never, blue-green pre-promotion) */
  readonly exposedAt: number | undefined
  /** when the failing analysis decided */
  readonly detectedAt: number
  /** detectedAt − exposedAt (or − the analysis start when never exposed) */
  readonly detectionMs: number
  /** when the weight went back to 0 / the switch back was ordered */
  readonly abortAt: number
  /** when the stable revision took 100 % again with its full count available and the bad one gone */
  readonly stableRestoredAt: number | undefined
  readonly abortToStableMs: number | undefined
  /** the revision's requests in flight at the router when the weight went to 0 */
  readonly inFlightAtAbort?: number
  /** when its instances got SIGTERM (canary: once its requests in flight at the abort settled); undefined: at the abort */
  readonly drainAt?: number
}

export interface ProgressiveRecord {
  readonly strategy: 'canary' | 'blue-green'
  readonly analyses: readonly AnalysisRun[]
  readonly periods: readonly WeightPeriod[]
  readonly flips: readonly Flip[]
  /** set when an analysis judged the new revision bad (failed, inconclusive or error) */
  readonly judgedBad: boolean
  readonly detection: Detection | undefined
  /** blue-green: the preview router and the synthetic load on it */
  readonly preview: { readonly port: number; readonly requests: number; readonly ok: number; readonly failed: number } | undefined
  readonly notes: readonly string[]
}

export interface ProgressiveResult extends StrategyResult {
  readonly progressive: ProgressiveRecord
}

export function isProgressive(r: StrategyResult): r is ProgressiveResult {
  return (r as Partial<ProgressiveResult>).progressive !== undefined
}

/** Shared plumbing of blue-green and canary: waiting, scaling, the analysis source, the weight periods. */
export class Progressive {
  readonly ctx: StrategyContext
  readonly analyses: AnalysisRun[] = []
  readonly periods: WeightPeriod[] = []
  readonly flips: Flip[] = []
  readonly notes: string[] = []
  #period: ({ from: number; label: string; desired: Record<string, number>; achievable: Record<string, number> } & Counters) | undefined
  #targetsTimer: NodeJS.Timeout | undefined
  #sources: MetricsSource[] = []
  /** routers besides the deploy's that carry traffic to a revision (blue-green's preview) */
  readonly #routers: Router[] = []

  constructor(ctx: StrategyContext) {
    this.ctx = ctx
    const a = ctx.options.analysis
    if (a.source === 'prometheus' && a.prometheusTargetsFile !== undefined) {
      const file = path.resolve(a.prometheusTargetsFile)
      let last = ''
      const sync = (): void => {
        const targets = this.ctx.fleet
          .all()
          .filter((i) => i.state !== 'stopped')
          .map((i) => ({ id: i.id, revision: i.revision.name, host: i.host, port: i.port }))
        const key = JSON.stringify(targets)
        if (key === last) return
        last = key
        writeTargetsFile(file, a.prometheusNamespace, targets)
      }
      sync()
      this.#targetsTimer = setInterval(sync, 100)
      this.#targetsTimer.unref()
    }
  }

  /** Waits up to ms for `done`, waking at every fleet change; throws if the deploy was aborted. */
  async waitUntil(ms: number, done: () => boolean = () => false): Promise<boolean> {
    const end = Date.now() + ms
    while (Date.now() < end) {
      this.ctx.check()
      if (done()) return true
      await this.ctx.fleet.changed(Math.min(100, end - Date.now()))
    }
    this.ctx.check()
    return done()
  }

  readonly wait = async (ms: number): Promise<void> => {
    await this.waitUntil(ms)
  }

  available(rev: ResolvedRevision): number {
    return this.ctx.fleet.counts(rev.name, this.ctx.options.rolling.minReadySeconds * 1000).available
  }

  /**
   * Scale a revision to `n` instances: new ones are created, extra ones terminated gracefully
   * (SIGTERM, out of the pool after the endpoint lag). Resolves when `n` are available, or false
   * after the progress deadline.
   */
  async scale(rev: ResolvedRevision, n: number): Promise<boolean> {
    const live = this.ctx.fleet.live(rev.name)
    if (live.length < n) for (let i = live.length; i < n; i++) await this.ctx.fleet.create(rev)
    else if (live.length > n) {
      const victims = [...live].sort((a, b) => Number(a.ready) - Number(b.ready) || (b.readySince ?? b.createdAt) - (a.readySince ?? a.createdAt)).slice(0, live.length - n)
      for (const v of victims) void this.ctx.fleet.terminate(v)
    }
    const done = await this.waitUntil(this.ctx.options.rolling.progressDeadlineSeconds * 1000, () => this.available(rev) >= n || this.ctx.fleet.cannotStart(rev.name) !== undefined)
    return done && this.ctx.fleet.cannotStart(rev.name) === undefined
  }

  /** Why `scale(rev, n)` returned false: the revision cannot start, or the progress deadline passed. */
  scaleFailure(rev: ResolvedRevision, n: number): string {
    return (
      this.ctx.fleet.cannotStart(rev.name) ??
      `progress deadline exceeded: ${rev.name} did not reach ${n} available instances within ${this.ctx.options.rolling.progressDeadlineSeconds} s`
    )
  }

  terminateAll(rev: ResolvedRevision): Instance[] {
    const live = this.ctx.fleet.live(rev.name)
    for (const i of live) void this.ctx.fleet.terminate(i)
    return live
  }

  /** Every instance of the revision that is still running (ready or draining): what the analysis scrapes. */
  targets(rev: ResolvedRevision): Instance[] {
    return this.ctx.fleet.all().filter((i) => i.revision.name === rev.name && i.state !== 'stopped' && i.everStarted)
  }

  /** Another router whose traffic to a revision the gate must see (blue-green's preview). */
  addRouter(router: Router): void {
    this.#routers.push(router)
  }

  /** What the routers saw of the revision that its histogram cannot show: failures, hanging requests. */
  signal(rev: ResolvedRevision): RevisionSignal {
    const routers = (): Router[] => [this.ctx.router, ...this.#routers]
    return {
      failures: () => {
        let n = 0
        for (const r of routers()) {
          const x = r.stats().byRevision[rev.name]
          if (x) n += x.failures.refused + x.failures.reset + x.failures.lost + x.failures.timeout + x.refusedConnections
        }
        return n
      },
      inFlightOlderThan: (ms) => routers().reduce((n, r) => n + r.inFlightOlderThan(rev.name, ms), 0),
    }
  }

  source(rev: ResolvedRevision): MetricsSource {
    const a = this.ctx.options.analysis
    const s =
      a.source === 'prometheus'
        ? new PrometheusSource(a, rev.name)
        : new ScrapeSource(() => this.targets(rev), a.scrapePeriodMs, { maxP99Ms: a.maxP99Ms, signal: a.routerSignal ? this.signal(rev) : undefined })
    this.#sources.push(s)
    return s
  }

  async analyse(name: string, source: MetricsSource, baseline?: MetricsSource): Promise<AnalysisRun> {
    const a = this.ctx.options.analysis
    const shape =
      a.gate === 'sequential'
        ? `${a.count} sequential decision${a.count > 1 ? 's' : ''}, each ${a.minMeasurementMs / 1000}..${a.maxMeasurementMs / 1000} s`
        : `${a.count} × ${a.intervalMs} ms`
    const judged = a.compare === 'absolute' ? '' : baseline === undefined ? ', budgets only: the stable serves no traffic here' : a.compare === 'both' ? ', budgets and vs stable' : ', vs stable only'
    this.ctx.step('analysis', `${name}: start (${shape}, ${a.source}${a.source === 'metrics' && a.routerSignal ? ' + router' : ''}${judged})`)
    const run = await runAnalysis({
      name,
      settings: this.ctx.options.analysis,
      source,
      ...(baseline === undefined ? {} : { baseline }),
      now: () => this.ctx.now(),
      wait: this.wait,
      onMeasurement: (m: Measurement) => this.ctx.progress(`analysis ${name}: ${m.phase}: ${m.message}`),
    })
    this.analyses.push(run)
    this.ctx.step('analysis', `${name}: ${run.phase} (${run.message})`)
    return run
  }

  #counters(): Counters {
    const c: Counters = { requests: {}, errors: {}, non2xx: {}, failures: {} }
    for (const [rev, s] of Object.entries(this.ctx.router.stats().byRevision)) {
      c.requests[rev] = s.requests
      c.errors[rev] = s.responses['5xx']
      c.non2xx[rev] = s.responses['1xx'] + s.responses['3xx'] + s.responses['4xx'] + s.responses['5xx']
      const f = s.failures
      c.failures[rev] = f.lost + f.reset + f.refused + f.timeout + s.aborted + s.refusedConnections
    }
    return c
  }

  /** Starts a new traffic period (ending the one under way). */
  period(label: string, desired: Record<string, number>, achievable: Record<string, number>): void {
    this.endPeriod()
    this.#period = { from: this.ctx.now(), label, desired, achievable, ...this.#counters() }
  }

  endPeriod(): void {
    const p = this.#period
    if (p === undefined) return
    this.#period = undefined
    const now = this.#counters()
    const d: Counters = { requests: {}, errors: {}, non2xx: {}, failures: {} }
    let sum = 0
    for (const rev of new Set([...Object.keys(now.requests), ...Object.keys(p.desired)])) {
      for (const k of ['requests', 'errors', 'non2xx', 'failures'] as const) d[k][rev] = (now[k][rev] ?? 0) - (p[k][rev] ?? 0)
      sum += d.requests[rev] as number
    }
    const observed: Record<string, number> = {}
    for (const [rev, n] of Object.entries(d.requests)) observed[rev] = sum === 0 ? 0 : n / sum
    this.periods.push({ from: p.from, to: this.ctx.now(), label: p.label, desired: p.desired, achievable: p.achievable, observed, ...d })
  }

  async close(): Promise<void> {
    this.endPeriod()
    if (this.#targetsTimer) clearInterval(this.#targetsTimer)
    await Promise.all(this.#sources.map((s) => s.close()))
  }

  record(strategy: ProgressiveRecord['strategy'], judgedBad: boolean, detection: Detection | undefined, preview?: ProgressiveRecord['preview']): ProgressiveRecord {
    return { strategy, analyses: this.analyses, periods: this.periods, flips: this.flips, judgedBad, detection, preview, notes: this.notes }
  }
}

/** Shares as fractions, e.g. {v1: 95, v2: 5} → {v1: 0.95, v2: 0.05}. */
export function fractions(weights: Readonly<Record<string, number>>): Record<string, number> {
  const sum = Object.values(weights).reduce((a, b) => a + b, 0)
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(weights)) out[k] = sum === 0 ? 0 : v / sum
  return out
}

/** One place an analysis runs, and the traffic it can expect there. */
export interface GateStep {
  readonly name: string
  /** requests per second the revision under test gets at this step */
  readonly rate: number
  /** the canary's weight there (100 for blue-green: nothing serves beside it) */
  readonly weight: number
}

/** Where the deploy's analyses run and how much traffic each gets, from the options alone. */
export function gateSteps(o: ResolvedDeployOptions): GateStep[] {
  if (o.strategy === 'blue-green') {
    const out: GateStep[] = []
    if (o.blueGreen.prePromotionAnalysis) out.push({ name: 'pre-promotion (preview)', rate: o.blueGreen.previewRate, weight: 100 })
    if (o.blueGreen.postPromotionAnalysis) out.push({ name: 'post-promotion', rate: o.load.rate, weight: 100 })
    return out
  }
  if (o.strategy !== 'canary') return []
  const n = o.replicas
  const out: GateStep[] = []
  let weight = 0
  for (const [i, s] of o.canary.steps.entries()) {
    if ('setWeight' in s) weight = s.setWeight
    else if ('analysis' in s) {
      const canaryN = weight === 0 ? 0 : Math.max(1, Math.ceil((weight * n) / 100))
      // l4: new connections spread over the instances of both revisions (canary.ts)
      const share = o.router === 'l7' ? weight / 100 : weight >= 100 ? 1 : canaryN / n
      out.push({ name: `step ${i + 1} (weight ${weight})`, rate: o.load.rate * share, weight })
    }
  }
  return out
}

/**
 * Before anything starts: every analysis must be able to decide for a perfect release, i.e.
 * the requests its step gets within `maxMeasurementMs` reach twice the fewest any acceptance
 * takes (the margin absorbs pacing and a few failures). Otherwise the gate could only end
 * inconclusive there, and the deploy could never promote: a usage error (exit 64).
 */
export function checkGateCanDecide(o: ResolvedDeployOptions): void {
  const a = o.analysis
  if (a.gate !== 'sequential' || o.strategy === 'rolling') return
  const d = gateDesigns(a)
  const absoluteNeed = Math.max(minRequestsToAccept(d.errorRate), minRequestsToAccept(d.slow))
  const relativeNeed = a.compare === 'absolute' ? 0 : differenceMinRequestsToAccept(baselineDesign(a))
  for (const s of gateSteps(o)) {
    const compared = a.compare !== 'absolute' && s.weight < 100
    if (a.compare === 'baseline' && !compared) {
      throw new GateCannotDecideError(
        `analysis at ${s.name} cannot compare the canary with the stable revision: at weight 100 the stable serves no traffic, and --compare baseline turned the budgets off; ` +
          'use --compare both (the budgets decide there) or end --steps below weight 100',
        'analysis.compare',
      )
    }
    const fewest = Math.max(a.compare === 'baseline' ? 0 : absoluteNeed, compared ? relativeNeed : 0)
    const need = Math.max(2 * fewest, a.minSamples)
    const expected = (s.rate * a.maxMeasurementMs) / 1000
    if (expected >= need) continue
    const rateFlag = s.name.startsWith('pre-promotion') ? '--preview-rate' : '--rate'
    throw new GateCannotDecideError(
      `analysis at ${s.name} cannot decide: it gets about ${s.rate.toFixed(1)} req/s, ${expected.toFixed(0)} requests in --max-measurement-ms ${a.maxMeasurementMs}, ` +
        `and passing a release within --max-error-rate ${a.maxErrorRate} and --max-p99-ms ${a.maxP99Ms} at --alpha ${a.alpha} --beta ${a.beta} --effect ${a.effect} takes at least ${need} ` +
        `(twice the ${fewest} of a release without one failure${compared ? `, against a stable without one, at --baseline-error-margin ${a.baselineErrorMargin}` : ''}); ` +
        `raise ${rateFlag}, the step's weight (--steps) or --max-measurement-ms, or loosen the budgets${compared ? ' or the margin' : ''}`,
      'analysis.maxMeasurementMs',
    )
  }
}
