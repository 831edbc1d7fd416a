/**
 * Every error zerodrop throws has a stable `code`; match on it, not on the message. One table,
 * keyed by the code itself; one base class (`ZeroDropError`), one subclass per code, `cause`
 * passed through. The fleet package follows the same convention in its own `errors.ts`.
 */
export const ERROR_CODES = {
  ZD_ERR_INVALID_OPTION: 'ZD_ERR_INVALID_OPTION',
  ZD_ERR_INVALID_CHECK: 'ZD_ERR_INVALID_CHECK',
  ZD_ERR_DUPLICATE_NAME: 'ZD_ERR_DUPLICATE_NAME',
  ZD_ERR_CHECK_TIMEOUT: 'ZD_ERR_CHECK_TIMEOUT',
  ZD_ERR_HOOK_TIMEOUT: 'ZD_ERR_HOOK_TIMEOUT',
  ZD_ERR_SHUTDOWN_TIMEOUT: 'ZD_ERR_SHUTDOWN_TIMEOUT',
} as const

export type ErrorCode = keyof typeof ERROR_CODES

export class ZeroDropError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

/** A constructor option is missing, of the wrong type, or out of range. */
export class InvalidOptionError extends ZeroDropError {
  declare readonly code: 'ZD_ERR_INVALID_OPTION'
  readonly option: string
  /** `message`, when given, replaces the "must be …, instead got …" sentence (e.g. an unknown option). */
  constructor(option: string, expected: string, received: unknown, options?: { message?: string; cause?: unknown }) {
    super('ZD_ERR_INVALID_OPTION', options?.message ?? `option '${option}' must be ${expected}, instead got ${describe(received)}`, options?.cause === undefined ? undefined : { cause: options.cause })
    this.option = option
  }
}

/** A health check given to `addCheck()` is malformed. */
export class InvalidCheckError extends ZeroDropError {
  declare readonly code: 'ZD_ERR_INVALID_CHECK'
  constructor(message: string) {
    super('ZD_ERR_INVALID_CHECK', message)
  }
}

/** A check or hook name is already registered. */
export class DuplicateNameError extends ZeroDropError {
  declare readonly code: 'ZD_ERR_DUPLICATE_NAME'
  constructor(kind: string, name: string) {
    super('ZD_ERR_DUPLICATE_NAME', `${kind} '${name}' is already registered: give each ${kind} a unique name`)
  }
}

/** A health check did not settle within its `timeoutMs`. */
export class CheckTimeoutError extends ZeroDropError {
  declare readonly code: 'ZD_ERR_CHECK_TIMEOUT'
  constructor(name: string, timeoutMs: number) {
    super('ZD_ERR_CHECK_TIMEOUT', `check '${name}' did not answer within ${timeoutMs} ms`)
  }
}

/** A shutdown or drain-start hook did not settle within its timeout. */
export class HookTimeoutError extends ZeroDropError {
  declare readonly code: 'ZD_ERR_HOOK_TIMEOUT'
  constructor(name: string, timeoutMs: number) {
    super('ZD_ERR_HOOK_TIMEOUT', `shutdown hook '${name}' did not finish within ${timeoutMs} ms`)
  }
}

/**
 * How a received value is printed in every message (the same in both packages): strings in
 * single quotes (JSON-escaped when they hold a quote or a control character), numbers, booleans,
 * null and undefined as JavaScript writes them, arrays element by element, objects as JSON.
 */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined'
  if (value === null) return 'null'
  if (typeof value === 'string') return /['\\\p{Cc}]/u.test(value) ? JSON.stringify(value) : `'${value}'`
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'symbol') return value.toString()
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return `[${value.slice(0, 10).map(describe).join(', ')}${value.length > 10 ? ', …' : ''}]`
  let json: string | undefined
  try {
    json = JSON.stringify(value)
  } catch {
    json = undefined
  }
  if (json === undefined) return 'an object'
  return `an object ${json.length > 80 ? `${json.slice(0, 79)}…` : json}`
}
