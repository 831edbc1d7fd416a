import { L4Proxy } from './l4.js'
import { L7Proxy } from './l7.js'
import { describe, ROUTER_ERROR_CODES, RouterError } from '../core/errors.js'
import { expectedNumber, isNumberWithin, MAX_TIMER_MS, type NumberRule } from '../core/validate.js'
import { isLoopback } from '../core/ports.js'
import { EndpointPool } from './pool.js'
import { StatsRecorder } from './stats.js'
import type { RouterContext } from './context.js'
import type { ResolvedRouterOptions, Router, RouterEngine, RouterLogger, RouterMode, RouterOptions } from './types.js'

export type * from './types.js'

/**
 * The fleet's front door (docs/architecture.md, "Fleet model").
 *
 * - `l4`, like kube-proxy: each client connection is pinned, when it connects, to one endpoint
 *   of the pool, with exactly one upstream socket, until either side closes. Bytes pass through
 *   untouched; an incremental framing parser counts each request forwarded and each complete
 *   response returned. A FIN is forwarded as a FIN (`end()`), a reset as a reset.
 * - `l7`, like an ingress: each request is balanced on its own (weighted) over per-endpoint
 *   upstream keep-alive pools whose idle timeout is modelled as nginx does it (the server's
 *   `Keep-Alive: timeout` hint is ignored), so the reuse-vs-close race gives real 502s.
 *
 * The router never retries: a retry would hide a drop.
 */
const silent: RouterLogger = Object.freeze({ info() {}, warn() {}, error() {} })

const DEFAULTS = Object.freeze({
  mode: 'l4' as RouterMode,
  host: '127.0.0.1',
  port: 0,
  upstreamIdleTimeoutMs: 60_000,
  requestTimeoutMs: 30_000,
  closeTimeoutMs: 2_000,
  clientKeepAliveTimeoutMs: 75_000,
})

export function resolveRouterOptions(options: RouterOptions = {}): ResolvedRouterOptions {
  const o = { ...DEFAULTS, logger: silent, ...stripUndefined(options) }
  if (o.mode !== 'l4' && o.mode !== 'l7') {
    throw new RouterError(ROUTER_ERROR_CODES.invalidOption, `router mode must be 'l4' or 'l7', instead got '${String(o.mode)}'`)
  }
  if (typeof o.host !== 'string' || !isLoopback(o.host)) {
    throw new RouterError(
      ROUTER_ERROR_CODES.notLoopback,
      `router host must be loopback (127.0.0.1, ::1 or localhost), instead got '${String(o.host)}'; the fleet only serves this machine`,
    )
  }
  const rules: ReadonlyArray<readonly [keyof typeof DEFAULTS, NumberRule]> = [
    ['port', { integer: true, min: 0, max: 65535 }],
    ...(['upstreamIdleTimeoutMs', 'requestTimeoutMs', 'closeTimeoutMs', 'clientKeepAliveTimeoutMs'] as const).map(
      (k) => [k, { integer: false, unit: 'milliseconds', min: 1, max: MAX_TIMER_MS }] as const,
    ),
  ]
  for (const [k, rule] of rules) {
    if (!isNumberWithin(o[k], rule)) {
      throw new RouterError(ROUTER_ERROR_CODES.invalidOption, `router option ${k}: expected ${expectedNumber(rule)}, instead got ${describe(o[k])}`)
    }
  }
  return Object.freeze(o)
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

export async function createRouter(options?: RouterOptions): Promise<Router> {
  const resolved = resolveRouterOptions(options)
  const ctx: RouterContext = { options: resolved, pool: new EndpointPool(), stats: new StatsRecorder() }
  const engine: RouterEngine = resolved.mode === 'l4' ? new L4Proxy(ctx) : new L7Proxy(ctx)
  const port = await engine.listen()
  const log = resolved.logger
  log.info({ mode: resolved.mode, host: resolved.host, port }, 'router listening')
  let closed: Promise<void> | null = null
  return {
    port,
    mode: resolved.mode,
    add(endpoint) {
      ctx.pool.add(endpoint)
      log.info({ endpoint: endpoint.id, revision: endpoint.revision, port: endpoint.port }, 'endpoint added to pool')
    },
    remove(id) {
      const e = ctx.pool.remove(id)
      if (e === undefined) return
      log.info({ endpoint: e.id, revision: e.revision }, 'endpoint removed from pool')
      engine.removed(e)
    },
    endpoints: () => ctx.pool.list(),
    setWeights(weights) {
      ctx.pool.setWeights(weights)
      log.info({ weights }, 'router weights set')
    },
    stats: () => ctx.stats.snapshot(),
    failureLog: () => ctx.stats.failureLog(),
    inFlightOlderThan: (revision, ms) => ctx.stats.inFlightOlderThan(revision, ms),
    resetStats: () => ctx.stats.reset(),
    close() {
      closed ??= engine.close().then(() => log.info({ port }, 'router closed'))
      return closed
    },
  }
}
