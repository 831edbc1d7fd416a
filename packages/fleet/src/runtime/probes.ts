import http from 'node:http'
import type { ResolvedProbe, ResolvedProbes } from '../options/deploy.js'

export const PROBE_KINDS = ['startup', 'readiness', 'liveness'] as const
export type ProbeKind = (typeof PROBE_KINDS)[number]

export interface ProbeResult {
  readonly ok: boolean
  /** status code, or the error code / 'timeout' */
  readonly detail: string
}

/** One HTTP GET as the kubelet does it: a new connection, 200–399 passes, a timeout fails. */
export function probeOnce(host: string, port: number, probe: ResolvedProbe): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false
    const done = (r: ProbeResult): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(r)
    }
    const req = http.get({ host, port, path: probe.path, agent: false, headers: { 'user-agent': 'zerodrop-probe/1' } }, (res) => {
      res.resume()
      const status = res.statusCode ?? 0
      res.on('end', () => done({ ok: status >= 200 && status < 400, detail: String(status) }))
      res.on('error', () => done({ ok: false, detail: 'response-error' }))
    })
    const timer = setTimeout(() => {
      done({ ok: false, detail: 'timeout' })
      req.destroy()
    }, probe.timeoutMs)
    req.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: err.code ?? err.message }))
  })
}

export interface ProbeHandlers {
  /** The startup probe passed (or there is none): readiness and liveness start. */
  onStarted(): void
  /** Readiness changed after successThreshold successes / failureThreshold failures. */
  onReadiness(ready: boolean, detail: string): void
  /** The startup probe reached failureThreshold: the kubelet restarts the container. */
  onStartupFailed(detail: string): void
  /** The liveness probe reached failureThreshold: the kubelet restarts the container. */
  onLivenessFailed(detail: string): void
}

/**
 * Polls one instance's probes with kubelet semantics: the startup probe runs first and holds back
 * the other two; readiness starts false and flips after `successThreshold` consecutive successes
 * or `failureThreshold` consecutive failures; liveness and startup failures ask for a restart.
 * `initialDelayMs` counts from the start of the container, as `initialDelaySeconds` does.
 */
export class ProbeRunner {
  readonly #host: string
  readonly #port: number
  readonly #probes: ResolvedProbes
  readonly #handlers: ProbeHandlers
  readonly #timers = new Set<NodeJS.Timeout>()
  #stopped = false
  #startedAt = 0
  #ready = false

  constructor(host: string, port: number, probes: ResolvedProbes, handlers: ProbeHandlers) {
    this.#host = host
    this.#port = port
    this.#probes = probes
    this.#handlers = handlers
  }

  get ready(): boolean {
    return this.#ready
  }

  start(): void {
    this.#startedAt = Date.now()
    if (this.#probes.startup.enabled) {
      this.#loop('startup', this.#probes.startup)
    } else {
      this.#started()
    }
  }

  stop(): void {
    this.#stopped = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
  }

  #started(): void {
    if (this.#stopped) return
    this.#handlers.onStarted()
    if (this.#probes.readiness.enabled) this.#loop('readiness', this.#probes.readiness)
    else this.#setReady(true, 'no readiness probe')
    if (this.#probes.liveness.enabled) this.#loop('liveness', this.#probes.liveness)
  }

  #setReady(ready: boolean, detail: string): void {
    if (this.#ready === ready) return
    this.#ready = ready
    this.#handlers.onReadiness(ready, detail)
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#timers.delete(t)
        resolve()
      }, ms)
      this.#timers.add(t)
    })
  }

  #loop(kind: ProbeKind, probe: ResolvedProbe): void {
    void (async () => {
      const firstAt = this.#startedAt + probe.initialDelayMs
      if (firstAt > Date.now()) await this.#sleep(firstAt - Date.now())
      let successes = 0
      let failures = 0
      while (!this.#stopped) {
        const result = await probeOnce(this.#host, this.#port, probe)
        if (this.#stopped) return
        if (result.ok) {
          successes++
          failures = 0
        } else {
          failures++
          successes = 0
        }
        if (kind === 'startup') {
          if (result.ok) return this.#started()
          if (failures >= probe.failureThreshold) return this.#handlers.onStartupFailed(result.detail)
        } else if (kind === 'readiness') {
          if (successes >= probe.successThreshold) this.#setReady(true, result.detail)
          if (failures >= probe.failureThreshold) this.#setReady(false, result.detail)
        } else if (failures >= probe.failureThreshold) {
          return this.#handlers.onLivenessFailed(result.detail)
        }
        await this.#sleep(probe.periodMs)
      }
    })()
  }
}
