/**
 * Every error the fleet throws has a stable `ZD_ERR_*` code, the key of this one table (the same
 * convention as `@zerodrop/lifecycle`'s `errors.ts`): one base class (`FleetError`), one subclass
 * per kind, `cause` passed through. Usage errors (bad options, a command that cannot run, a port
 * that cannot be bound) are `FleetUsageError`s: the CLI maps them to exit code 64 and prints the
 * message, which names the option (or flag) at fault.
 */
export const ERRORS = {
  ZD_ERR_INVALID_OPTION: 'an option (or CLI flag) is missing, of the wrong type or out of range',
  ZD_ERR_USAGE: 'the command line is wrong: an unknown flag or command, a missing value, a flag that does not apply',
  ZD_ERR_INSTANCE_EXITED: 'a command exited before its instance ever became ready',
  ZD_ERR_INSTANCE_SPAWN: 'a command could not be started at all',
  ZD_ERR_INSTANCE_NOT_READY: 'the running revision never became ready',
  ZD_ERR_PORT_UNAVAILABLE: 'a port the router should listen on cannot be bound',
  ZD_ERR_ABORTED: 'the deploy was aborted (signal or AbortSignal)',
  ZD_ERR_GATE_CANNOT_DECIDE: 'an analysis step gets too little traffic to reach a decision within the maximum measurement window',
  ZD_ERR_MANIFEST: 'a k8s/ folder cannot be turned into fleet options',
  ZD_ERR_ROUTER_NOT_LOOPBACK: 'a router host or endpoint is not on loopback',
  ZD_ERR_ROUTER_INVALID_OPTION: 'a router option is out of range',
  ZD_ERR_ROUTER_INVALID_ENDPOINT: 'a router endpoint is malformed',
  ZD_ERR_ROUTER_INVALID_WEIGHTS: 'router weights are malformed',
  ZD_ERR_ROUTER_LISTEN: 'the router cannot listen on its port',
  ZD_ERR_ROUTER_MAIN_CONFIG: 'the standalone router process is configured wrongly',
  ZD_ERR_ROUTER_MAIN_UNKNOWN_ENDPOINT: 'the standalone router was asked to switch to an unknown endpoint',
  ZD_ERR_ROUTER_MAIN_TARGET_NOT_READY: 'the standalone router was asked to switch to an endpoint that is not ready',
  ZD_ERR_RUNTIME_DOCKER_USAGE: '--runtime docker was misused',
  ZD_ERR_RUNTIME_DOCKER_RUN: 'the docker engine refused to run an instance',
  ZD_ERR_PROMETHEUS: 'a Prometheus query failed or answered something unusable',
  ZD_ERR_SCRAPE: "an instance's /metrics could not be scraped",
  ZD_ERR_VERIFY_TARGET: 'zerodrop verify: the URL did not answer 2xx before the command started',
} as const

export type ErrorCode = keyof typeof ERRORS

type ShortName<C> = C extends `ZD_ERR_${infer N}` ? N : never

/** The codes by their short names (`ERROR_CODES.INVALID_OPTION === 'ZD_ERR_INVALID_OPTION'`), derived from ERRORS. */
export const ERROR_CODES = Object.freeze(Object.fromEntries(Object.keys(ERRORS).map((code) => [code.slice('ZD_ERR_'.length), code]))) as {
  readonly [C in ErrorCode as ShortName<C>]: C
}

/** The standalone router process's codes (router-main). */
export const ROUTER_MAIN_ERROR_CODES = {
  config: ERROR_CODES.ROUTER_MAIN_CONFIG,
  unknownEndpoint: ERROR_CODES.ROUTER_MAIN_UNKNOWN_ENDPOINT,
  notReady: ERROR_CODES.ROUTER_MAIN_TARGET_NOT_READY,
} as const
export type RouterMainErrorCode = (typeof ROUTER_MAIN_ERROR_CODES)[keyof typeof ROUTER_MAIN_ERROR_CODES]

/** The docker runtime's codes. */
export const RUNTIME_DOCKER_ERROR_CODES = {
  usage: ERROR_CODES.RUNTIME_DOCKER_USAGE,
  run: ERROR_CODES.RUNTIME_DOCKER_RUN,
} as const
export type RuntimeDockerErrorCode = (typeof RUNTIME_DOCKER_ERROR_CODES)[keyof typeof RUNTIME_DOCKER_ERROR_CODES]

/** The router's codes, by the names the router modules use. */
export const ROUTER_ERROR_CODES = {
  notLoopback: ERROR_CODES.ROUTER_NOT_LOOPBACK,
  invalidOption: ERROR_CODES.ROUTER_INVALID_OPTION,
  invalidEndpoint: ERROR_CODES.ROUTER_INVALID_ENDPOINT,
  invalidWeights: ERROR_CODES.ROUTER_INVALID_WEIGHTS,
  listen: ERROR_CODES.ROUTER_LISTEN,
} as const
export type RouterErrorCode = (typeof ROUTER_ERROR_CODES)[keyof typeof ROUTER_ERROR_CODES]

export class FleetError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FleetError'
    this.code = code
  }
}

/** The user asked for something that cannot work; the CLI exits 64. */
export class FleetUsageError extends FleetError {
  /** The option (CLI flag or API field) at fault, when there is one. */
  readonly option: string | undefined
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; option?: string }) {
    super(code, message, options)
    this.name = 'FleetUsageError'
    this.option = options?.option
  }
}

export class InvalidOptionError extends FleetUsageError {
  override readonly code = ERROR_CODES.INVALID_OPTION
  /** What the option takes ("an integer ≥ 1"). */
  readonly expected: string
  /** What it was given. */
  readonly received: unknown
  constructor(option: string, expected: string, received: unknown) {
    super(ERROR_CODES.INVALID_OPTION, `${option}: expected ${expected}, instead got ${describe(received)}`, { option })
    this.name = 'InvalidOptionError'
    this.expected = expected
    this.received = received
  }
}

/** A bad command line: an unknown flag, a missing or malformed value, a flag that does not apply. The CLI exits 64. */
export class CliUsageError extends FleetUsageError {
  override readonly code = ERROR_CODES.USAGE
  constructor(message: string, flag?: string) {
    super(ERROR_CODES.USAGE, message, flag === undefined ? {} : { option: flag })
    this.name = 'CliUsageError'
  }
}

/** A flag's token cannot be a value of the flag; the flag table turns it into a CliUsageError naming the flag as typed. */
export class FlagValueError extends FleetUsageError {
  override readonly code = ERROR_CODES.USAGE
  readonly expected: string
  readonly received: string | undefined
  /** What happened instead, when it is more than the token ("could not read 'ca.pem': ENOENT"). */
  readonly instead: string | undefined
  constructor(expected: string, received?: string, instead?: string) {
    super(ERROR_CODES.USAGE, `expected ${expected}, instead ${instead ?? `got ${describe(received)}`}`)
    this.name = 'FlagValueError'
    this.expected = expected
    this.received = received
    this.instead = instead
  }
}

/**
 * The analysis could not reach a decision at some step even if the release were perfect: the
 * traffic the step's weight gets within the maximum measurement window is too little.
 */
export class GateCannotDecideError extends FleetUsageError {
  override readonly code = ERROR_CODES.GATE_CANNOT_DECIDE
  constructor(message: string, option: string) {
    super(ERROR_CODES.GATE_CANNOT_DECIDE, message, { option })
    this.name = 'GateCannotDecideError'
  }
}

/** The command exited before its instance ever became ready (crashed at once, or not found). */
export class InstanceExitedError extends FleetUsageError {
  override readonly code = ERROR_CODES.INSTANCE_EXITED
  constructor(message: string, option?: string) {
    super(ERROR_CODES.INSTANCE_EXITED, message, option === undefined ? {} : { option })
    this.name = 'InstanceExitedError'
  }
}

/** The command could not be started at all (e.g. the shell or binary is missing). */
export class InstanceSpawnError extends FleetUsageError {
  override readonly code = ERROR_CODES.INSTANCE_SPAWN
  constructor(message: string, cause: unknown, option?: string) {
    super(ERROR_CODES.INSTANCE_SPAWN, message, option === undefined ? { cause } : { cause, option })
    this.name = 'InstanceSpawnError'
  }
}

/** The old revision never became ready, so there is nothing to deploy from. */
export class InstanceNotReadyError extends FleetUsageError {
  override readonly code = ERROR_CODES.INSTANCE_NOT_READY
  constructor(message: string, option?: string) {
    super(ERROR_CODES.INSTANCE_NOT_READY, message, option === undefined ? {} : { option })
    this.name = 'InstanceNotReadyError'
  }
}

export class PortUnavailableError extends FleetUsageError {
  override readonly code = ERROR_CODES.PORT_UNAVAILABLE
  constructor(message: string, cause: unknown, option?: string) {
    super(ERROR_CODES.PORT_UNAVAILABLE, message, option === undefined ? { cause } : { cause, option })
    this.name = 'PortUnavailableError'
  }
}

export class AbortedError extends FleetError {
  override readonly code = ERROR_CODES.ABORTED
  constructor(reason: string) {
    super(ERROR_CODES.ABORTED, `deploy aborted: ${reason}`)
    this.name = 'AbortedError'
  }
}

/** The router was given something it cannot route: a non-loopback host, a bad endpoint or weights, a port it cannot bind. */
export class RouterError extends FleetError {
  declare readonly code: RouterErrorCode
  constructor(code: RouterErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'RouterError'
  }
}

/** A k8s/ folder that cannot be turned into fleet options: unreadable, unparsable, or without a workload. */
export class ManifestError extends FleetUsageError {
  override readonly code = ERROR_CODES.MANIFEST
  /** The file at fault, when there is one. */
  readonly file: string | undefined
  constructor(message: string, options?: { file?: string; cause?: unknown }) {
    super(ERROR_CODES.MANIFEST, message, options?.cause === undefined ? {} : { cause: options.cause })
    this.name = 'ManifestError'
    this.file = options?.file
  }
}

/** The standalone router process (docker-compose's router) was configured or driven wrongly. */
export class RouterMainError extends FleetError {
  declare readonly code: RouterMainErrorCode
  constructor(code: RouterMainErrorCode, message: string) {
    super(code, message)
    this.name = 'RouterMainError'
  }
}

/** `--runtime docker` was misused, or the engine refused to run an instance. */
export class RuntimeDockerError extends FleetError {
  declare readonly code: RuntimeDockerErrorCode
  constructor(code: RuntimeDockerErrorCode, message: string) {
    super(code, message)
    this.name = 'RuntimeDockerError'
  }
}

/** `zerodrop verify`: the URL did not answer 2xx before the command started, so there is nothing to measure. */
export class VerifyTargetError extends FleetUsageError {
  override readonly code = ERROR_CODES.VERIFY_TARGET
  constructor(message: string, cause?: unknown) {
    super(ERROR_CODES.VERIFY_TARGET, message, { cause, option: 'url' })
    this.name = 'VerifyTargetError'
  }
}

/** Thrown by a Prometheus query (analysis/promql). */
export class PrometheusQueryError extends FleetError {
  override readonly code = ERROR_CODES.PROMETHEUS
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERROR_CODES.PROMETHEUS, message, options)
    this.name = 'PrometheusQueryError'
  }
}

/** A scrape of an instance's /metrics failed: a non-200, a timeout, a closed socket. */
export class ScrapeError extends FleetError {
  override readonly code = ERROR_CODES.SCRAPE
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERROR_CODES.SCRAPE, message, options)
    this.name = 'ScrapeError'
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
