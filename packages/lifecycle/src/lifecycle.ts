import http from 'node:http'
import { pino } from 'pino'
import { DuplicateNameError, HookTimeoutError, InvalidCheckError, describe } from './errors.js'
import { ServerTracker, type DrainableServer } from './drain.js'
import { createMetrics, UNMATCHED_ROUTE, type Metrics } from './metrics.js'
import { resolveOptions, type LifecycleOptions, type Logger, type ResolvedOptions } from './options.js'
import { monitorPressure, type PressureMonitor } from './pressure.js'
import { CheckRunner, type Check, type CheckResult } from './probes.js'
import { installSignalHandlers } from './signals.js'
import {
  PROBE_LIVENESS, PROBE_READINESS, PROBE_STARTUP, STATE_DRAINING, STATE_READY, STATE_STARTING, STATE_STOPPED,
  STATE_STOPPING, type LifecycleState, type ProbeName,
} from './states.js'

export interface HookOptions {
  /** @default the lifecycle's `hookTimeoutMs` */
  readonly timeoutMs?: number
}

export interface ProbeResponse {
  readonly statusCode: 200 | 503
  readonly contentType: string
  readonly body: string
}

export interface ProbeReport {
  readonly probe: ProbeName
  readonly ok: boolean
  readonly state: LifecycleState
  readonly reasons: readonly string[]
  readonly checks: readonly CheckResult[]
}

export interface WrapOptions {
  /**
   * The `route` label of a request: a route template, never the raw URL, so label
   * cardinality stays bounded.
   * @default () => '#unmatched'
   */
  readonly route?: (req: http.IncomingMessage) => string
}

export interface ShutdownSummary {
  readonly reason: string
  readonly exitCode: 0 | 1
  readonly durationMs: number
  /** connections destroyed because the shutdown timeout ran out */
  readonly destroyedConnections: number
  /** requests still in flight when the shutdown timeout ran out */
  readonly unfinishedRequests: number
  readonly failedHooks: readonly string[]
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => unknown
interface Hook {
  readonly name: string
  readonly fn: () => unknown
  readonly timeoutMs: number
}

function defaultLogger(): Logger {
  return pino({ name: 'zerodrop', base: { pid: process.pid } })
}

/**
 * Probes, drain and metrics for one process. Create one per process, attach every server
 * that serves traffic, call `markReady()` once listening; SIGTERM (or `shutdown()`) drains.
 */
export class Lifecycle {
  readonly options: ResolvedOptions
  readonly logger: Logger
  readonly metrics: Metrics | undefined
  readonly #checks: CheckRunner
  readonly #shutdownHooks: Hook[] = []
  readonly #drainHooks: Hook[] = []
  readonly #trackers: ServerTracker[] = []
  readonly #abort = new AbortController()
  readonly #probePaths: Map<string, ProbeName | 'metrics'>
  readonly #removeSignals: () => void
  readonly #pressure: PressureMonitor | undefined
  #state: LifecycleState = STATE_STARTING
  #shutdown: Promise<ShutdownSummary> | undefined
  #admin: http.Server | undefined

  constructor(options: LifecycleOptions = {}) {
    this.options = resolveOptions(options)
    this.logger = this.options.logger ?? defaultLogger()
    this.metrics = this.options.metrics === false ? undefined : createMetrics(this.options.metrics, () => this.inFlight)
    this.metrics?.setState(this.#state)
    this.#checks = new CheckRunner(this.options.checkCacheMs, (r) => {
      this.metrics?.setCheck(r.name, r.ok)
      if (!r.ok) this.logger.warn({ check: r.name, error: r.error, durationMs: r.durationMs }, 'health check failing')
    })
    const p = this.options.paths
    this.#probePaths = new Map<string, ProbeName | 'metrics'>([
      [p.startup, PROBE_STARTUP],
      [p.liveness, PROBE_LIVENESS],
      [p.readiness, PROBE_READINESS],
      [p.metrics, 'metrics'],
    ])
    if (this.metrics === undefined) this.#probePaths.delete(p.metrics)
    this.#pressure = this.options.pressure ? monitorPressure(this.options.pressure) : undefined
    this.#removeSignals = installSignalHandlers(
      this.options.signals,
      (signal) => void this.shutdown(signal),
      (signal) => this.#exit(1, `second ${signal}`),
      this.logger,
    )
    if (this.options.adminPort !== undefined) this.#startAdmin(this.options.adminPort)
  }

  /** 'starting' | 'ready' | 'draining' | 'stopping' | 'stopped' */
  get state(): LifecycleState {
    return this.#state
  }

  /** Aborted when draining starts: end SSE streams, close WebSockets with 1001, stop long polls. */
  get signal(): AbortSignal {
    return this.#abort.signal
  }

  /** Requests in flight over every attached server. */
  get inFlight(): number {
    let n = 0
    for (const t of this.#trackers) n += t.inFlight
    return n
  }

  /** Why new requests are being shed now, or undefined. */
  get pressure(): string | undefined {
    return this.#pressure?.reason
  }

  /** The admin server (probes and metrics on `adminPort`), when configured. */
  get adminServer(): http.Server | undefined {
    return this.#admin
  }

  addCheck(check: Check): this {
    this.#checks.add(check)
    return this
  }

  /** Runs after every attached server has drained, in reverse order of registration. */
  onShutdown(name: string, fn: () => unknown, options: HookOptions = {}): this {
    this.#shutdownHooks.push(this.#hook('shutdown hook', this.#shutdownHooks, name, fn, options))
    return this
  }

  /** Runs when draining starts: stop pulling work (queues, cron). */
  onDrainStart(name: string, fn: () => unknown, options: HookOptions = {}): this {
    this.#drainHooks.push(this.#hook('drain-start hook', this.#drainHooks, name, fn, options))
    return this
  }

  #hook(kind: string, list: Hook[], name: string, fn: () => unknown, options: HookOptions): Hook {
    if (typeof name !== 'string' || name === '') throw new InvalidCheckError(`${kind} name must be a non-empty string, instead got ${describe(name)}`)
    if (typeof fn !== 'function') throw new InvalidCheckError(`${kind} '${name}' must be a function, instead got ${describe(fn)}`)
    if (list.some((h) => h.name === name)) throw new DuplicateNameError(kind, name)
    const timeoutMs = options.timeoutMs ?? this.options.hookTimeoutMs
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new InvalidCheckError(`${kind} '${name}' timeoutMs must be a positive number, instead got ${describe(timeoutMs)}`)
    return { name, fn, timeoutMs }
  }

  /** The process is up: startup passes and, unless a check fails, readiness too. */
  markReady(): void {
    if (this.#state !== STATE_STARTING) {
      if (this.#state !== STATE_READY) this.logger.warn({ state: this.#state }, 'markReady ignored: already shutting down')
      return
    }
    this.#setState(STATE_READY)
    this.logger.info({ state: this.#state }, 'ready')
    // Run the checks now, so the first probe finds a result instead of waiting for one.
    void this.#checks.evaluate(PROBE_READINESS)
  }

  /**
   * Tracks the server's connections so it can be drained, and sets its keep-alive timeouts.
   * Call it before the server accepts connections.
   */
  attach(server: DrainableServer): this {
    if (this.#trackers.some((t) => t.server === server)) return this
    if (server instanceof http.Server) {
      server.keepAliveTimeout = this.options.keepAliveTimeoutMs
      // headersTimeout must stay above keepAliveTimeout, or an idle socket is cut mid-request.
      server.headersTimeout = Math.max(server.headersTimeout, this.options.keepAliveTimeoutMs + 1000)
    }
    const tracker = new ServerTracker(server)
    this.#trackers.push(tracker)
    if (this.#state === STATE_DRAINING) tracker.beginDelay()
    return this
  }

  /** Wraps a plain `node:http` handler: answers probes and metrics, sheds under pressure, observes the rest. */
  wrap<H extends Handler>(handler: H, options: WrapOptions = {}): Handler {
    const routeOf = options.route ?? ((): string => UNMATCHED_ROUTE)
    const metrics = this.metrics
    return (req, res) => {
      if (this.handleProbe(req, res)) return
      if (this.shed(res)) return
      if (metrics !== undefined) {
        const start = performance.now()
        res.once('finish', () => metrics.observe(req.method ?? 'GET', routeOf(req), res.statusCode, (performance.now() - start) / 1000))
      }
      return handler(req, res)
    }
  }

  /** Which probe a URL names, if any. */
  probeOf(url: string | undefined): ProbeName | 'metrics' | undefined {
    if (url === undefined) return undefined
    const q = url.indexOf('?')
    return this.#probePaths.get(q === -1 ? url : url.slice(0, q))
  }

  /** Answers a probe or metrics request on a plain node response; false when `req` is neither. */
  handleProbe(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const probe = this.probeOf(req.url)
    if (probe === undefined) return false
    const answer = (r: ProbeResponse): void => {
      res.writeHead(r.statusCode, { 'content-type': r.contentType, 'cache-control': 'no-store' })
      res.end(r.body)
    }
    this.respond(probe, req.url ?? '').then(answer, (err: unknown) => {
      this.logger.error({ err, probe }, 'probe failed to answer')
      answer({ statusCode: 503, contentType: 'text/plain; charset=utf-8', body: 'probe error' })
    })
    return true
  }

  /** Sheds a request under pressure with 503 + Retry-After; false when not under pressure. */
  shed(res: http.ServerResponse): boolean {
    const reason = this.#pressure?.reason
    if (reason === undefined) return false
    res.writeHead(503, { 'retry-after': String(this.options.pressure?.retryAfterSeconds ?? 1), 'content-type': 'text/plain; charset=utf-8' })
    res.end('service under pressure, retry later')
    return true
  }

  /** The response for a probe or metrics path (framework adapters send it their own way). */
  async respond(probe: ProbeName | 'metrics', url: string): Promise<ProbeResponse> {
    if (probe === 'metrics') {
      const m = this.metrics
      if (m === undefined) return { statusCode: 503, contentType: 'text/plain; charset=utf-8', body: 'metrics disabled' }
      return { statusCode: 200, contentType: m.contentType(), body: await m.render() }
    }
    const report = await this.probe(probe)
    const statusCode = report.ok ? 200 : 503
    if (/[?&]verbose(=|&|$)/.test(url)) {
      return { statusCode, contentType: 'application/json; charset=utf-8', body: JSON.stringify(report) }
    }
    const body = report.ok ? 'ok' : `${report.probe} failed: ${report.reasons.join('; ')}`
    return { statusCode, contentType: 'text/plain; charset=utf-8', body }
  }

  /** Evaluates a probe. Liveness ignores the state (it stays up while draining). */
  async probe(probe: ProbeName): Promise<ProbeReport> {
    const checks = await this.#checks.evaluate(probe)
    const reasons: string[] = []
    for (const c of checks) if (!c.ok) reasons.push(`check '${c.name}' failed: ${c.error ?? 'unknown error'}`)
    const state = this.#state
    if (probe === PROBE_STARTUP && state === STATE_STARTING) reasons.push('still starting')
    if (probe === PROBE_READINESS) {
      if (state === STATE_STARTING) reasons.push('still starting')
      else if (state !== STATE_READY) reasons.push(`${state}: not taking new traffic`)
      const pressure = this.#pressure?.reason
      if (pressure !== undefined && this.options.pressure?.failReadiness) reasons.push(`under pressure: ${pressure}`)
    }
    return { probe, ok: reasons.length === 0, state, reasons, checks }
  }

  /**
   * The drain contract (docs/architecture.md, "Counting a drop"): readiness fails at once; for `drainDelayMs` requests are
   * served with `Connection: close`; then the listeners close, in-flight requests finish,
   * idle sockets are ended, shutdown hooks run in reverse order, and the process exits 0.
   * Past `drainDelayMs + shutdownTimeoutMs` whatever is left is destroyed and the exit code is 1.
   */
  shutdown(reason = 'shutdown'): Promise<ShutdownSummary> {
    this.#shutdown ??= this.#drain(reason)
    return this.#shutdown
  }

  async #drain(reason: string): Promise<ShutdownSummary> {
    const started = performance.now()
    const { drainDelayMs, shutdownTimeoutMs, newConnectionGraceMs } = this.options
    // The timer comes first: a hook may block the event loop (close-with-grace does the same).
    let forceTimer: NodeJS.Timeout | undefined
    const forced = new Promise<'forced'>((resolve) => {
      forceTimer = setTimeout(() => resolve('forced'), drainDelayMs + shutdownTimeoutMs)
    })
    const failedHooks: string[] = []

    this.#setState(STATE_DRAINING)
    this.logger.info({ reason, drainDelayMs, shutdownTimeoutMs, inFlight: this.inFlight, connections: this.#connections() }, 'draining: readiness now fails, requests still served with connection: close')
    for (const t of this.#trackers) t.beginDelay()
    this.#abort.abort(reason)
    const drainHooks = Promise.all(this.#drainHooks.map((h) => this.#runHook(h, 'drain-start hook', failedHooks)))

    const graceful = (async (): Promise<'done'> => {
      await new Promise((r) => setTimeout(r, drainDelayMs))
      this.#setState(STATE_STOPPING)
      this.logger.info({ inFlight: this.inFlight, connections: this.#connections() }, 'drain delay over: listeners closed, finishing in-flight requests')
      for (const t of this.#trackers) t.beginClose(newConnectionGraceMs)
      await Promise.all(this.#trackers.map((t) => t.whenIdle()))
      // Idle sockets were ended (FIN): give clients a moment to close their side.
      await Promise.all(this.#trackers.map((t) => t.closeAll(1000)))
      await drainHooks
      for (const h of [...this.#shutdownHooks].reverse()) await this.#runHook(h, 'shutdown hook', failedHooks)
      return 'done'
    })()

    const outcome = await Promise.race([graceful, forced])
    clearTimeout(forceTimer)
    let destroyedConnections = 0
    let unfinishedRequests = 0
    if (outcome === 'forced') {
      for (const t of this.#trackers) {
        const r = t.destroyAll()
        destroyedConnections += r.destroyed
        unfinishedRequests += r.unfinished
      }
      this.logger.error(
        { destroyedConnections, unfinishedRequests, shutdownTimeoutMs },
        'shutdown timeout reached: destroyed what was left; raise shutdownTimeoutMs or find the hung request or hook',
      )
    }
    await this.#closeAdmin()
    const durationMs = Math.round(performance.now() - started)
    const exitCode: 0 | 1 = outcome === 'forced' || failedHooks.length > 0 ? 1 : 0
    this.metrics?.setShutdownDuration(durationMs / 1000)
    this.#setState(STATE_STOPPED)
    this.#release()
    const summary: ShutdownSummary = { reason, exitCode, durationMs, destroyedConnections, unfinishedRequests, failedHooks }
    this.logger.info({ ...summary }, exitCode === 0 ? 'stopped cleanly' : 'stopped with errors')
    if (this.options.exit) this.#exit(exitCode, reason)
    return summary
  }

  /**
   * Releases what the lifecycle holds — signal handlers, the pressure monitor, the admin port —
   * without draining: for a server closed some other way (a test's `app.close()`).
   */
  async dispose(): Promise<void> {
    if (this.#shutdown !== undefined) return
    this.#release()
    await this.#closeAdmin()
  }

  #release(): void {
    this.#removeSignals()
    this.#pressure?.stop()
    for (const t of this.#trackers) t.detach()
  }

  async #runHook(hook: Hook, kind: string, failed: string[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const started = performance.now()
    try {
      await Promise.race([
        Promise.resolve().then(hook.fn),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new HookTimeoutError(hook.name, hook.timeoutMs)), hook.timeoutMs)
        }),
      ])
      this.logger.info({ hook: hook.name, kind, durationMs: Math.round(performance.now() - started) }, `${kind} done`)
    } catch (err) {
      failed.push(hook.name)
      this.logger.error({ hook: hook.name, kind, err }, `${kind} '${hook.name}' failed; continuing the shutdown`)
    } finally {
      clearTimeout(timer)
    }
  }

  #exit(code: number, reason: string): void {
    this.logger.info({ exitCode: code, reason }, 'exiting')
    // Explicitly, always: Node as PID 1 ignores a re-raised SIGTERM.
    this.options.terminate(code)
  }

  #connections(): number {
    let n = 0
    for (const t of this.#trackers) n += t.openConnections
    return n
  }

  #setState(state: LifecycleState): void {
    this.#state = state
    this.metrics?.setState(state)
  }

  #startAdmin(port: number): void {
    const admin = http.createServer((req, res) => {
      if (!this.handleProbe(req, res)) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
        res.end('not found: the admin port serves probes and metrics only')
      }
    })
    admin.on('error', (err) => this.logger.error({ err, port }, 'admin server failed: probes and metrics are not served on the admin port'))
    admin.listen(port, this.options.adminHost)
    admin.unref()
    this.#admin = admin
  }

  async #closeAdmin(): Promise<void> {
    const admin = this.#admin
    if (admin === undefined || !admin.listening) return
    await new Promise<void>((resolve) => {
      admin.close(() => resolve())
      admin.closeAllConnections()
    })
  }
}

/** Creates the lifecycle of this process. */
export function createLifecycle(options?: LifecycleOptions): Lifecycle {
  return new Lifecycle(options)
}
