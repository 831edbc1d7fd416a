import { parseRequestSpec, resolveRecheckWrites, type KeptWrite, type RecheckWrite, type RequestSpec } from './requests.js'
import { InvalidOptionError } from '../core/errors.js'
import { int, intMs, num, seconds } from '../core/validate.js'
import {
  resolveAnalysis,
  resolveBlueGreen,
  resolveCanary,
  type AnalysisSettings,
  type BlueGreenOptions,
  type CanaryOptions,
  type ResolvedAnalysis,
  type ResolvedBlueGreen,
  type ResolvedCanary,
} from './progressive.js'

/**
 * A probe polled the way the kubelet polls it (HTTP GET on the instance, 200–399 is a success).
 * Kubernetes' field names, in milliseconds: a fleet on one machine needs sub-second periods.
 */
export interface ProbeOptions {
  /** Path on the instance. @default '/startupz' | '/readyz' | '/livez' */
  readonly path?: string
  /** Wait before the first probe. @default 0 */
  readonly initialDelayMs?: number
  /** Time between probes. Kubernetes' default is 10 s; one machine can afford 1 s. @default 1000 */
  readonly periodMs?: number
  /** A probe that takes longer fails. @default 1000 (Kubernetes: 1 s) */
  readonly timeoutMs?: number
  /** Consecutive successes that count as passing; must be 1 for startup and liveness. @default 1 */
  readonly successThreshold?: number
  /** Consecutive failures that count as failing. @default 3 (startup: 60, so slow starts are not killed) */
  readonly failureThreshold?: number
  /** Set to false to run without this probe (the instance then counts as passing it). @default true */
  readonly enabled?: boolean
}

export interface ResolvedProbe {
  readonly path: string
  readonly initialDelayMs: number
  readonly periodMs: number
  readonly timeoutMs: number
  readonly successThreshold: number
  readonly failureThreshold: number
  readonly enabled: boolean
}

export interface ProbesOptions {
  /** Applied to all three probes before their own settings. */
  readonly common?: Omit<ProbeOptions, 'path' | 'enabled'>
  readonly startup?: ProbeOptions
  readonly readiness?: ProbeOptions
  readonly liveness?: ProbeOptions
}

export interface ResolvedProbes {
  readonly startup: ResolvedProbe
  readonly readiness: ResolvedProbe
  readonly liveness: ResolvedProbe
}

/** A revision of the service: a shell command line (run with `sh -c`) or an argv array. */
export interface RevisionOptions {
  readonly command: string | readonly string[]
  /** Extra environment for this revision's instances (PORT and HOST are always set by the fleet). */
  readonly env?: Readonly<Record<string, string>>
  /** Label used in the router's counts and the report. @default 'v1' for from, 'v2' for to */
  readonly name?: string
}

export interface ResolvedRevision {
  readonly name: string
  readonly argv: readonly string[]
  /** What the user gave, for messages and the report. */
  readonly display: string
  readonly env: Readonly<Record<string, string>>
  /** 'from' or 'to': the option that names this revision in error messages. */
  readonly option: string
}

/** Rolling update parameters, as in a Deployment's `spec.strategy.rollingUpdate`. */
export interface RollingOptions {
  /** Instances above `replicas` during the update; an integer or a percentage, rounded up. @default '25%' */
  readonly maxSurge?: number | string
  /** Instances below `replicas` during the update; an integer or a percentage, rounded down. @default '25%' */
  readonly maxUnavailable?: number | string
  /** A ready instance counts as available after this long. @default 0 */
  readonly minReadySeconds?: number
  /** Without progress for this long the rollout stops and rolls back. @default 600 */
  readonly progressDeadlineSeconds?: number
}

export interface ResolvedRolling {
  readonly maxSurge: number
  readonly maxUnavailable: number
  readonly maxSurgeInput: number | string
  readonly maxUnavailableInput: number | string
  readonly minReadySeconds: number
  readonly progressDeadlineSeconds: number
}

/** The load driven through the router for the whole rollout. */
export interface LoadOptions {
  /** Keep-alive connections of the load generator. @default 50 */
  readonly connections?: number
  /** Requests per second over all the load's connections, evenly paced. @default 300 */
  readonly rate?: number
  /** Each connection is closed and reopened after this many requests, so new connections keep arriving. 0 disables. At 300 req/s over 50 connections that is a new connection every ~5 s per connection, 10 a second in all; clients that keep connections longer are also what a server that closes them badly must survive. @default 30 */
  readonly reconnectRate?: number
  /**
   * Requests a connection sends back to back (each as soon as the previous response arrived)
   * before pausing; the pauses keep the rate. Back-to-back reuse of a keep-alive socket is where a
   * server that closes sockets after a response without `Connection: close` loses requests. @default 3
   */
  readonly burst?: number
  /** @default 'GET' */
  readonly method?: string
  /** @default '/' */
  readonly path?: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string
  /**
   * A request mix instead of the one request of `method`/`path`/`body` (giving both is an error):
   * each `[WEIGHT*] METHOD PATH [BODY]` (options/requests.ts), e.g. `3* GET /items?limit=5` and
   * `POST /items {"name":"{{seq}}"}`; `{{seq}}` becomes a value unique to the request. `headers`
   * apply to every entry. An entry ending in `=> GET /items/{{.id}} .name` is a checked write: after
   * the load has stopped, each one answered 2xx is read back through the router and must hold its
   * value (the data check; a write lost or changed: exit 5). @default none
   */
  readonly requests?: readonly string[]
  /** The data check keeps at most this many checked writes; later ones are counted, not read back. @default 10000 */
  readonly dataCheckMaxWrites?: number
  /** The data check's read-back ends within this; writes not read by then are unverified. @default 30000 */
  readonly dataCheckTimeoutMs?: number
  /** Load runs this long before the rollout starts. @default 1500 */
  readonly leadMs?: number
  /** ... and this long after it ends, before a graceful stop. @default 1500 */
  readonly tailMs?: number
  /** A request without a response after this long is a timeout. @default 10000 */
  readonly timeoutMs?: number
  /** Paced exact keep-alive clients run beside the main load as a second load-side cross-check. 0 disables. @default 4 */
  readonly exactClients?: number
  /** Interval between an exact client's requests. @default 100 */
  readonly exactIntervalMs?: number
}

export interface ResolvedLoad {
  readonly connections: number
  readonly rate: number
  readonly reconnectRate: number
  readonly burst: number
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string | undefined
  /** the mix, or empty: the one request above */
  readonly requests: readonly RequestSpec[]
  readonly dataCheckMaxWrites: number
  readonly dataCheckTimeoutMs: number
  readonly leadMs: number
  readonly tailMs: number
  readonly timeoutMs: number
  readonly exactClients: number
  readonly exactIntervalMs: number
}

/** `l4` pins each connection (kube-proxy), `l7` balances each request (an ingress). */
export type RouterMode = 'l4' | 'l7'

export type StrategyName = 'rolling' | 'blue-green' | 'canary'
export const STRATEGIES: readonly string[] = ['rolling', 'blue-green', 'canary']
export const ROUTER_MODES: readonly RouterMode[] = ['l4', 'l7']

export interface ProgressEvent {
  /** ms since the deploy started */
  readonly t: number
  readonly message: string
}

/** What the fleet is doing now, for a live status line. */
export interface DeployStatus {
  /** ms since the deploy started */
  readonly t: number
  /** 'starting' until the load runs, 'lead' before the rollout, then the phase of the latest step */
  readonly phase: string
  /** the latest step's action ('' before the first) */
  readonly step: string
  /** instances per revision: ready, available (ready for minReadySeconds), terminating */
  readonly revisions: Readonly<Record<string, { readonly ready: number; readonly available: number; readonly terminating: number }>>
  /** router requests per second over the last interval */
  readonly rps: number
  /** router requests since the load started */
  readonly requests: number
  /** failed requests and refused connections so far, as the router counts them (a bad release's 5xx among them) */
  readonly failed: number
}

export interface DeployOptions {
  /** @default 'rolling' */
  readonly strategy?: StrategyName
  /** The running revision. */
  readonly from: string | readonly string[] | RevisionOptions
  /** The revision to deploy. */
  readonly to: string | readonly string[] | RevisionOptions
  /** @default 3 */
  readonly replicas?: number
  /** Router mode: `l4` pins each connection (kube-proxy), `l7` balances each request (an ingress). @default 'l4' */
  readonly router?: RouterMode
  /** Front port of the router on 127.0.0.1; 0 picks a free one. @default 0 */
  readonly port?: number
  /** Delay between an instance's SIGTERM and its removal from the router pool (Kubernetes' endpoint lag). @default 1000 */
  readonly endpointDelayMs?: number
  /** SIGKILL this long after SIGTERM. @default 30 */
  readonly terminationGracePeriodSeconds?: number
  readonly rolling?: RollingOptions
  /** The gate of blue-green and canary (Argo Rollouts analysis semantics). */
  readonly analysis?: AnalysisSettings
  readonly canary?: CanaryOptions
  readonly blueGreen?: BlueGreenOptions
  readonly probes?: ProbesOptions
  readonly load?: LoadOptions
  /** Folder for instance logs. @default a new folder under the OS temp dir */
  readonly runDir?: string
  /** Router upstream keep-alive idle timeout (l7). Router default when unset. */
  readonly upstreamIdleTimeoutMs?: number
  /**
   * After promotion, under load, replace one instance of the new revision surge-first and stop it
   * the Kubernetes way, judging its drain like any other: a release that ignores SIGTERM or exits
   * at once is not safe to stop (exit 4). @default true
   */
  readonly stopCheck?: boolean
  /**
   * Runs once the rollout has ended (after the stop check) while the tail's load still runs, e.g. a
   * post-deploy migration (expand/contract's DROP once no old instance runs). The load stops once
   * both the tail and this have ended; the data check comes after. If it throws, the deploy
   * rejects with that error (every instance stopped).
   */
  readonly afterRollout?: (rollout: { readonly outcome: 'promoted' | 'rolled-back' | 'rollback-failed' }) => void | Promise<void>
  /**
   * Writes earlier deploys verified (each report's `dataCheck.kept`), read back again by this
   * deploy's data check: a multi-step migration must not lose what a previous step wrote (a
   * backfill that skipped rows, a DROP of a column still holding data). @default none
   */
  readonly recheckWrites?: readonly KeptWrite[]
  /** Aborts the deploy; every instance is stopped. */
  readonly signal?: AbortSignal
  /** Called with a line of progress during long waits. */
  readonly onProgress?: (event: ProgressEvent) => void
  /** Called every `statusIntervalMs` with the fleet's state, for a live status line. */
  readonly onStatus?: (status: DeployStatus) => void
  /** @default 250 */
  readonly statusIntervalMs?: number
}

export interface ResolvedDeployOptions {
  readonly strategy: StrategyName
  readonly from: ResolvedRevision
  readonly to: ResolvedRevision
  readonly replicas: number
  readonly router: RouterMode
  readonly port: number
  readonly endpointDelayMs: number
  readonly terminationGracePeriodSeconds: number
  readonly rolling: ResolvedRolling
  readonly analysis: ResolvedAnalysis
  readonly canary: ResolvedCanary
  readonly blueGreen: ResolvedBlueGreen
  readonly probes: ResolvedProbes
  readonly load: ResolvedLoad
  readonly runDir: string | undefined
  readonly upstreamIdleTimeoutMs: number | undefined
  readonly stopCheck: boolean
  readonly afterRollout: DeployOptions['afterRollout']
  readonly recheckWrites: readonly RecheckWrite[]
  readonly signal: AbortSignal | undefined
  readonly onProgress: ((event: ProgressEvent) => void) | undefined
  readonly onStatus: ((status: DeployStatus) => void) | undefined
  readonly statusIntervalMs: number
}

const PROBE_DEFAULTS = Object.freeze({ initialDelayMs: 0, periodMs: 1000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3 })
const PROBE_PATHS = Object.freeze({ startup: '/startupz', readiness: '/readyz', liveness: '/livez' })
const LOAD_DEFAULTS = Object.freeze({
  connections: 50,
  rate: 300,
  reconnectRate: 30,
  burst: 3,
  method: 'GET',
  path: '/',
  leadMs: 1500,
  tailMs: 1500,
  timeoutMs: 10_000,
  exactClients: 4,
  exactIntervalMs: 100,
  dataCheckMaxWrites: 10_000,
  dataCheckTimeoutMs: 30_000,
})

function bool(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new InvalidOptionError(option, 'true or false', value)
  return value
}

function resolveProbe(name: keyof ResolvedProbes, common: ProbesOptions['common'], own: ProbeOptions | undefined): ResolvedProbe {
  const o = { ...common, ...own }
  const prefix = `probes.${name}`
  const path = o.path ?? PROBE_PATHS[name]
  if (typeof path !== 'string' || !path.startsWith('/')) throw new InvalidOptionError(`${prefix}.path`, "a path starting with '/'", path)
  const probe: ResolvedProbe = {
    path,
    initialDelayMs: intMs(`${prefix}.initialDelayMs`, o.initialDelayMs, PROBE_DEFAULTS.initialDelayMs, 0),
    periodMs: intMs(`${prefix}.periodMs`, o.periodMs, PROBE_DEFAULTS.periodMs, 10),
    timeoutMs: intMs(`${prefix}.timeoutMs`, o.timeoutMs, PROBE_DEFAULTS.timeoutMs, 1),
    successThreshold: int(`${prefix}.successThreshold`, o.successThreshold, PROBE_DEFAULTS.successThreshold, 1),
    failureThreshold: int(`${prefix}.failureThreshold`, o.failureThreshold, name === 'startup' ? 60 : PROBE_DEFAULTS.failureThreshold, 1),
    enabled: o.enabled ?? true,
  }
  // Kubernetes rejects these too: "successThreshold must be 1" for liveness and startup probes.
  if (name !== 'readiness' && probe.successThreshold !== 1) {
    throw new InvalidOptionError(`${prefix}.successThreshold`, '1 (as Kubernetes requires for liveness and startup probes)', probe.successThreshold)
  }
  return probe
}

/**
 * `maxSurge` / `maxUnavailable` as the Deployment controller resolves them
 * (kubernetes/pkg/controller/deployment/util ResolveFenceposts): surge rounds up, unavailable
 * rounds down; both zero is invalid; if both round to zero, maxUnavailable becomes 1.
 */
export function resolveFenceposts(
  maxSurge: number | string,
  maxUnavailable: number | string,
  replicas: number,
): { maxSurge: number; maxUnavailable: number } {
  const surge = scaled('rolling.maxSurge', maxSurge, replicas, Math.ceil)
  const unavailable = scaled('rolling.maxUnavailable', maxUnavailable, replicas, Math.floor)
  if (isZero(maxSurge) && isZero(maxUnavailable)) {
    throw new InvalidOptionError('rolling.maxSurge/maxUnavailable', 'at most one of them to be 0 (the rollout could never progress)', `${String(maxSurge)} and ${String(maxUnavailable)}`)
  }
  if (surge === 0 && unavailable === 0) return { maxSurge: 0, maxUnavailable: 1 }
  return { maxSurge: surge, maxUnavailable: unavailable }
}

function isZero(v: number | string): boolean {
  return v === 0 || (typeof v === 'string' && /^0+(\.0+)?%?$/.test(v.trim()))
}

function scaled(option: string, value: number | string, replicas: number, round: (n: number) => number): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) throw new InvalidOptionError(option, 'an integer >= 0 or a percentage like "25%"', value)
    return value
  }
  const m = /^(\d+(?:\.\d+)?)%$/.exec(value.trim())
  if (m?.[1] !== undefined) {
    const pct = Number(m[1])
    if (pct > 100) throw new InvalidOptionError(option, 'a percentage between 0% and 100%', value)
    return round((pct * replicas) / 100)
  }
  if (/^\d+$/.test(value.trim())) return Number(value.trim())
  throw new InvalidOptionError(option, 'an integer >= 0 or a percentage like "25%"', value)
}

const LEADING_ASSIGNMENTS = /^(?:\s*[A-Za-z_][A-Za-z0-9_]*=(?:'[^']*'|"[^"\\$`]*"|[^\s'"\\$`;&|<>()]*)(?=\s))*\s*/
const SHELL_OPERATORS = /[;&|<>()`$\n\\]/

/**
 * `APP_VERSION=v2 node server.js` → `APP_VERSION=v2 exec node server.js`: dash forks a simple
 * command instead of exec-ing it, so the report would show the shell's exit (killed by SIGTERM)
 * instead of the service's own exit code. Anything beyond a simple command is left to the shell
 * (SIGTERM goes to the whole process group either way).
 */
export function execSimpleCommand(command: string): string {
  const assignments = LEADING_ASSIGNMENTS.exec(command)?.[0] ?? ''
  const rest = command.slice(assignments.length)
  if (rest === '' || SHELL_OPERATORS.test(rest) || /^exec\s/.test(rest)) return command
  return `${assignments}exec ${rest}`
}

function resolveRevision(option: 'from' | 'to', value: unknown, defaultName: string): ResolvedRevision {
  const spec: RevisionOptions | undefined =
    typeof value === 'string' || Array.isArray(value)
      ? { command: value as string | string[] }
      : value !== null && typeof value === 'object' && 'command' in value
        ? (value as RevisionOptions)
        : undefined
  if (spec === undefined) throw new InvalidOptionError(option, 'a command line (string), an argv array or { command }', value)
  const { command } = spec
  let argv: string[]
  let display: string
  if (typeof command === 'string') {
    if (command.trim() === '') throw new InvalidOptionError(option, 'a non-empty command line', command)
    argv = ['sh', '-c', execSimpleCommand(command)]
    display = command
  } else if (Array.isArray(command) && command.length > 0 && command.every((a) => typeof a === 'string') && command[0] !== '') {
    argv = [...command]
    display = command.join(' ')
  } else {
    throw new InvalidOptionError(option, 'a non-empty command line or argv array', command)
  }
  const name = spec.name ?? defaultName
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new InvalidOptionError(`${option}.name`, 'a label of letters, digits, dot, dash or underscore', name)
  return { name, argv, display, env: { ...spec.env }, option }
}

export function resolveDeployOptions(options: DeployOptions): ResolvedDeployOptions {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options)
  const strategy = options.strategy ?? 'rolling'
  if (!STRATEGIES.includes(strategy)) throw new InvalidOptionError('strategy', `one of ${STRATEGIES.join(', ')}`, strategy)
  if (options.from === undefined) throw new InvalidOptionError('from', 'the command of the running revision', undefined)
  if (options.to === undefined) throw new InvalidOptionError('to', 'the command of the revision to deploy', undefined)
  const from = resolveRevision('from', options.from, 'v1')
  const to = resolveRevision('to', options.to, 'v2')
  if (from.name === to.name) throw new InvalidOptionError('to.name', `a revision name different from from's '${from.name}'`, to.name)
  const replicas = int('replicas', options.replicas, 3, 1)
  const router = options.router ?? 'l4'
  if (!ROUTER_MODES.includes(router)) throw new InvalidOptionError('router', `one of ${ROUTER_MODES.join(', ')}`, router)
  const port = int('port', options.port, 0, 0, 65535)
  const endpointDelayMs = intMs('endpointDelayMs', options.endpointDelayMs, 1000, 0)
  const terminationGracePeriodSeconds = seconds('terminationGracePeriodSeconds', options.terminationGracePeriodSeconds, 30)

  const r = options.rolling ?? {}
  const maxSurgeInput = r.maxSurge ?? '25%'
  const maxUnavailableInput = r.maxUnavailable ?? '25%'
  const fence = resolveFenceposts(maxSurgeInput, maxUnavailableInput, replicas)
  const rolling: ResolvedRolling = {
    ...fence,
    maxSurgeInput,
    maxUnavailableInput,
    minReadySeconds: seconds('rolling.minReadySeconds', r.minReadySeconds, 0),
    progressDeadlineSeconds: seconds('rolling.progressDeadlineSeconds', r.progressDeadlineSeconds, 600, 0.1),
  }
  if (rolling.progressDeadlineSeconds <= rolling.minReadySeconds) {
    throw new InvalidOptionError('rolling.progressDeadlineSeconds', `more than minReadySeconds (${rolling.minReadySeconds}), as Kubernetes requires`, rolling.progressDeadlineSeconds)
  }

  const p = options.probes ?? {}
  const probes: ResolvedProbes = {
    startup: resolveProbe('startup', p.common, p.startup),
    readiness: resolveProbe('readiness', p.common, p.readiness),
    liveness: resolveProbe('liveness', p.common, p.liveness),
  }

  const l = options.load ?? {}
  if (l.requests !== undefined && !Array.isArray(l.requests)) throw new InvalidOptionError('load.requests', 'an array of "[WEIGHT*] METHOD /PATH [BODY]" strings', l.requests)
  const requests = (l.requests ?? []).map((r) => parseRequestSpec(r))
  if (requests.length > 0 && (l.method !== undefined || l.path !== undefined || l.body !== undefined)) {
    const given = (['method', 'path', 'body'] as const).filter((k) => l[k] !== undefined).join(', ')
    throw new InvalidOptionError('load.requests', 'a request mix or one request (method, path, body), not both: put that request into the mix', `${requests.length} mix entries together with ${given}`)
  }
  const method = (l.method ?? requests[0]?.method ?? LOAD_DEFAULTS.method).toUpperCase()
  if (!/^[A-Z]+$/.test(method)) throw new InvalidOptionError('load.method', 'an HTTP method like GET or POST', l.method)
  const path = l.path ?? requests[0]?.path ?? LOAD_DEFAULTS.path
  if (typeof path !== 'string' || !path.startsWith('/')) throw new InvalidOptionError('load.path', "a path starting with '/'", path)
  const connections = int('load.connections', l.connections, LOAD_DEFAULTS.connections, 1)
  const rate = num('load.rate', l.rate, LOAD_DEFAULTS.rate, 1)
  const load: ResolvedLoad = {
    connections,
    rate,
    reconnectRate: int('load.reconnectRate', l.reconnectRate, LOAD_DEFAULTS.reconnectRate, 0),
    burst: int('load.burst', l.burst, LOAD_DEFAULTS.burst, 1),
    method,
    path,
    headers: { ...l.headers },
    body: l.body,
    requests,
    dataCheckMaxWrites: int('load.dataCheckMaxWrites', l.dataCheckMaxWrites, LOAD_DEFAULTS.dataCheckMaxWrites, 1, 1_000_000),
    dataCheckTimeoutMs: intMs('load.dataCheckTimeoutMs', l.dataCheckTimeoutMs, LOAD_DEFAULTS.dataCheckTimeoutMs, 100),
    leadMs: intMs('load.leadMs', l.leadMs, LOAD_DEFAULTS.leadMs, 0),
    tailMs: intMs('load.tailMs', l.tailMs, LOAD_DEFAULTS.tailMs, 0),
    timeoutMs: intMs('load.timeoutMs', l.timeoutMs, LOAD_DEFAULTS.timeoutMs, 100),
    exactClients: int('load.exactClients', l.exactClients, LOAD_DEFAULTS.exactClients, 0),
    exactIntervalMs: intMs('load.exactIntervalMs', l.exactIntervalMs, LOAD_DEFAULTS.exactIntervalMs, 0),
  }

  const analysis = resolveAnalysis(options.analysis)
  if (analysis.compare !== 'absolute' && strategy !== 'canary') {
    throw new InvalidOptionError('analysis.compare', `'absolute' with the ${strategy} strategy (the baseline is the stable revision serving beside a canary)`, analysis.compare)
  }
  return Object.freeze({
    strategy,
    from,
    to,
    replicas,
    router,
    port,
    endpointDelayMs,
    terminationGracePeriodSeconds,
    rolling,
    analysis,
    canary: resolveCanary(options.canary),
    blueGreen: resolveBlueGreen(options.blueGreen),
    probes,
    load,
    runDir: options.runDir,
    upstreamIdleTimeoutMs: options.upstreamIdleTimeoutMs === undefined ? undefined : intMs('upstreamIdleTimeoutMs', options.upstreamIdleTimeoutMs, 0, 1),
    stopCheck: bool('stopCheck', options.stopCheck, true),
    afterRollout: options.afterRollout,
    recheckWrites: resolveRecheckWrites(options.recheckWrites),
    signal: options.signal,
    onProgress: options.onProgress,
    onStatus: options.onStatus,
    statusIntervalMs: int('statusIntervalMs', options.statusIntervalMs, 250, 10),
  })
}
