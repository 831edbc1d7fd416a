/**
 * Wald's sequential probability ratio test for a binomial rate, truncated at a maximum window
 * (docs/architecture.md, "The canary gate"). H0: rate ≤ p0 (the budget), H1: rate ≥ p1 = m × p0.
 * After n requests with k failures the log-likelihood ratio is
 *   llr = k·ln(p1/p0) + (n − k)·ln((1 − p1)/(1 − p0))
 * and the test rejects H0 once llr ≥ ln((1 − β)/α), accepts it once llr ≤ ln(β/(1 − α)).
 * Both boundaries hold at any stopping time (Ville's inequality on the likelihood ratio, a
 * martingale under either hypothesis), so checking after every scrape batch, waiting for a
 * minimum time before accepting, or stopping at a maximum window undecided only lowers the error
 * rates: P(reject | p ≤ p0) ≤ α/(1 − β), P(accept | p ≥ p1) ≤ β/(1 − α).
 */

export interface SprtDesign {
  readonly p0: number
  readonly p1: number
  readonly alpha: number
  readonly beta: number
  /** ln((1 − β)/α): llr at or above rejects H0 */
  readonly upper: number
  /** ln(β/(1 − α)): llr at or below accepts H0 */
  readonly lower: number
  /** llr added by one failure: ln(p1/p0) */
  readonly perFailure: number
  /** llr added by one success: ln((1 − p1)/(1 − p0)), negative */
  readonly perSuccess: number
}

export type SprtDecision = 'reject' | 'accept' | 'continue'

/** The test for budget p0, effect m (p1 = m × p0), error rates α and β; 0 < p0 < p1 < 1. */
export function sprtDesign(p0: number, m: number, alpha: number, beta: number): SprtDesign {
  const p1 = m * p0
  if (!(p0 > 0 && p1 < 1 && m > 1 && alpha > 0 && alpha < 0.5 && beta > 0 && beta < 0.5)) {
    throw new RangeError(`a sequential test needs 0 < p0 < m × p0 < 1, m > 1, 0 < α, β < 0.5; got p0 ${p0}, m ${m}, α ${alpha}, β ${beta}`)
  }
  return Object.freeze({
    p0,
    p1,
    alpha,
    beta,
    upper: Math.log((1 - beta) / alpha),
    lower: Math.log(beta / (1 - alpha)),
    perFailure: Math.log(p1 / p0),
    perSuccess: Math.log((1 - p1) / (1 - p0)),
  })
}

export function llr(d: SprtDesign, n: number, k: number): number {
  return k * d.perFailure + (n - k) * d.perSuccess
}

// boundaries are compared with a little slack so that k exactly on a boundary decides
const EPS = 1e-9

export function sprtDecision(d: SprtDesign, n: number, k: number): SprtDecision {
  const l = llr(d, n, k)
  if (l >= d.upper - EPS) return 'reject'
  if (l <= d.lower + EPS) return 'accept'
  return 'continue'
}

/** The fewest failures among n requests that reject H0. */
export function rejectBoundary(d: SprtDesign, n: number): number {
  return Math.max(0, Math.ceil((d.upper - n * d.perSuccess) / (d.perFailure - d.perSuccess) - EPS))
}

/** The most failures among n requests that still accept H0 (−1: none accepts yet). */
export function acceptBoundary(d: SprtDesign, n: number): number {
  return Math.floor((d.lower - n * d.perSuccess) / (d.perFailure - d.perSuccess) + EPS)
}

/** Requests needed to accept H0 when none of them fails: the least any acceptance takes. */
export function minRequestsToAccept(d: SprtDesign): number {
  return Math.ceil(d.lower / d.perSuccess - EPS)
}

export interface SequentialLimits {
  /** no acceptance before this many ms (a slow-onset fault must have time to show) */
  readonly minMs: number
  /** undecided at this many ms: inconclusive */
  readonly maxMs: number
  /** no acceptance before this many requests */
  readonly minSamples: number
}

export type MetricState =
  | { readonly decision: 'continue' }
  | { readonly decision: 'reject' | 'accept'; readonly n: number; readonly k: number; readonly atMs: number }
  | { readonly decision: 'inconclusive'; readonly n: number; readonly k: number; readonly atMs: number }

/**
 * One metric's sequential decision, fed cumulative counts as they arrive: a rejection counts at
 * once; an acceptance only after `minMs` and `minSamples`; undecided at `maxMs` is inconclusive.
 * A rejection is final. An acceptance is kept while the measurement goes on (the other metric may
 * still be deciding) but a later crossing of the rejection boundary still rejects: Ville's bound
 * covers every crossing, and the gate keeps watching what it already passed.
 */
export function step(d: SprtDesign, limits: SequentialLimits, state: MetricState, n: number, k: number, elapsedMs: number): MetricState {
  return stepDecision(sprtDecision(d, n, k), limits, state, n, k, elapsedMs)
}

/** `step` for any anytime-valid test, given its decision at (n, k): the baseline comparison's too. */
export function stepDecision(x: SprtDecision, limits: SequentialLimits, state: MetricState, n: number, k: number, elapsedMs: number): MetricState {
  if (state.decision === 'reject' || state.decision === 'inconclusive') return state
  if (x === 'reject') return { decision: 'reject', n, k, atMs: elapsedMs }
  if (state.decision === 'accept') return { decision: 'accept', n, k, atMs: state.atMs }
  if (x === 'accept' && elapsedMs >= limits.minMs && n >= limits.minSamples) return { decision: 'accept', n, k, atMs: elapsedMs }
  if (elapsedMs >= limits.maxMs) return { decision: 'inconclusive', n, k, atMs: elapsedMs }
  return state
}
