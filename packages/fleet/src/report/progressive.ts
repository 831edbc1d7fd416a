import type { Accounting } from './accounting.js'
import { gateErrorBoundary, type AnalysisRun } from '../analysis/analysis.js'
import type { ResolvedAnalysis, ResolvedBlueGreen, ResolvedCanary } from '../options/progressive.js'
import type { ProgressiveRecord } from '../strategies/progressive.js'

/**
 * What a release the gate stopped cost its users (its blast radius), against what the gate allows.
 * Failed = every request of the release that did not get a 2xx while it was exposed (its own
 * non-2xx answers, and what the router saw lost, reset, refused, timed out or abandoned), plus its
 * failures after the weight went to 0 until its drain began (the canary waits for the requests
 * it had in flight at weight 0 to settle before SIGTERM), and its own non-2xx answers during the
 * drain. Its lost/reset/… requests once the drain began are not here: they are the drain's, and
 * count as drops. The bound has three terms, each shown:
 * - gate: for every measurement of the release, the failures at which its error test would have
 *   failed at the n it ended with (the test never let more through unnoticed), less one where it
 *   did not fail;
 * - last batch: the requests of the scrape that decided (the decision may overshoot its boundary
 *   by at most that many); with fixed windows (Prometheus), the exposed requests no window covered,
 *   and the gate term is what the windows saw fail;
 * - after weight 0: its requests in flight when the weight went to 0, plus those that still reached
 *   it (l4: on connections pinned to it until its instances drained).
 * Pauses between analyses are outside the gate's sight, so their failures are not bounded.
 */
export interface BadRelease {
  readonly revision: string
  /** the analysis phase that stopped it */
  readonly stoppedBy: 'failed' | 'inconclusive' | 'error'
  /** which gate: the bound's second term is the last scrape batch (sequential) or the exposed requests outside the windows (fixed) */
  readonly gate: 'sequential' | 'fixed'
  /** its failed requests, the blast radius: `failedBeforeAbort + non2xxAfterAbort`; not among `dropped` */
  readonly failed: number
  /** while exposed, before the weight went to 0 (all kinds) */
  readonly failedBeforeAbort: number
  /** after the weight went to 0: whatever failed before its drain began, and its own non-2xx answers during the drain */
  readonly non2xxAfterAbort: number
  /** its lost/reset/refused/timed-out/aborted requests once its drain began: drops of the drain, counted in `dropped` */
  readonly droppedAfterAbort: number
  /** requests it got while exposed, before the weight went to 0 */
  readonly requestsBeforeAbort: number
  /** Σ share × requests over the exposed periods: the requests the weight entitled it to */
  readonly entitledRequests: number
  /** its failed share of its requests while exposed */
  readonly errorRate: number
  /** router requests per second over the exposure */
  readonly rate: number
  /** ms from exposure to the abort */
  readonly exposureMs: number
  readonly terms: { readonly gate: number; readonly lastBatch: number; readonly afterAbort: number }
  /** gate + lastBatch + afterAbort */
  readonly bound: number
  readonly withinBound: boolean
}

export interface ProgressiveReport extends ProgressiveRecord {
  readonly badRelease: BadRelease | undefined
}

export function progressiveReport(record: ProgressiveRecord, _accounting: Accounting, to: string): ProgressiveReport {
  if (!record.judgedBad || record.detection === undefined) return { ...record, badRelease: undefined }
  const d = record.detection
  let entitled = 0
  let got = 0
  let failedBeforeAbort = 0
  let non2xxAfterAbort = 0
  let droppedAfterAbort = 0
  let requestsAfterAbort = 0
  let total = 0
  let ms = 0
  for (const p of record.periods) {
    if (p.from >= (d.drainAt ?? d.abortAt)) {
      // its drain: its own answers are still its blast radius; a request its drain cuts is a drop
      non2xxAfterAbort += p.non2xx[to] ?? 0
      droppedAfterAbort += p.failures[to] ?? 0
      requestsAfterAbort += p.requests[to] ?? 0
      continue
    }
    if (p.from >= d.abortAt) {
      // weight 0, before its drain: requests it had in flight, and (l4) those on connections pinned to it
      non2xxAfterAbort += (p.non2xx[to] ?? 0) + (p.failures[to] ?? 0)
      requestsAfterAbort += p.requests[to] ?? 0
      continue
    }
    failedBeforeAbort += (p.non2xx[to] ?? 0) + (p.failures[to] ?? 0)
    if ((p.achievable[to] ?? 0) <= 0) continue
    const sum = Object.values(p.requests).reduce((a, b) => a + b, 0)
    entitled += (p.achievable[to] ?? 0) * sum
    got += p.requests[to] ?? 0
    total += sum
    ms += p.to - p.from
  }
  let gate = 0
  let lastBatch = 0
  let windowed = 0
  let stoppedBy: BadRelease['stoppedBy'] = 'failed'
  for (const a of record.analyses) {
    if (a.phase !== 'successful') stoppedBy = a.phase === 'failed' ? 'failed' : a.phase === 'error' ? 'error' : 'inconclusive'
    for (const m of a.measurements) {
      const t = m.tests?.errorRate
      if (t === undefined) {
        // fixed windows: what each window saw fail (a passed one at most its budget's worth)
        if (Number.isFinite(m.samples) && Number.isFinite(m.errorRate)) gate += Math.ceil(m.samples * m.errorRate)
        windowed += Number.isFinite(m.samples) ? m.samples : 0
        continue
      }
      gate += gateErrorBoundary(m) ?? 0
      if (m === a.measurements.at(-1) && a.phase !== 'successful') lastBatch += Math.max(t.batch, m.tests?.slow.batch ?? 0)
    }
  }
  const fixed = record.analyses.some((a) => a.gate === 'fixed')
  // fixed windows do not cover the whole exposure (the first window starts after the weight was set,
  // Prometheus sees the last scrape late): those requests could all have failed
  if (fixed) lastBatch += Math.max(0, Math.ceil(got - windowed))
  const afterAbort = (d.inFlightAtAbort ?? 0) + requestsAfterAbort
  const bound = gate + lastBatch + afterAbort
  const failed = failedBeforeAbort + non2xxAfterAbort
  return {
    ...record,
    badRelease: {
      revision: to,
      stoppedBy,
      gate: fixed ? 'fixed' : 'sequential',
      failed,
      failedBeforeAbort,
      non2xxAfterAbort,
      droppedAfterAbort,
      requestsBeforeAbort: got,
      entitledRequests: entitled,
      errorRate: got > 0 ? failedBeforeAbort / got : 0,
      rate: ms > 0 ? (total * 1000) / ms : 0,
      exposureMs: ms,
      terms: { gate, lastBatch, afterAbort },
      bound,
      withinBound: failed <= bound,
    },
  }
}

/**
 * The bad release's failures against its bound, never "within" for a number above the printed
 * bound: `3 failed ≤ bound 3.4`; `5 failed ≤ bound 3.4 + 2 in flight at the step boundaries and
 * the abort (at most 7 allowed)`; `9 failed > bound 3.4 + 3 in flight allowed: ABOVE the bound`.
 */
export function boundWording(b: Pick<BadRelease, 'failed' | 'bound' | 'withinBound'>): string {
  // enough digits that the printed bound sits on the same side of the count as the real one
  // (12.96, not 13.0, for 13); the sequential gate's bound is a count and prints as one
  let digits = 1
  while (digits < 4 && b.failed > b.bound && Number(b.bound.toFixed(digits)) >= b.failed) digits++
  const bound = Number.isInteger(b.bound) ? String(b.bound) : b.bound.toFixed(digits)
  return b.failed <= b.bound ? `${b.failed} failed ≤ bound ${bound}` : `${b.failed} failed > bound ${bound}: ABOVE the bound (reported; still exit 2)`
}

const pct = (x: number): string => (Number.isNaN(x) ? 'n/a' : `${(x * 100).toFixed(x < 0.1 && x > 0 ? 1 : 0)}%`)
const secs = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`)

function runLine(a: AnalysisRun): string[] {
  const out = [`  ${a.name} (${a.source}): ${a.phase.toUpperCase()} +${secs(a.startedAt)} → +${secs(a.endedAt)}: ${a.message}`]
  for (const m of a.measurements) {
    if (m.tests) {
      out.push(`    +${secs(m.t)} ${m.phase.padEnd(12)} ${m.message}`)
      continue
    }
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
      `blast radius ${b.revision} (stopped by the gate, ${b.stoppedBy ?? 'failed'}): ${b.failed} failed requests = ${b.failedBeforeAbort} while exposed + ${b.non2xxAfterAbort ?? 0} after weight 0; ` +
        // a report written before the sequential gate has no terms
        (b.terms === undefined
          ? 'bound: '
          : `bound ${b.bound} = ${b.terms.gate} gate boundary + ${b.terms.lastBatch} ${b.gate === 'fixed' ? 'exposed requests outside its windows' : 'last scrape batch'} + ${b.terms.afterAbort} requests in flight or pinned after weight 0: `) +
        `${boundWording(b)}; it got ${b.requestsBeforeAbort} requests in ${secs(b.exposureMs)} exposed` +
        (b.droppedAfterAbort > 0 ? `; ${b.droppedAfterAbort} of its requests were dropped after weight 0 (by its drain: counted as drops)` : ''),
    )
  }
  for (const n of r.notes) out.push(`note      ${n}`)
  return out.join('\n')
}

/** One line of the analysis, canary and blue-green settings for the report's header. */
export function formatAnalysisParameters(a: ResolvedAnalysis, c: ResolvedCanary | undefined, bg: ResolvedBlueGreen | undefined): string {
  const signals = a.source === 'prometheus' ? `Prometheus ${a.prometheusUrl ?? ''}` : `each instance's /metrics${a.routerSignal ? ' + the router\'s failures and in-flight ages' : ''}`
  const parts = [
    `analysis (${signals}): error rate <= ${a.maxErrorRate}, p99 <= ${a.maxP99Ms} ms`,
    a.gate === 'sequential'
      ? `sequential (SPRT, alpha ${a.alpha}, beta ${a.beta}, H1 at ${a.effect} x budget), ${a.count} decision${a.count > 1 ? 's' : ''} of ${a.minMeasurementMs / 1000}..${a.maxMeasurementMs / 1000} s, failureLimit ${a.failureLimit}, inconclusiveLimit ${a.inconclusiveLimit}, minSamples ${a.minSamples}`
      : `${a.count} x ${a.intervalMs} ms, failureLimit ${a.failureLimit}, inconclusiveLimit ${a.inconclusiveLimit}, minSamples ${a.minSamples}`,
  ]
  if (c) {
    const steps = c.steps.map((s) => ('setWeight' in s ? `w${s.setWeight}` : 'pause' in s ? `pause ${s.pause.durationMs} ms` : 'analysis'))
    parts.push(`steps ${steps.join(', ')}`)
  }
  if (bg) parts.push(`scaleDownDelaySeconds ${bg.scaleDownDelaySeconds}, pre-promotion ${bg.prePromotionAnalysis ? 'on' : 'off'}, post-promotion ${bg.postPromotionAnalysis ? 'on' : 'off'}`)
  return parts.join('; ')
}
