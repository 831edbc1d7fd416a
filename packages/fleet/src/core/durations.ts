import { InvalidOptionError } from './errors.js'
import { MAX_TIMER_MS } from './validate.js'

const UNIT_MS: Readonly<Record<string, number>> = Object.freeze({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 })
const EXPECTED = "a duration: seconds ≥ 0, or a string like '30s', '1m30s', '500ms', '1h' (at most 2147483647 ms)"

/**
 * The one duration parser of the fleet (manifests, `--steps`, analysis options). Argo Rollouts'
 * duration strings, as its `pause: { duration }` and an AnalysisTemplate's `interval` take them:
 * a number of seconds (`30`, `"30"`), or a number with a unit — `ms`, `s`, `m`, `h` — or several
 * joined (`"1m30s"`, as Go's time.ParseDuration). Returns milliseconds, at most MAX_TIMER_MS.
 */
export function parseArgoDuration(value: unknown, option: string): number {
  const ms = toMs(value)
  if (ms === undefined || ms > MAX_TIMER_MS) throw new InvalidOptionError(option, EXPECTED, value)
  return ms
}

function toMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined
  if (typeof value !== 'string') return undefined
  const s = value.trim()
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000
  const parts = [...s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== s) return undefined
  return parts.reduce((ms, p) => ms + Number(p[1]) * (UNIT_MS[p[2] as string] as number), 0)
}

/** A millisecond count as a Prometheus range-selector duration (`1500ms`, `2s`, `1m`). */
export function promDuration(ms: number): string {
  const n = Math.max(1, Math.round(ms))
  if (n % 60_000 === 0) return `${n / 60_000}m`
  if (n % 1000 === 0) return `${n / 1000}s`
  return `${n}ms`
}
