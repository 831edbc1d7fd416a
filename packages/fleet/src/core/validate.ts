import { InvalidOptionError } from './errors.js'

/**
 * The one set of numeric validators of the fleet (options, router, CLI). A rule is an integer or a
 * number within [min, max]; the message says which, e.g. "an integer ≥ 10" or "a number from 0 to 1".
 * `@zerodrop/lifecycle` keeps the same shape in its own options module.
 */

/** The longest delay Node's timers honour: a longer `setTimeout` fires after 1 ms (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2_147_483_647

export interface NumberRule {
  readonly integer?: boolean
  readonly min?: number
  readonly max?: number
  /** Printed after "a number of …", e.g. 'milliseconds'. */
  readonly unit?: string
}

/** "an integer ≥ 1", "a number of milliseconds from 0 to 2147483647". */
export function expectedNumber(rule: NumberRule): string {
  const what = `${rule.integer === true ? 'an integer' : 'a number'}${rule.unit === undefined ? '' : ` of ${rule.unit}`}`
  const { min, max } = rule
  if (min !== undefined && max !== undefined) return `${what} from ${min} to ${max}`
  if (min !== undefined) return `${what} ≥ ${min}`
  if (max !== undefined) return `${what} ≤ ${max}`
  return what
}

export function isNumberWithin(value: unknown, rule: NumberRule): value is number {
  return (
    typeof value === 'number' && Number.isFinite(value) && (rule.integer !== true || Number.isInteger(value)) &&
    (rule.min === undefined || value >= rule.min) && (rule.max === undefined || value <= rule.max)
  )
}

/** `value` when it fits `rule`, `fallback` when it is undefined; otherwise an InvalidOptionError naming `option`. */
export function checkNumber(option: string, value: unknown, fallback: number, rule: NumberRule): number {
  if (value === undefined) return fallback
  if (!isNumberWithin(value, rule)) throw new InvalidOptionError(option, expectedNumber(rule), value)
  return value
}

export function int(option: string, value: unknown, fallback: number, min: number, max?: number): number {
  return checkNumber(option, value, fallback, max === undefined ? { integer: true, min } : { integer: true, min, max })
}

export function num(option: string, value: unknown, fallback: number, min: number, max?: number): number {
  return checkNumber(option, value, fallback, max === undefined ? { min } : { min, max })
}

const TIMER_CAP = `at most ${MAX_TIMER_MS} ms (Node fires a longer timer after 1 ms)`

/** A delay in milliseconds handed to a timer: an integer ≥ `min`, at most MAX_TIMER_MS. */
export function intMs(option: string, value: unknown, fallback: number, min = 0): number {
  const v = checkNumber(option, value, fallback, { integer: true, min })
  if (v > MAX_TIMER_MS) throw new InvalidOptionError(option, TIMER_CAP, value)
  return v
}

/** A number of milliseconds (fractions allowed) handed to a timer: ≥ `min`, at most MAX_TIMER_MS. */
export function ms(option: string, value: unknown, fallback: number, min = 0): number {
  const v = checkNumber(option, value, fallback, { min })
  if (v > MAX_TIMER_MS) throw new InvalidOptionError(option, TIMER_CAP, value)
  return v
}

/** A delay in seconds whose milliseconds fit a timer: at most 2147483.647 s (about 24.8 days). */
export function seconds(option: string, value: unknown, fallback: number, min = 0): number {
  const v = checkNumber(option, value, fallback, { min })
  if (v * 1000 > MAX_TIMER_MS) throw new InvalidOptionError(option, `at most ${MAX_TIMER_MS / 1000} seconds (Node fires a longer timer after 1 ms)`, value)
  return v
}
