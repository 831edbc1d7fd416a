import type { Accounting } from './accounting.js'
import type { AnalysisRun } from '../analysis/analysis.js'
import type { ResolvedAnalysis, ResolvedBlueGreen, ResolvedCanary } from '../options/progressive.js'
import type { ProgressiveRecord } from '../strategies/progressive.js'

/**
 * What an injected bad release cost, against what its exposure allows: the bound is
 * Σ over the periods the release was exposed to users before the abort of
 * (its share of traffic × the router's request rate × the period's length) × its error rate —
 * weight × request rate × error rate × detection time, with the weight as it changed step by step
 * (l7: the desired weight; l4: the share of instances, what new connections get).
 */
export interface BadRelease {
  readonly revision: string
  /** non-2xx answers the release gave users (the router's count); not among `dropped` */
  readonly failed: number
  /** of those, answered before the abort was ordered */
  readonly failedBeforeAbort: number
  /** its 5xx share of all its requests (router) */
  readonly errorRate: number
  /** Σ share × requests over the exposed periods: the requests the weight entitled it to */
  readonly entitledRequests: number
  /** requests it actually got in those periods */
  readonly requestsBeforeAbort: number
  /** router requests per second over the exposure */
  readonly rate: number
  /** ms from exposure to the abort */
  readonly exposureMs: number
  /** errorRate × entitledRequests */
  readonly bound: number
  readonly withinBound: boolean
}

export interface ProgressiveReport extends ProgressiveRecord {
  readonly badRelease: BadRelease | undefined
}

/** Allowance over the bound for requests in flight at the step boundaries and the abort. */
export const BOUND_SLACK = 3

export function progressiveReport(record: ProgressiveRecord, accounting: Accounting, to: string): ProgressiveReport {
  if (!record.judgedBad || record.detection === undefined) return { ...record, badRelease: undefined }
  const d = record.detection
  const acc = accounting.byRevision[to]
  const exposed = record.periods.filter((p) => (p.achievable[to] ?? 0) > 0 && p.from < d.abortAt)
  let entitled = 0
  let got = 0
  let failedBeforeAbort = 0
  let total = 0
  let ms = 0
  for (const p of exposed) {
    const sum = Object.values(p.requests).reduce((a, b) => a + b, 0)
    entitled += (p.achievable[to] ?? 0) * sum
    got += p.requests[to] ?? 0
    failedBeforeAbort += p.errors[to] ?? 0
    total += sum
    ms += p.to - p.from
  }
  const errorRate = acc && acc.requests > 0 ? acc.status['5xx'] / acc.requests : 0
  const bound = errorRate * entitled
  const failed = acc?.non2xx ?? 0
  return {
    ...record,
    badRelease: {
      revision: to,
      failed,
      failedBeforeAbort,
      errorRate,
      entitledRequests: entitled,
      requestsBeforeAbort: got,
      rate: ms > 0 ? (total * 1000) / ms : 0,
      exposureMs: ms,
      bound,
      withinBound: failed <= Math.ceil(bound) + BOUND_SLACK,
    },
  }
}

/**
 * The bad release's failures against its bound, never "within" for a number above the printed
 * bound: `3 failed ≤ bound 3.4`; `5 failed ≤ bound 3.4 + 2 in flight at the step boundaries and
 * the abort (at most 7 allowed)`; `9 failed > bound 3.4 + 3 in flight allowed: ABOVE the bound`.
 */
export function boundWording(b: Pick<BadRelease, 'failed' | 'bound' | 'withinBound'>): string {
  // enough digits that the printed bound sits on the same side of the count as the real one (12.96, not 13.0, for 13)
  let digits = 1
  while (digits < 4 && b.failed > b.bound && Number(b.bound.toFixed(digits)) >= b.failed) digits++
  const bound = b.bound.toFixed(digits)
  if (b.failed <= b.bound) return `${b.failed} failed ≤ bound ${bound}`
  if (b.withinBound) {
    return `${b.failed} failed ≤ bound ${bound} + ${Math.ceil(b.failed - b.bound)} in flight at the step boundaries and the abort (at most ${Math.ceil(b.bound) + BOUND_SLACK} allowed)`
  }
  return `${b.failed} failed > bound ${bound} + ${BOUND_SLACK} in flight allowed: ABOVE the bound`
}

const pct = (x: number): string => (Number.isNaN(x) ? 'n/a' : `${(x * 100).toFixed(x < 0.1 && x > 0 ? 1 : 0)}%`)
const secs = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`)

function runLine(a: AnalysisRun): string[] {
  const out = [`  ${a.name} (${a.source}): ${a.phase.toUpperCase()} +${secs(a.startedAt)} → +${secs(a.endedAt)}: ${a.message}`]
  for (const m of a.measurements) {
    out.push(
      `    +${secs(m.t)} ${m.phase.padEnd(12)} ${Number.isNaN(m.samples) ? '?' : m.samples} requests, error rate ${pct(m.errorRate)} (${m.phases.errorRate}), p99 ${Number.isNaN(m.p99Ms) ? 'n/a' : `${m.p99Ms.toFixed(0)} ms`} (${m.phases.p99})`,
    )
  }
  return out
}

/** The terminal section: weights per period, analyses and measurements, flips, detection, the bad release against its bound. */
export function formatProgressive(r: ProgressiveReport): string {
  const out: string[] = []
  out.push(`${r.strategy}: traffic by period (desired / achievable / observed share of the router's requests)`)
  for (const p of r.periods) {
    const revs = Object.keys({ ...p.desired, ...p.requests })
    const cells = revs.map((v) => `${v} ${pct(p.desired[v] ?? 0)}/${pct(p.achievable[v] ?? 0)}/${pct(p.observed[v] ?? 0)} (${p.requests[v] ?? 0} req${p.errors[v] ? `, ${p.errors[v]} 5xx` : ''})`)
    out.push(`  +${secs(p.from).padEnd(7)} → +${secs(p.to).padEnd(7)} ${p.label.padEnd(18)} ${cells.join('  ')}`)
  }
  if (r.preview) out.push(`preview   127.0.0.1:${r.preview.port}: ${r.preview.requests} synthetic requests, ${r.preview.ok} ok, ${r.preview.failed} failed (no user traffic)`)
  for (const f of r.flips) out.push(`switch    → ${f.to} ordered +${secs(f.orderedAt)}, effective +${secs(f.effectiveAt)} (${f.why})`)
  out.push('analysis')
  for (const a of r.analyses) out.push(...runLine(a))
  const d = r.detection
  if (d) {
    out.push(
      `detection ${d.revision} ${d.exposedAt === undefined ? 'never reached a user' : `exposed at +${secs(d.exposedAt)}`}, detected at +${secs(d.detectedAt)} (${secs(d.detectionMs)}), ` +
        `abort at +${secs(d.abortAt)}, 100 % stable ${d.abortToStableMs === undefined ? 'NOT restored' : `${secs(d.abortToStableMs)} after the abort`}`,
    )
  }
  const b = r.badRelease
  if (b) {
    out.push(
      `bad release ${b.revision}: ${b.failed} failed requests (${b.failedBeforeAbort} before the abort) vs bound ${b.bound.toFixed(1)} = ` +
        `error rate ${pct(b.errorRate)} × ${b.entitledRequests.toFixed(0)} requests its weight allowed (${b.rate.toFixed(0)} req/s × ${secs(b.exposureMs)} exposed, weighted); ` +
        `it got ${b.requestsBeforeAbort}: ${boundWording(b)}`,
    )
  }
  for (const n of r.notes) out.push(`note      ${n}`)
  return out.join('\n')
}

/** One line of the analysis, canary and blue-green settings for the report's header. */
export function formatAnalysisParameters(a: ResolvedAnalysis, c: ResolvedCanary | undefined, bg: ResolvedBlueGreen | undefined): string {
  const parts = [
    `analysis (${a.source === 'prometheus' ? `Prometheus ${a.prometheusUrl ?? ''}` : 'each instance\'s /metrics'}): error rate <= ${a.maxErrorRate}, p99 <= ${a.maxP99Ms} ms`,
    `${a.count} x ${a.intervalMs} ms, failureLimit ${a.failureLimit}, inconclusiveLimit ${a.inconclusiveLimit}, minSamples ${a.minSamples}`,
  ]
  if (c) {
    const steps = c.steps.map((s) => ('setWeight' in s ? `w${s.setWeight}` : 'pause' in s ? `pause ${s.pause.durationMs} ms` : 'analysis'))
    parts.push(`steps ${steps.join(', ')}`)
  }
  if (bg) parts.push(`scaleDownDelaySeconds ${bg.scaleDownDelaySeconds}, pre-promotion ${bg.prePromotionAnalysis ? 'on' : 'off'}, post-promotion ${bg.postPromotionAnalysis ? 'on' : 'off'}`)
  return parts.join('; ')
}
