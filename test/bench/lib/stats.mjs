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

/**
 * Ratio of a variant to its baseline from pairs measured back to back (variant_i / baseline_i).
 * The estimate is the geometric mean of the pairwise ratios; the 95 % interval is Student's t
 * on their logarithms (ratios are multiplicative, so the interval is too).
 */
export function pairedRatio(variant, baseline) {
  const ratios = []
  for (let i = 0; i < Math.min(variant.length, baseline.length); i++) {
    const r = variant[i] / baseline[i]
    if (Number.isFinite(r) && r > 0) ratios.push(r)
  }
  const n = ratios.length
  if (n === 0) return { n, ratio: NaN, lo: NaN, hi: NaN, medianRatio: NaN, ratios }
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
  return { n, ratio: Math.exp(mean), lo, hi, medianRatio: median(ratios), ratios }
}

export function round(x, digits = 2) {
  if (!Number.isFinite(x)) return x
  const f = 10 ** digits
  return Math.round(x * f) / f
}
