import http from 'node:http'
import { pino } from 'pino'
import { closeAdmin, startAdmin } from './admin.js'
import { InvalidCheckError, describe } from './errors.js'
import { ServerTracker, type DrainableServer } from './drain.js'
import { makeHook, runHook, type Hook, type HookKind, type HookOptions } from './hooks.js'
import { LongLivedSet, eventStreamGoAway, webSocketGoAway, type EventStreamOptions, type GoAway, type Release, type WebSocketLike } from './longlived.js'
import { createMetrics, UNMATCHED_ROUTE, type Metrics } from './metrics.js'
import { resolveOptions, type LifecycleOptions, type Logger, type ResolvedOptions } from './options.js'
import { monitorPressure, type PressureMonitor } from './pressure.js'
import { CheckRunner, type Check, type CheckResult } from './probes.js'
import { installSignalHandlers } from './signals.js'
import {
  PROBE_LIVENESS, PROBE_READINESS, PROBE_STARTUP, STATE_DRAINING, STATE_READY, STATE_STARTING, STATE_STOPPED,
  STATE_STOPPING, type LifecycleState, type ProbeName,
} from './states.js'

export type { HookOptions }

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
  /** how long the drain delay lasted, and what ended it */
  readonly drainDelay: DrainDelaySummary
}

export interface DrainDelaySummary {
  readonly ms: number
  /** 'fixed': its set length; 'quiet': no new request for `quietMs`; 'max': `maxMs` reached while traffic still came */
  readonly endedBy: 'fixed' | 'quiet' | 'max'
  /** requests (probes and metrics aside) that arrived during the delay */
  readonly requests: number
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => unknown
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

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
  readonly #longLived = new LongLivedSet()
  /** performance.now() of the last request (probes aside) that arrived during the drain delay */
  #lastActivity = 0
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
    if (this.options.adminPort !== undefined) {
      this.#admin = startAdmin(this.options.adminPort, this.options.adminHost, (req, res) => this.handleProbe(req, res), this.logger)
    }
  }

  /** 'starting' | 'ready' | 'draining' | 'stopping' | 'stopped' */
  get state(): LifecycleState {
    return this.#state
  }

  /**
   * Aborted when the drain delay ends — not at drain start, when a reconnect would land on this
   * same instance: end SSE streams, close WebSockets with 1001, stop long polls. See also
   * `holdWebSocket`, `holdEventStream` and `holdLongLived`, which the drain also waits for.
   */
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

  /**
   * Registers a long-lived connection (a WebSocket, an SSE stream, a long poll): `goAway` is
   * called once when the drain delay ends (at once if that has passed), and the drain waits
   * for the returned `release` to be called, up to the shutdown timeout.
   */
  holdLongLived(goAway: GoAway): Release {
    if (typeof goAway !== 'function') throw new InvalidCheckError(`holdLongLived expects a function (reason) => void, instead got ${describe(goAway)}`)
    return this.#longLived.add(goAway, (err) => this.logger.error({ err }, 'a long-lived connection failed to go away; the drain waits for it up to the shutdown timeout'))
  }

  /** A `ws` WebSocket (or compatible): closed with 1001 "going away" when the drain delay ends. */
  holdWebSocket(ws: WebSocketLike): void {
    if (typeof ws !== 'object' || ws === null || typeof ws.close !== 'function' || typeof ws.once !== 'function') {
      throw new InvalidCheckError(`holdWebSocket expects a WebSocket with close() and once(), instead got ${describe(ws)}`)
    }
    webSocketGoAway(ws, (g) => this.holdLongLived(g))
  }

  /**
   * An SSE response: ended with a final event and a `retry:` hint when the drain delay ends, so
   * the client reconnects (with `Last-Event-ID`) to another instance. Never a 204 or a 5xx: on
   * either, EventSource stops reconnecting for good.
   */
  holdEventStream(res: http.ServerResponse, options: EventStreamOptions = {}): void {
    eventStreamGoAway(res, options, (g) => this.holdLongLived(g))
  }

  /** Runs when draining starts: stop pulling work (queues, cron). */
  onDrainStart(name: string, fn: () => unknown, options: HookOptions = {}): this {
    this.#drainHooks.push(this.#hook('drain-start hook', this.#drainHooks, name, fn, options))
    return this
  }

  #hook(kind: HookKind, list: Hook[], name: string, fn: () => unknown, options: HookOptions): Hook {
    return makeHook(kind, list, name, fn, options, this.options.hookTimeoutMs)
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
   * Call it before the server accepts connections. Attached during the drain, it joins the
   * drain where it stands: in the delay it serves with `Connection: close`, after it it closes.
   */
  attach(server: DrainableServer): this {
    if (this.#trackers.some((t) => t.server === server)) return this
    if (server instanceof http.Server) {
      server.keepAliveTimeout = this.options.keepAliveTimeoutMs
      // headersTimeout must stay above keepAliveTimeout, or an idle socket is cut mid-request.
      server.headersTimeout = Math.max(server.headersTimeout, this.options.keepAliveTimeoutMs + 1000)
    }
    const tracker = new ServerTracker(server, {
      exempt: (url) => this.probeOf(url) !== undefined,
      onActivity: (at) => {
        this.#lastActivity = at
      },
    })
    this.#trackers.push(tracker)
    if (this.#state === STATE_DRAINING) tracker.beginDelay()
    else if (this.#state === STATE_STOPPING || this.#state === STATE_STOPPED) {
      this.logger.warn({ state: this.#state }, 'server attached after the drain delay: its listener is closed at once; attach servers before they listen')
      tracker.beginClose(this.options.newConnectionGraceMs)
    }
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
        res.on('finish', () => metrics.observe(req.method ?? 'GET', routeOf(req), res.statusCode, (performance.now() - start) / 1000))
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
    // The public port says which checks fail, never why: an error message names hosts and addresses.
    return { statusCode, contentType: 'text/plain; charset=utf-8', body: report.ok ? 'ok' : `fail: ${shortReasons(report).join('; ')}` }
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
    const { shutdownTimeoutMs, newConnectionGraceMs } = this.options
    const failedHooks: string[] = []

    this.#setState(STATE_DRAINING)
    this.#lastActivity = started
    this.logger.info({ reason, drainDelay: this.options.drainDelay, shutdownTimeoutMs, inFlight: this.inFlight, connections: this.#connections() }, 'draining: readiness now fails, requests still served with connection: close')
    if (this.#trackers.length === 0) {
      this.logger.warn({ reason }, 'draining with no server attached: nothing is drained and requests in flight are cut at exit; call lifecycle.attach(server) before the server listens')
    }
    for (const t of this.#trackers) t.beginDelay()
    const drainHooks = Promise.all(this.#drainHooks.map((h) => runHook(h, 'drain-start hook', h.timeoutMs, failedHooks, this.logger)))

    const drainDelay = await this.#waitDrainDelay(started)
    this.metrics?.setDrainDelay(drainDelay.ms / 1000, drainDelay.requests)
    this.#setState(STATE_STOPPING)
    const delayEnd = performance.now()
    this.logger.info({ drainDelayMs: drainDelay.ms, endedBy: drainDelay.endedBy, requestsDuringDelay: drainDelay.requests, inFlight: this.inFlight, connections: this.#connections(), longLived: this.#longLived.size },
      `drain delay over: ${describeDelay(drainDelay, this.options.drainDelay)}; listeners closed, finishing in-flight requests`)
    // Long-lived connections are told to go now, before the listener closes: their close
    // frames and final events go out ahead of the FIN.
    this.#abort.abort(reason)
    this.#longLived.goAway(reason, (err) => this.logger.error({ err }, 'a long-lived connection failed to go away'))
    let upgraded = 0
    for (const t of this.#trackers) upgraded += t.upgradedConnections
    for (const t of this.#trackers) t.beginClose(newConnectionGraceMs)
    if (upgraded > this.#longLived.size) {
      this.logger.warn({ upgraded, registered: this.#longLived.size }, 'upgraded connections (WebSockets) not registered with lifecycle.holdWebSocket were ended without a close frame')
    }

    // Part of the budget is kept for the shutdown hooks, so one hung request cannot starve them.
    const hookReserveMs = Math.min(this.#shutdownHooks.reduce((n, h) => n + h.timeoutMs, 0), shutdownTimeoutMs / 4)
    let connectionsTimer: NodeJS.Timeout | undefined
    const connectionsDeadline = new Promise<'forced'>((resolve) => {
      connectionsTimer = setTimeout(() => resolve('forced'), shutdownTimeoutMs - hookReserveMs)
    })
    const drained = (async (): Promise<'done'> => {
      await Promise.all([...this.#trackers.map((t) => t.whenIdle()), this.#longLived.whenEmpty()])
      // Idle sockets were ended (FIN): give clients a moment to close their side.
      await Promise.all(this.#trackers.map((t) => t.closeAll(1000)))
      return 'done'
    })()
    const outcome = await Promise.race([drained, connectionsDeadline])
    clearTimeout(connectionsTimer)
    let destroyedConnections = 0
    let unfinishedRequests = 0
    if (outcome === 'forced') {
      for (const t of this.#trackers) {
        const r = t.destroyAll()
        destroyedConnections += r.destroyed
        unfinishedRequests += r.unfinished
      }
      this.metrics?.addForceClosed(destroyedConnections)
      this.logger.error(
        { destroyedConnections, unfinishedRequests, longLived: this.#longLived.size, shutdownTimeoutMs, hookReserveMs },
        'shutdown timeout reached: destroyed what was left, now running the shutdown hooks; raise shutdownTimeoutMs or find the hung request',
      )
    }

    // The hooks run on both paths, each with its own timeout, within what is left of the budget.
    const hooksDeadline = delayEnd + shutdownTimeoutMs
    const left = (): number => hooksDeadline - performance.now()
    await Promise.race([drainHooks, sleep(Math.max(0, left()))])
    for (const h of [...this.#shutdownHooks].reverse()) {
      await runHook(h, 'shutdown hook', Math.min(h.timeoutMs, Math.max(1, left())), failedHooks, this.logger)
    }

    await closeAdmin(this.#admin)
    const durationMs = Math.round(performance.now() - started)
    const exitCode: 0 | 1 = outcome === 'forced' || failedHooks.length > 0 ? 1 : 0
    this.metrics?.setShutdownDuration(durationMs / 1000)
    this.#setState(STATE_STOPPED)
    this.#release()
    // A copy, frozen: a drain-start hook that settles late cannot change what was returned.
    const summary: ShutdownSummary = Object.freeze({
      reason, exitCode, durationMs, destroyedConnections, unfinishedRequests, failedHooks: Object.freeze([...failedHooks]), drainDelay,
    })
    this.logger.info({ ...summary }, exitCode === 0 ? 'stopped cleanly' : 'stopped with errors')
    if (this.options.exit) this.#exit(exitCode, reason)
    return summary
  }

  /** The fixed delay, or the adaptive one: until no request (probes aside) for quietMs, within minMs and maxMs. */
  async #waitDrainDelay(started: number): Promise<DrainDelaySummary> {
    const d = this.options.drainDelay
    const requests = (): number => this.#trackers.reduce((n, t) => n + t.servedDuringDelay, 0)
    if (d.mode === 'fixed') {
      await sleep(d.ms)
      return { ms: Math.round(performance.now() - started), endedBy: 'fixed', requests: requests() }
    }
    for (;;) {
      const now = performance.now()
      const elapsed = now - started
      const quiet = now - Math.max(started, this.#lastActivity)
      if (elapsed >= d.maxMs) return { ms: Math.round(elapsed), endedBy: 'max', requests: requests() }
      if (elapsed >= d.minMs && quiet >= d.quietMs) return { ms: Math.round(elapsed), endedBy: 'quiet', requests: requests() }
      await sleep(Math.max(1, Math.min(d.maxMs - elapsed, Math.max(d.minMs - elapsed, d.quietMs - quiet))))
    }
  }

  /**
   * Releases what the lifecycle holds — signal handlers, the pressure monitor, the admin port —
   * without draining: for a server closed some other way (a test's `app.close()`).
   */
  async dispose(): Promise<void> {
    if (this.#shutdown !== undefined) return
    this.#release()
    await closeAdmin(this.#admin)
  }

  #release(): void {
    this.#removeSignals()
    this.#pressure?.stop()
    for (const t of this.#trackers) t.detach()
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
}

function describeDelay(d: DrainDelaySummary, option: ResolvedOptions['drainDelay']): string {
  const served = `${d.requests} requests served during the delay`
  if (option.mode === 'fixed') return `fixed ${option.ms} ms; ${served}`
  if (d.endedBy === 'quiet') return `quiet for ${option.quietMs} ms after ${d.ms} ms; ${served}`
  return `maxMs ${option.maxMs} reached with traffic still arriving (the load balancer had not caught up: requests after this are refused); ${served}`
}

/** A failing probe's plain-text reasons: check names and the state, no error message. */
function shortReasons(report: ProbeReport): string[] {
  const out: string[] = []
  for (const c of report.checks) if (!c.ok) out.push(`check '${c.name}'`)
  for (const r of report.reasons) if (!r.startsWith('check ')) out.push(r.startsWith('under pressure') ? 'under pressure' : r)
  return out
}

/** Creates the lifecycle of this process. */
export function createLifecycle(options?: LifecycleOptions): Lifecycle {
  return new Lifecycle(options)
}
