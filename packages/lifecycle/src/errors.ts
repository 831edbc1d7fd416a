/** Every error zerodrop throws has a stable `code`; match on it, not on the message. */
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
  constructor(option: string, expected: string, received: unknown) {
    super('ZD_ERR_INVALID_OPTION', `option '${option}' must be ${expected}, instead got ${describe(received)}`)
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

export function describe(value: unknown): string {
  if (value === undefined) return 'undefined'
  if (value === null) return 'null'
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : `${value}`
  if (typeof value === 'string') return `'${value}' (string)`
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return `an array [${value.map(describe).join(', ')}]`
  return `a '${typeof value}'`
}
