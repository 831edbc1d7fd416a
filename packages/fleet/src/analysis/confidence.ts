/**
 * Anytime-valid confidence sequences for a binomial rate, and the two-sample comparison the
 * baseline gate makes with them (docs/architecture.md, "The canary gate").
 *
 * Robbins' mixture: for a true rate p, the likelihood ratio of a Beta(a, b) mixture against p,
 *   M_n(p) = B(a + k, b + n − k) / B(a, b) / (p^k (1 − p)^(n − k)),
 * is a non-negative martingale with M_0 = 1, so by Ville's inequality P(∃ n: M_n(p) ≥ 1/α) ≤ α.
 * The set {p : M_n(p) < 1/α} therefore holds the true rate at every n at once with probability
 * 1 − α: checking it after every scrape batch, or stopping whenever, costs nothing. It needs no
 * failure to have been seen (with k = 0 the upper end shrinks like ln(1/α)/n), which is where a
 * fixed-sample two-sample test on sparse errors (Kayenta's Mann–Whitney) cannot decide.
 */

// Lanczos (g = 7, 9 terms): |error| < 1e-13 for x > 0, plenty for bounds compared at 1e-9
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
]

export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x)
  const y = x - 1
  let a = LANCZOS[0] as number
  for (let i = 1; i < LANCZOS.length; i++) a += (LANCZOS[i] as number) / (y + i)
  const t = y + 7.5
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a)
}

export function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b)
}

/**
 * The mixing prior. Any fixed prior gives a valid sequence; this one, Beta(1/2, 20) (mean 2.4 %),
 * puts its mass where error budgets live, so the bounds are tight for the rates a release has
 * and still shrink for a bad one (the data outweigh it within a few dozen requests).
 */
export const PRIOR = Object.freeze({ a: 0.5, b: 20 })

export interface Prior {
  readonly a: number
  readonly b: number
}

/** ln M_n(p) = mixture − ln(p^k (1 − p)^(n − k)), the mixture's part computed once per (n, k). */
function logLikelihood(n: number, k: number, p: number): number {
  return (k > 0 ? k * Math.log(p) : 0) + (n - k > 0 ? (n - k) * Math.log1p(-p) : 0)
}

/** The confidence sequence's interval at (n, k) for level 1 − α: [lower, upper]. */
export function confidenceInterval(n: number, k: number, alpha: number, prior: Prior = PRIOR): { readonly lower: number; readonly upper: number } {
  return { lower: bound(n, k, alpha, prior, 'lower'), upper: bound(n, k, alpha, prior, 'upper') }
}

/** One end of the confidence sequence's interval at (n, k), level 1 − α. */
export function confidenceBound(n: number, k: number, alpha: number, side: 'lower' | 'upper', prior: Prior = PRIOR): number {
  return bound(n, k, alpha, prior, side)
}

const PRIOR_LOG_BETA = logBeta(PRIOR.a, PRIOR.b)

function bound(n: number, k: number, alpha: number, prior: Prior, side: 'lower' | 'upper'): number {
  if (n <= 0) return side === 'lower' ? 0 : 1
  if (side === 'lower' ? k <= 0 : k >= n) return side === 'lower' ? 0 : 1
  const limit = Math.log(1 / alpha)
  const mixture = logBeta(prior.a + k, prior.b + n - k) - (prior === PRIOR ? PRIOR_LOG_BETA : logBeta(prior.a, prior.b))
  const inside = (p: number): boolean => mixture - logLikelihood(n, k, p) < limit
  // ln M_n(p) is convex with its minimum at k/n: a bisection between k/n and the edge, to 1e-11
  const edge = side === 'lower' ? 1e-12 : 1 - 1e-12
  if (inside(edge)) return side === 'lower' ? 0 : 1
  let inner = k / n
  let outer = edge
  for (let i = 0; i < 38; i++) {
    const mid = (inner + outer) / 2
    if (inside(mid)) inner = mid
    else outer = mid
  }
  return outer
}

export interface DifferenceDesign {
  /** the canary may fail this much more often than stable (absolute, e.g. 0.02 = 2 points) */
  readonly margin: number
  readonly alpha: number
  readonly beta: number
  /** @default PRIOR */
  readonly prior?: Prior
}

export type DifferenceDecision = 'reject' | 'accept' | 'continue'

/**
 * Canary against stable, H0: p_canary ≤ p_stable + margin. Rejects once even the canary's lowest
 * plausible rate is above the stable's highest plus the margin (each interval at α/2: a false
 * rejection needs one of them to miss, ≤ α); accepts once the canary's highest plausible rate is
 * within the stable's lowest plus the margin (at β/2 each: a canary worse than that passes with
 * probability ≤ β). Both hold at any stopping time, so the gate may check after every scrape.
 */
export function differenceDecision(d: DifferenceDesign, canary: { n: number; k: number }, stable: { n: number; k: number }): DifferenceDecision {
  const prior = d.prior ?? PRIOR
  if (bound(canary.n, canary.k, d.alpha / 2, prior, 'lower') - bound(stable.n, stable.k, d.alpha / 2, prior, 'upper') > d.margin + EPS) return 'reject'
  if (bound(canary.n, canary.k, d.beta / 2, prior, 'upper') - bound(stable.n, stable.k, d.beta / 2, prior, 'lower') <= d.margin + EPS) return 'accept'
  return 'continue'
}

const EPS = 1e-12

/** The fewest canary failures among n that reject, given the stable's counts (n + 1: none can). */
export function differenceRejectAt(d: DifferenceDesign, n: number, stable: { n: number; k: number }): number {
  return firstK(n, (k) => differenceDecision(d, { n, k }, stable) === 'reject', n + 1)
}

/** The most canary failures among n that still accept, given the stable's counts (−1: none yet). */
export function differenceAcceptAt(d: DifferenceDesign, n: number, stable: { n: number; k: number }): number {
  // acceptance is monotone in k: the first k that does not accept, minus one
  return firstK(n, (k) => differenceDecision(d, { n, k }, stable) !== 'accept', n + 1) - 1
}

/** The smallest k in 0..n with `yes(k)` (monotone: false … false true … true), else `none`. */
function firstK(n: number, yes: (k: number) => boolean, none: number): number {
  if (!yes(n)) return none
  let lo = -1
  let hi = n
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if (yes(mid)) hi = mid
    else lo = mid
  }
  return hi
}

/** Canary requests without one failure needed to accept against a stable without one failure of `stableN` requests. */
export function differenceMinRequestsToAccept(d: DifferenceDesign, stableN = Number.POSITIVE_INFINITY): number {
  const s = Number.isFinite(stableN) ? stableN : 1e9
  let hi = 1
  while (hi < 1e9 && differenceDecision(d, { n: hi, k: 0 }, { n: s, k: 0 }) !== 'accept') hi *= 2
  let lo = hi / 2
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (differenceDecision(d, { n: mid, k: 0 }, { n: s, k: 0 }) === 'accept') hi = mid
    else lo = mid
  }
  return hi
}
