/**
 * Every error the fleet throws has a stable `ZD_ERR_*` code. Usage errors (bad options, a
 * command that cannot run, a port that cannot be bound) are `FleetUsageError`s: the CLI maps
 * them to exit code 64 and prints the message, which names the option at fault.
 */
export const ERROR_CODES = {
  INVALID_OPTION: 'ZD_ERR_INVALID_OPTION',
  INSTANCE_EXITED: 'ZD_ERR_INSTANCE_EXITED',
  INSTANCE_SPAWN: 'ZD_ERR_INSTANCE_SPAWN',
  INSTANCE_NOT_READY: 'ZD_ERR_INSTANCE_NOT_READY',
  PORT_UNAVAILABLE: 'ZD_ERR_PORT_UNAVAILABLE',
  ABORTED: 'ZD_ERR_ABORTED',
  MANIFEST: 'ZD_ERR_MANIFEST',
  ROUTER_NOT_LOOPBACK: 'ZD_ERR_ROUTER_NOT_LOOPBACK',
  ROUTER_INVALID_OPTION: 'ZD_ERR_ROUTER_INVALID_OPTION',
  ROUTER_INVALID_ENDPOINT: 'ZD_ERR_ROUTER_INVALID_ENDPOINT',
  ROUTER_INVALID_WEIGHTS: 'ZD_ERR_ROUTER_INVALID_WEIGHTS',
  ROUTER_LISTEN: 'ZD_ERR_ROUTER_LISTEN',
  ROUTER_MAIN_CONFIG: 'ZD_ERR_ROUTER_MAIN_CONFIG',
  ROUTER_MAIN_UNKNOWN_ENDPOINT: 'ZD_ERR_ROUTER_MAIN_UNKNOWN_ENDPOINT',
  ROUTER_MAIN_TARGET_NOT_READY: 'ZD_ERR_ROUTER_MAIN_TARGET_NOT_READY',
  RUNTIME_DOCKER_USAGE: 'ZD_ERR_RUNTIME_DOCKER_USAGE',
  RUNTIME_DOCKER_RUN: 'ZD_ERR_RUNTIME_DOCKER_RUN',
  VERIFY_TARGET: 'ZD_ERR_VERIFY_TARGET',
} as const

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

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES]

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
  constructor(option: string, expected: string, received: unknown) {
    super(ERROR_CODES.INVALID_OPTION, `${option}: expected ${expected}, instead got ${describe(received)}`, { option })
    this.name = 'InvalidOptionError'
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

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (typeof value === 'string') return `'${value}'`
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`
  try {
    return `${Array.isArray(value) ? 'array' : typeof value} ${JSON.stringify(value)}`
  } catch {
    return typeof value
  }
}
