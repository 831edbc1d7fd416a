import type { EndpointPool } from './pool.js'
import type { StatsRecorder } from './stats.js'
import type { ResolvedRouterOptions } from './types.js'

/** What the facade hands each engine. */
export interface RouterContext {
  readonly options: ResolvedRouterOptions
  readonly pool: EndpointPool
  readonly stats: StatsRecorder
}
