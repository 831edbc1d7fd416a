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

  const duration = getOrCreate(registry, `${prefix}http_request_duration_seconds`, () =>
    new promClient.Histogram({
      name: `${prefix}http_request_duration_seconds`,
      help: 'Duration of HTTP requests in seconds, by route template (probes and metrics excluded)',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [...options.buckets],
      registers,
    }),
  ) as Histogram<'method' | 'route' | 'status_code'>

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

  const children = new Map<string, Observer>()

  return {
    registry,
    observe(method, route, statusCode, seconds) {
      const key = method + ' ' + statusCode + ' ' + route
      let child = children.get(key)
      if (child === undefined) {
        child = duration.labels(method, route, String(statusCode))
        children.set(key, child)
      }
      child.observe(seconds)
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
    contentType: () => registry.contentType,
    render: () => registry.metrics(),
  }
}
