import promClient, { type Histogram, type Registry } from 'prom-client'
import type { ResolvedOptions } from './options.js'
import { STATES, type LifecycleState } from './states.js'

/** The label value shared by every request that matched no route: label cardinality stays bounded. */
export const UNMATCHED_ROUTE = '#unmatched'

type Observer = { observe(value: number): void }

export interface Metrics {
  readonly registry: Registry
  /** Records one request; children are bound once per label set. */
  observe(method: string, route: string, statusCode: number, seconds: number): void
  setState(state: LifecycleState): void
  setCheck(name: string, up: boolean): void
  setShutdownDuration(seconds: number): void
  /** The drain delay is over: how long it lasted and how many requests (probes aside) it served. */
  setDrainDelay(seconds: number, requests: number): void
  /** Connections destroyed because the shutdown timeout ran out. */
  addForceClosed(connections: number): void
  contentType(): string
  render(): Promise<string>
}

const defaultMetricsRegistries = new WeakSet<Registry>()

function getOrCreate<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create()
}

/**
 * Registers zerodrop's metrics in `registry` (prom-client's global one by default). Registering
 * twice in the same registry reuses the existing metrics instead of throwing.
 */
export function createMetrics(
  options: Exclude<ResolvedOptions['metrics'], false>,
  inFlight: () => number,
): Metrics {
  const registry = options.registry ?? promClient.register
  const prefix = options.prefix
  const registers = [registry]

  if (options.defaultMetrics && !defaultMetricsRegistries.has(registry) && !registry.getSingleMetric(`${prefix}process_cpu_user_seconds_total`)) {
    defaultMetricsRegistries.add(registry)
    promClient.collectDefaultMetrics({ register: registry, prefix })
  }

  const durationName = `${prefix}http_request_duration_seconds`
  const duration = getOrCreate<LabelledHistogram | Histogram<'method' | 'route' | 'status_code'>>(registry, durationName, () => {
    const h = new LabelledHistogram(durationName, 'Duration of HTTP requests in seconds, by route template (probes and metrics excluded)', options.buckets)
    registry.registerMetric(h as unknown as promClient.Metric)
    return h
  })
  // Another library may have registered the name first: then its histogram is used as it is.
  const child = (method: string, route: string, status: string): Observer =>
    duration instanceof LabelledHistogram ? duration.child(method, route, status) : duration.labels(method, route, status)

  // Sources of truth are read at scrape time, so the request path does no gauge work.
  const inFlightSources = new Set<() => number>()
  getOrCreate(registry, `${prefix}http_requests_in_flight`, () => {
    const g = new promClient.Gauge({
      name: `${prefix}http_requests_in_flight`,
      help: 'HTTP requests currently being served',
      registers,
      collect() {
        let n = 0
        for (const source of inFlightSources) n += source()
        this.set(n)
      },
    })
    ;(g as unknown as { zdSources: Set<() => number> }).zdSources = inFlightSources
    return g
  })
  const sources = (registry.getSingleMetric(`${prefix}http_requests_in_flight`) as unknown as { zdSources?: Set<() => number> }).zdSources ?? inFlightSources
  sources.add(inFlight)

  const state = getOrCreate(registry, `${prefix}lifecycle_state`, () =>
    new promClient.Gauge({ name: `${prefix}lifecycle_state`, help: 'Lifecycle state of the instance: 1 for the current state, 0 for the others', labelNames: ['state'], registers }),
  ) as promClient.Gauge<'state'>
  const checkUp = getOrCreate(registry, `${prefix}lifecycle_check_up`, () =>
    new promClient.Gauge({ name: `${prefix}lifecycle_check_up`, help: 'Last result of each health check: 1 up, 0 down', labelNames: ['check'], registers }),
  ) as promClient.Gauge<'check'>
  const shutdown = getOrCreate(registry, `${prefix}lifecycle_shutdown_duration_seconds`, () =>
    new promClient.Gauge({ name: `${prefix}lifecycle_shutdown_duration_seconds`, help: 'Time from the start of the drain to the end of the shutdown hooks', registers }),
  ) as promClient.Gauge

  const drainDelay = getOrCreate(registry, `${prefix}lifecycle_drain_delay_seconds`, () =>
    new promClient.Gauge({ name: `${prefix}lifecycle_drain_delay_seconds`, help: 'How long the last drain delay lasted (fixed, or ended by quiet)', registers }),
  ) as promClient.Gauge
  const drainRequests = getOrCreate(registry, `${prefix}lifecycle_drain_delay_requests`, () =>
    new promClient.Gauge({ name: `${prefix}lifecycle_drain_delay_requests`, help: 'Requests (probes and metrics aside) that arrived during the last drain delay', registers }),
  ) as promClient.Gauge
  const forceClosed = getOrCreate(registry, `${prefix}lifecycle_connections_force_closed_total`, () =>
    new promClient.Counter({ name: `${prefix}lifecycle_connections_force_closed_total`, help: 'Connections destroyed because the shutdown timeout ran out (0 after a clean drain)', registers }),
  ) as promClient.Counter

  // route → method → status code → observer: the route and method strings are the same objects
  // on every request (the framework's route template, the parser's method table), so each lookup
  // reuses a cached hash; a joined key would build and hash a new string per request.
  const children = new Map<string, Map<string, Map<number, Observer>>>()

  return {
    registry,
    observe(method, route, statusCode, seconds) {
      let byMethod = children.get(route)
      if (byMethod === undefined) children.set(route, (byMethod = new Map()))
      let byStatus = byMethod.get(method)
      if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()))
      let observer = byStatus.get(statusCode)
      if (observer === undefined) {
        observer = child(method, route, String(statusCode))
        byStatus.set(statusCode, observer)
      }
      observer.observe(seconds)
    },
    setState(current) {
      for (const s of STATES) state.set({ state: s }, s === current ? 1 : 0)
    },
    setCheck(name, up) {
      checkUp.set({ check: name }, up ? 1 : 0)
    },
    setShutdownDuration(seconds) {
      shutdown.set(seconds)
    },
    setDrainDelay(seconds, requests) {
      drainDelay.set(seconds)
      drainRequests.set(requests)
    },
    addForceClosed(connections) {
      forceClosed.inc(connections)
    },
    contentType: () => registry.contentType,
    render: () => registry.metrics(),
  }
}

interface Series {
  readonly labels: Readonly<Record<string, string>>
  /** per bucket, not cumulative; the last one is +Inf */
  readonly counts: Float64Array
  sum: number
  count: number
}

/**
 * `http_request_duration_seconds` with its counts kept per label set, so observing is a bucket
 * search and three additions. prom-client's labelled `observe` re-validates and re-hashes the
 * labels on every call (about 4 µs per request, profiled in test/bench); the registry still
 * renders this one, in the same exposition format, at scrape time.
 */
export class LabelledHistogram {
  readonly name: string
  readonly help: string
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #bounds: Float64Array
  readonly #series: Series[] = []
  readonly #observers = new Map<string, Observer>()

  constructor(name: string, help: string, buckets: readonly number[]) {
    this.name = name
    this.help = help
    this.#bounds = Float64Array.from(buckets)
  }

  /** The observer of one label set; every caller (every lifecycle on this registry) gets the same one. */
  child(method: string, route: string, status_code: string): Observer {
    const key = `${method} ${status_code} ${route}`
    const known = this.#observers.get(key)
    if (known !== undefined) return known
    const observer = this.#newChild(method, route, status_code)
    this.#observers.set(key, observer)
    return observer
  }

  #newChild(method: string, route: string, status_code: string): Observer {
    const bounds = this.#bounds
    const series: Series = { labels: { method, route, status_code }, counts: new Float64Array(bounds.length + 1), sum: 0, count: 0 }
    this.#series.push(series)
    return {
      observe(value: number): void {
        let i = 0
        while (i < bounds.length && value > (bounds[i] as number)) i++
        series.counts[i] = (series.counts[i] as number) + 1
        series.sum += value
        series.count++
      },
    }
  }

  reset(): void {
    for (const s of this.#series) {
      s.counts.fill(0)
      s.sum = 0
      s.count = 0
    }
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> } {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = []
    const bounds = this.#bounds
    for (const s of this.#series) {
      let cumulative = 0
      for (let i = 0; i < bounds.length; i++) {
        cumulative += s.counts[i] as number
        values.push({ labels: { le: bounds[i] as number, ...s.labels }, value: cumulative, metricName: `${this.name}_bucket` })
      }
      cumulative += s.counts[bounds.length] as number
      values.push({ labels: { le: '+Inf', ...s.labels }, value: cumulative, metricName: `${this.name}_bucket` })
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` })
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }
}
