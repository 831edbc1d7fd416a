import os from 'node:os'
import type { Registry } from 'prom-client'
import { InvalidOptionError } from './errors.js'

/** The subset of a pino logger zerodrop uses; Fastify's `app.log` and pino instances fit. */
export interface Logger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
  debug?(obj: object, msg?: string): void
}

export interface ProbePaths {
  /** @default '/startupz' */
  readonly startup?: string
  /** @default '/livez' */
  readonly liveness?: string
  /** @default '/readyz' */
  readonly readiness?: string
  /** @default '/metrics' */
  readonly metrics?: string
}

export interface MetricsOptions {
  /** Registry the metrics are registered in. @default prom-client's global `register` */
  readonly registry?: Registry
  /** Prefix for every metric name. @default '' */
  readonly prefix?: string
  /**
   * Buckets of `http_request_duration_seconds`, in seconds. They must include the canary
   * gate's latency thresholds so p99 against 300 ms is not interpolated across a wide bucket.
   * @default [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5, 10]
   */
  readonly buckets?: readonly number[]
  /** Collect prom-client's default process metrics. @default true */
  readonly defaultMetrics?: boolean
}

export interface PressureOptions {
  /** Event-loop delay above which new requests are shed, in ms. @default 0 (off) */
  readonly maxEventLoopDelayMs?: number
  /** Heap used above which new requests are shed, in bytes. @default 0 (off) */
  readonly maxHeapUsedBytes?: number
  /** RSS above which new requests are shed, in bytes. @default 0 (off) */
  readonly maxRssBytes?: number
  /** `Retry-After` on shed responses, in seconds. @default 1 */
  readonly retryAfterSeconds?: number
  /**
   * Also fail readiness while under pressure. Off by default: a fleet-wide load spike would
   * otherwise empty every endpoint at once.
   * @default false
   */
  readonly failReadiness?: boolean
  /** How often pressure is sampled, in ms. @default 1000 */
  readonly sampleIntervalMs?: number
}

/**
 * The adaptive drain delay: it ends once the load balancer has visibly stopped sending — no new
 * request (probes and `/metrics` aside: kubelets and scrapers keep coming) for `quietMs` —
 * after at least `minMs`, and never later than `maxMs`. At very low traffic, quiet does not
 * prove the endpoint was removed: keep `minMs` at or above the usual removal lag.
 */
export interface AdaptiveDrainDelay {
  /** The delay lasts at least this long. @default 1000 */
  readonly minMs?: number
  /** It ends after this long without a new request. @default 1000 */
  readonly quietMs?: number
  /** It never lasts longer than this. `maxMs + shutdownTimeoutMs` must fit in `gracePeriodMs`. @default 10000 */
  readonly maxMs?: number
}

export type ResolvedDrainDelay =
  | { readonly mode: 'fixed'; readonly ms: number }
  | { readonly mode: 'adaptive'; readonly minMs: number; readonly quietMs: number; readonly maxMs: number }

export interface LifecycleOptions {
  /**
   * The drain delay: a fixed number of ms (the same as `drainDelayMs`), or adaptive — ended by
   * quiet, within a minimum and a maximum. Give this or `drainDelayMs`, not both.
   * @default 5000 (fixed)
   */
  readonly drainDelay?: number | AdaptiveDrainDelay
  /**
   * After SIGTERM, how long the server keeps accepting and serving while the load balancer
   * removes it (Kubernetes removes endpoints concurrently with SIGTERM). Every response in
   * this window carries `Connection: close`.
   * @default 5000
   */
  readonly drainDelayMs?: number
  /** After the drain delay, how long in-flight requests and shutdown hooks may take before the rest is destroyed and the exit code is 1. @default 20000 */
  readonly shutdownTimeoutMs?: number
  /**
   * The orchestrator's budget between SIGTERM and SIGKILL (Kubernetes'
   * `terminationGracePeriodSeconds`). `drainDelayMs + shutdownTimeoutMs` must fit in it.
   * @default 30000
   */
  readonly gracePeriodMs?: number
  /** Default timeout of each shutdown / drain-start hook. @default 5000 */
  readonly hookTimeoutMs?: number
  /**
   * After the listener closes, how long a connection that was accepted but has not sent its
   * first request yet may still send it (Go's `Shutdown` treats such connections as idle only
   * after 5 s).
   * @default 1000
   */
  readonly newConnectionGraceMs?: number
  /** Signals that start the drain; a second one forces exit. `[]` to disable. @default ['SIGTERM', 'SIGINT'] */
  readonly signals?: readonly NodeJS.Signals[]
  /** Exit the process when stopped (always explicitly: Node as PID 1 ignores a re-raised SIGTERM). @default true */
  readonly exit?: boolean
  /** Called instead of `process.exit` (for tests). @default process.exit */
  readonly terminate?: (code: number) => void
  /** A pino-compatible logger. @default a pino logger named 'zerodrop' */
  readonly logger?: Logger
  /** Probe and metrics paths. */
  readonly paths?: ProbePaths
  /** Metrics options, or `false` for none. @default {} */
  readonly metrics?: MetricsOptions | false
  /** Serve probes and metrics on this separate port as well (0 = any free port). @default undefined (off) */
  readonly adminPort?: number
  /** Host of the admin server. @default '0.0.0.0' */
  readonly adminHost?: string
  /**
   * `keepAliveTimeout` set on attached servers; `headersTimeout` is kept above it. Longer than
   * common load-balancer idle timeouts (60 s): Node's 5 s default makes a proxy reuse a socket
   * the server just closed, which is a 502.
   * @default 65000
   */
  readonly keepAliveTimeoutMs?: number
  /** How long check results are cached, in ms, so probe floods do not load a dependency. @default 1000 */
  readonly checkCacheMs?: number
  /** Load shedding under pressure; off unless given. */
  readonly pressure?: PressureOptions
}

export interface ResolvedOptions {
  readonly drainDelay: ResolvedDrainDelay
  /** the longest the drain delay can last: the fixed delay, or the adaptive one's `maxMs` */
  readonly drainDelayMs: number
  readonly shutdownTimeoutMs: number
  readonly gracePeriodMs: number
  readonly hookTimeoutMs: number
  readonly newConnectionGraceMs: number
  readonly signals: readonly NodeJS.Signals[]
  readonly exit: boolean
  readonly terminate: (code: number) => void
  readonly logger: Logger | undefined
  readonly paths: Required<ProbePaths>
  readonly metrics: Required<Omit<MetricsOptions, 'registry'>> & { registry: Registry | undefined } | false
  readonly adminPort: number | undefined
  readonly adminHost: string
  readonly keepAliveTimeoutMs: number
  readonly checkCacheMs: number
  readonly pressure: Required<PressureOptions> | undefined
}

export const DEFAULT_BUCKETS = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5, 10])

export const DEFAULTS = Object.freeze({
  drainDelayMs: 5000,
  adaptiveDrainDelay: Object.freeze({ minMs: 1000, quietMs: 1000, maxMs: 10_000 }),
  shutdownTimeoutMs: 20_000,
  gracePeriodMs: 30_000,
  hookTimeoutMs: 5000,
  newConnectionGraceMs: 1000,
  signals: Object.freeze(['SIGTERM', 'SIGINT'] as NodeJS.Signals[]),
  exit: true,
  paths: Object.freeze({ startup: '/startupz', liveness: '/livez', readiness: '/readyz', metrics: '/metrics' }),
  adminHost: '0.0.0.0',
  keepAliveTimeoutMs: 65_000,
  checkCacheMs: 1000,
})

const KNOWN: readonly string[] = [
  'drainDelay', 'drainDelayMs', 'shutdownTimeoutMs', 'gracePeriodMs', 'hookTimeoutMs', 'newConnectionGraceMs', 'signals', 'exit',
  'terminate', 'logger', 'paths', 'metrics', 'adminPort', 'adminHost', 'keepAliveTimeoutMs', 'checkCacheMs', 'pressure',
]

/** The longest delay Node's timers honour: a longer `setTimeout` fires after 1 ms (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2_147_483_647

/** The same validators as the fleet's `core/validate.ts`: a number, or an integer, within [min, max]. */
interface Range {
  readonly min?: number
  readonly max?: number
}

function expectedNumber(integer: boolean, { min, max }: Range, unit?: string): string {
  const what = `${integer ? 'an integer' : 'a number'}${unit === undefined ? '' : ` of ${unit}`}`
  if (min !== undefined && max !== undefined) return `${what} from ${min} to ${max}`
  if (min !== undefined) return `${what} ≥ ${min}`
  if (max !== undefined) return `${what} ≤ ${max}`
  return what
}

function number(name: string, value: unknown, fallback: number, range: Range, integer: boolean, unit?: string): number {
  if (value === undefined) return fallback
  if (
    typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) ||
    (range.min !== undefined && value < range.min) || (range.max !== undefined && value > range.max)
  ) {
    throw new InvalidOptionError(name, expectedNumber(integer, range, unit), value)
  }
  return value
}

function int(name: string, value: unknown, fallback: number, range: Range): number {
  return number(name, value, fallback, range, true)
}

function num(name: string, value: unknown, fallback: number, range: Range): number {
  return number(name, value, fallback, range, false)
}

/** A delay handed to a timer: 0 to MAX_TIMER_MS milliseconds. */
function duration(name: string, value: unknown, fallback: number): number {
  return number(name, value, fallback, { min: 0, max: MAX_TIMER_MS }, false, 'milliseconds')
}

function path(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !value.startsWith('/')) throw new InvalidOptionError(name, "a path starting with '/'", value)
  return value
}

/** Edit distance counting a swap of two neighbours as one edit, for "did you mean". */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1)
      d[i]![j] = best
    }
  }
  return d[a.length]![b.length]!
}

/** The closest known name, when it is close enough to be what was meant. */
function closest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase()
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const k of known) {
    const kl = k.toLowerCase()
    const d = kl === lower ? 0 : kl.startsWith(lower) || lower.startsWith(kl) ? 1 : distance(lower, kl)
    if (d < bestDistance) {
      best = k
      bestDistance = d
    }
  }
  return bestDistance <= Math.max(1, Math.floor(name.length / 4)) ? best : undefined
}

function unknownOption(option: string, key: string, known: readonly string[]): InvalidOptionError {
  const guess = closest(key, known)
  const hint = guess === undefined ? '' : ` did you mean '${guess}'?`
  return new InvalidOptionError(option, '', key, { message: `unknown option '${option}':${hint} expected one of ${known.join(', ')}` })
}

const UNCATCHABLE = new Set(['SIGKILL', 'SIGSTOP'])

function signalList(value: unknown): readonly NodeJS.Signals[] {
  if (!Array.isArray(value)) throw new InvalidOptionError('signals', "an array of signal names such as ['SIGTERM', 'SIGINT']", value)
  const known = Object.keys(os.constants.signals)
  value.forEach((s: unknown, i) => {
    const at = `signals[${i}]`
    if (typeof s !== 'string' || !(s in os.constants.signals)) {
      const guess = typeof s === 'string' ? closest(s, known) : undefined
      throw new InvalidOptionError(at, `a signal name this platform knows, such as 'SIGTERM'${guess === undefined ? '' : ` (did you mean '${guess}'?)`}`, s)
    }
    if (UNCATCHABLE.has(s)) {
      throw new InvalidOptionError(at, `a signal a process can catch: ${s} cannot be caught, so it can never start a drain; use 'SIGTERM'`, s)
    }
  })
  return Object.freeze([...(value as NodeJS.Signals[])])
}

function resolveDrainDelay(options: LifecycleOptions): ResolvedDrainDelay {
  const d = options.drainDelay
  if (d !== undefined && options.drainDelayMs !== undefined) {
    throw new InvalidOptionError('drainDelay', 'given alone: drainDelayMs is the same setting (a fixed delay)', d)
  }
  if (d === undefined || typeof d === 'number') {
    const name = d === undefined ? 'drainDelayMs' : 'drainDelay'
    return Object.freeze({ mode: 'fixed', ms: duration(name, d ?? options.drainDelayMs, DEFAULTS.drainDelayMs) })
  }
  if (typeof d !== 'object' || d === null) throw new InvalidOptionError('drainDelay', 'a number of ms or { minMs, quietMs, maxMs }', d)
  for (const key of Object.keys(d)) {
    if (!(key in DEFAULTS.adaptiveDrainDelay)) throw unknownOption(`drainDelay.${key}`, key, Object.keys(DEFAULTS.adaptiveDrainDelay))
  }
  const a = DEFAULTS.adaptiveDrainDelay
  const minMs = duration('drainDelay.minMs', d.minMs, a.minMs)
  const quietMs = duration('drainDelay.quietMs', d.quietMs, a.quietMs)
  const maxMs = duration('drainDelay.maxMs', d.maxMs, Math.max(a.maxMs, minMs))
  if (quietMs <= 0) throw new InvalidOptionError('drainDelay.quietMs', 'more than 0 ms (0 would end the delay at minMs whatever the traffic)', quietMs)
  if (maxMs < minMs) throw new InvalidOptionError('drainDelay.maxMs', `at least drainDelay.minMs (${minMs} ms)`, maxMs)
  return Object.freeze({ mode: 'adaptive', minMs, quietMs, maxMs })
}

export function resolveOptions(options: LifecycleOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object', options)
  for (const key of Object.keys(options)) {
    if (!KNOWN.includes(key)) throw unknownOption(key, key, KNOWN)
  }
  const drainDelay = resolveDrainDelay(options)
  const drainDelayMs = drainDelay.mode === 'fixed' ? drainDelay.ms : drainDelay.maxMs
  const shutdownTimeoutMs = duration('shutdownTimeoutMs', options.shutdownTimeoutMs, DEFAULTS.shutdownTimeoutMs)
  const gracePeriodMs = duration('gracePeriodMs', options.gracePeriodMs, DEFAULTS.gracePeriodMs)
  const hookTimeoutMs = duration('hookTimeoutMs', options.hookTimeoutMs, Math.min(DEFAULTS.hookTimeoutMs, shutdownTimeoutMs))
  const newConnectionGraceMs = duration('newConnectionGraceMs', options.newConnectionGraceMs, DEFAULTS.newConnectionGraceMs)
  const keepAliveTimeoutMs = duration('keepAliveTimeoutMs', options.keepAliveTimeoutMs, DEFAULTS.keepAliveTimeoutMs)
  const checkCacheMs = duration('checkCacheMs', options.checkCacheMs, DEFAULTS.checkCacheMs)

  // Cross-field checks, like lightship's "gracefulShutdownTimeout cannot be lesser than shutdownHandlerTimeout".
  if (drainDelayMs + shutdownTimeoutMs > gracePeriodMs) {
    throw new InvalidOptionError(
      drainDelay.mode === 'fixed' ? 'drainDelayMs + shutdownTimeoutMs' : 'drainDelay.maxMs + shutdownTimeoutMs',
      `at most gracePeriodMs (${gracePeriodMs} ms), or the orchestrator SIGKILLs the process mid-drain`,
      drainDelayMs + shutdownTimeoutMs,
    )
  }
  if (hookTimeoutMs > shutdownTimeoutMs) {
    throw new InvalidOptionError('hookTimeoutMs', `at most shutdownTimeoutMs (${shutdownTimeoutMs} ms)`, hookTimeoutMs)
  }

  const signals = options.signals === undefined ? DEFAULTS.signals : signalList(options.signals)
  if (options.exit !== undefined && typeof options.exit !== 'boolean') throw new InvalidOptionError('exit', 'a boolean', options.exit)
  if (options.terminate !== undefined && typeof options.terminate !== 'function') {
    throw new InvalidOptionError('terminate', 'a function (code) => void', options.terminate)
  }
  const logger = options.logger
  if (logger !== undefined && (typeof logger !== 'object' || logger === null || typeof logger.info !== 'function' || typeof logger.error !== 'function' || typeof logger.warn !== 'function')) {
    throw new InvalidOptionError('logger', 'a pino-compatible logger with info, warn and error methods', logger)
  }

  const p = options.paths ?? {}
  if (typeof p !== 'object' || p === null) throw new InvalidOptionError('paths', 'an object', p)
  for (const key of Object.keys(p)) {
    if (!(key in DEFAULTS.paths)) throw unknownOption(`paths.${key}`, key, Object.keys(DEFAULTS.paths))
  }
  const paths = Object.freeze({
    startup: path('paths.startup', p.startup, DEFAULTS.paths.startup),
    liveness: path('paths.liveness', p.liveness, DEFAULTS.paths.liveness),
    readiness: path('paths.readiness', p.readiness, DEFAULTS.paths.readiness),
    metrics: path('paths.metrics', p.metrics, DEFAULTS.paths.metrics),
  })
  if (new Set(Object.values(paths)).size !== 4) throw new InvalidOptionError('paths', 'four distinct paths', Object.values(paths))

  let metrics: ResolvedOptions['metrics'] = false
  if (options.metrics !== false) {
    const m = options.metrics ?? {}
    if (typeof m !== 'object' || m === null) throw new InvalidOptionError('metrics', 'an object or false', m)
    const buckets = m.buckets ?? DEFAULT_BUCKETS
    if (!Array.isArray(buckets) || buckets.length === 0 || !buckets.every((b, i) => typeof b === 'number' && b > 0 && (i === 0 || b > (buckets[i - 1] as number)))) {
      throw new InvalidOptionError('metrics.buckets', 'a non-empty, strictly increasing array of positive seconds', buckets)
    }
    if (m.prefix !== undefined && (typeof m.prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/.test(m.prefix))) {
      throw new InvalidOptionError('metrics.prefix', 'a valid Prometheus metric name prefix such as "myapp_"', m.prefix)
    }
    if (m.registry !== undefined && (typeof m.registry !== 'object' || typeof (m.registry as Registry).registerMetric !== 'function')) {
      throw new InvalidOptionError('metrics.registry', 'a prom-client Registry', m.registry)
    }
    metrics = Object.freeze({
      registry: m.registry,
      prefix: m.prefix ?? '',
      buckets: Object.freeze([...buckets]),
      defaultMetrics: m.defaultMetrics ?? true,
    })
  }

  let adminPort: number | undefined
  if (options.adminPort !== undefined) {
    adminPort = int('adminPort', options.adminPort, 0, { min: 0, max: 65535 })
  }
  if (options.adminHost !== undefined && typeof options.adminHost !== 'string') throw new InvalidOptionError('adminHost', 'a host string', options.adminHost)

  let pressure: ResolvedOptions['pressure']
  if (options.pressure !== undefined) {
    const pr = options.pressure
    if (typeof pr !== 'object' || pr === null) throw new InvalidOptionError('pressure', 'an object', pr)
    pressure = Object.freeze({
      maxEventLoopDelayMs: duration('pressure.maxEventLoopDelayMs', pr.maxEventLoopDelayMs, 0),
      maxHeapUsedBytes: num('pressure.maxHeapUsedBytes', pr.maxHeapUsedBytes, 0, { min: 0 }),
      maxRssBytes: num('pressure.maxRssBytes', pr.maxRssBytes, 0, { min: 0 }),
      retryAfterSeconds: num('pressure.retryAfterSeconds', pr.retryAfterSeconds, 1, { min: 0 }),
      failReadiness: pr.failReadiness ?? false,
      sampleIntervalMs: duration('pressure.sampleIntervalMs', pr.sampleIntervalMs, 1000),
    })
  }

  return Object.freeze({
    drainDelay,
    drainDelayMs,
    shutdownTimeoutMs,
    gracePeriodMs,
    hookTimeoutMs,
    newConnectionGraceMs,
    signals,
    exit: options.exit ?? DEFAULTS.exit,
    terminate: options.terminate ?? ((code: number) => process.exit(code)),
    logger,
    paths,
    metrics,
    adminPort,
    adminHost: options.adminHost ?? DEFAULTS.adminHost,
    keepAliveTimeoutMs,
    checkCacheMs,
    pressure,
  })
}
