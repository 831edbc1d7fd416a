// Medians and pairwise ratios with a 95 % confidence interval.

export function median(xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

// Two-sided 97.5 % quantiles of Student's t, by degrees of freedom.
const T975 = [NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042]

function t975(df) {
  return df < T975.length ? T975[df] : 1.96
}

function binomialCdf(k, n) {
  // P(X <= k) for X ~ Binomial(n, 1/2)
  let c = 1
  let sum = 0
  for (let i = 0; i <= k; i++) {
    if (i > 0) c = (c * (n - i + 1)) / i
    sum += c
  }
  return sum / 2 ** n
}

/**
 * Distribution-free interval for the median: [x(k), x(n-k+1)] of the sorted values, with the
 * largest k whose coverage is still >= 95 % when n allows it (n = 5: min to max, 93.8 %).
 */
export function medianInterval(values) {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b)
  const n = s.length
  if (n < 2) return { lo: NaN, hi: NaN, coverage: NaN }
  let k = 1
  while (k + 1 <= n / 2 && 1 - 2 * binomialCdf(k, n) >= 0.95) k++
  return { lo: s[k - 1], hi: s[n - k], coverage: 1 - 2 * binomialCdf(k - 1, n) }
}

/**
 * Ratio of a variant to its baseline from pairs measured back to back (variant_i / baseline_i).
 * The estimate is the median of the pairwise ratios with a distribution-free interval (order
 * statistics): on a shared machine a few pairs are 2–3 × off and would swamp a mean. The
 * geometric mean with Student's t interval on the logarithms is kept as `geo`.
 */
export function pairedRatio(variant, baseline) {
  const ratios = []
  for (let i = 0; i < Math.min(variant.length, baseline.length); i++) {
    const r = variant[i] / baseline[i]
    if (Number.isFinite(r) && r > 0) ratios.push(r)
  }
  const n = ratios.length
  if (n === 0) return { n, ratio: NaN, lo: NaN, hi: NaN, coverage: NaN, geo: { ratio: NaN, lo: NaN, hi: NaN }, ratios }
  const logs = ratios.map(Math.log)
  const mean = logs.reduce((a, b) => a + b, 0) / n
  let lo = NaN
  let hi = NaN
  if (n >= 2) {
    const sd = Math.sqrt(logs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1))
    const half = t975(n - 1) * sd / Math.sqrt(n)
    lo = Math.exp(mean - half)
    hi = Math.exp(mean + half)
  }
  const mi = medianInterval(ratios)
  return { n, ratio: median(ratios), lo: mi.lo, hi: mi.hi, coverage: mi.coverage, geo: { ratio: Math.exp(mean), lo, hi }, ratios }
}

export function round(x, digits = 2) {
  if (!Number.isFinite(x)) return x
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/**
 * Distribution-free ~95 % interval for the p-quantile of `sorted` (ascending): the order
 * statistics at ranks n·p ∓ 1.96·sqrt(n·p·(1 − p)) (the normal approximation to the binomial),
 * clamped to the sample. At p = 0.99 and a few hundred samples the upper end is the maximum.
 */
export function quantileInterval(sorted, p) {
  const n = sorted.length
  if (n === 0) return { lo: NaN, hi: NaN }
  const half = 1.96 * Math.sqrt(n * p * (1 - p))
  const lo = Math.max(1, Math.floor(n * p - half))
  const hi = Math.min(n, Math.ceil(n * p + half) + 1)
  return { lo: sorted[lo - 1], hi: sorted[hi - 1] }
}
