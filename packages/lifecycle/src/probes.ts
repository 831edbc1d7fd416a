import { CheckTimeoutError, DuplicateNameError, InvalidCheckError, describe } from './errors.js'
import { PROBES, type ProbeName } from './states.js'

export interface Check {
  /** Unique name, shown in `?verbose` output and the `lifecycle_check_up{check}` metric. */
  readonly name: string
  /** Which probes this check gates. Liveness should never depend on external dependencies. @default ['readiness'] */
  readonly probes?: readonly ProbeName[]
  /** A check fails when `run` throws, rejects or does not settle within this time. @default 1000 */
  readonly timeoutMs?: number
  /** Resolves when healthy; throws (or rejects) when not. */
  readonly run: () => unknown
}

export interface CheckResult {
  readonly name: string
  readonly ok: boolean
  readonly error?: string
  readonly durationMs: number
  /** When this result was measured (ms since epoch). */
  readonly at: number
}

interface Entry {
  readonly check: Required<Check>
  last: CheckResult | undefined
  running: Promise<CheckResult> | undefined
  /** the check's own call has not settled yet (it may outlive its timeout) */
  calling: boolean
}

/**
 * Runs checks with their timeout, concurrently, and caches each result for `cacheMs` so a
 * probe flood does not become load on the dependency. A stale result is served while a
 * refresh runs in the background, unless it is older than `maxStaleMs`: then the probe waits.
 */
export class CheckRunner {
  readonly #entries = new Map<string, Entry>()
  readonly #cacheMs: number
  readonly #maxStaleMs: number
  #onResult: ((r: CheckResult) => void) | undefined

  constructor(cacheMs: number, onResult?: (r: CheckResult) => void) {
    this.#cacheMs = cacheMs
    // with caching off, every probe runs the checks
    this.#maxStaleMs = cacheMs === 0 ? 0 : Math.max(cacheMs * 5, 5000)
    this.#onResult = onResult
  }

  set onResult(fn: ((r: CheckResult) => void) | undefined) {
    this.#onResult = fn
  }

  add(check: Check): void {
    if (typeof check !== 'object' || check === null) throw new InvalidCheckError(`addCheck expects an object { name, run }, instead got ${describe(check)}`)
    if (typeof check.name !== 'string' || check.name === '') throw new InvalidCheckError(`check 'name' must be a non-empty string, instead got ${describe(check.name)}`)
    if (typeof check.run !== 'function') throw new InvalidCheckError(`check '${check.name}' needs a 'run' function, instead got ${describe(check.run)}`)
    const probes = check.probes ?? ['readiness']
    if (!Array.isArray(probes) || probes.length === 0) throw new InvalidCheckError(`check '${check.name}' 'probes' must be a non-empty array of ${PROBES.join(', ')}, instead got ${describe(probes)}`)
    for (const p of probes) {
      if (!(PROBES as readonly string[]).includes(p)) {
        throw new InvalidCheckError(`check '${check.name}' names an unknown probe: expected one of ${PROBES.join(', ')}, instead got ${describe(p)}`)
      }
    }
    const timeoutMs = check.timeoutMs ?? 1000
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new InvalidCheckError(`check '${check.name}' 'timeoutMs' must be a positive number of milliseconds, instead got ${describe(timeoutMs)}`)
    }
    if (this.#entries.has(check.name)) throw new DuplicateNameError('check', check.name)
    this.#entries.set(check.name, { check: { name: check.name, probes: [...probes], timeoutMs, run: check.run }, last: undefined, running: undefined, calling: false })
  }

  names(): string[] {
    return [...this.#entries.keys()]
  }

  /** Results of every check gating `probe`. */
  async evaluate(probe: ProbeName): Promise<CheckResult[]> {
    const entries = [...this.#entries.values()].filter((e) => e.check.probes.includes(probe))
    if (entries.length === 0) return []
    return Promise.all(entries.map((e) => this.#result(e)))
  }

  #result(entry: Entry): Promise<CheckResult> | CheckResult {
    const now = Date.now()
    const last = entry.last
    if (last && now - last.at < this.#cacheMs) return last
    // A check that hung past its timeout is not started again until its call settles: each
    // probe would otherwise pile one more hung call on the dependency.
    if (entry.running === undefined && entry.calling && last) return last
    const refresh = entry.running ?? this.#run(entry)
    if (last && now - last.at < this.#maxStaleMs) return last
    return refresh
  }

  #run(entry: Entry): Promise<CheckResult> {
    const { name, timeoutMs, run } = entry.check
    const started = performance.now()
    const done = (ok: boolean, error?: unknown): CheckResult => {
      const r: CheckResult = {
        name,
        ok,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        at: Date.now(),
        ...(error === undefined ? {} : { error: error instanceof Error ? error.message : String(error) }),
      }
      entry.last = r
      entry.running = undefined
      this.#onResult?.(r)
      return r
    }
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CheckTimeoutError(name, timeoutMs)), timeoutMs)
      timer.unref()
    })
    const call = Promise.resolve().then(run)
    entry.calling = true
    call.then(() => { entry.calling = false }, () => { entry.calling = false })
    const p = Promise.race([call, timeout]).then(
      () => done(true),
      (err: unknown) => done(false, err),
    ).finally(() => clearTimeout(timer))
    entry.running = p
    return p
  }
}
