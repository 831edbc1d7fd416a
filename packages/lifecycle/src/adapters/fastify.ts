import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Lifecycle } from '../lifecycle.js'
import type { LifecycleOptions } from '../options.js'
import { UNMATCHED_ROUTE } from '../metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    lifecycle: Lifecycle
  }
}

export interface FastifyLifecycleOptions extends Omit<LifecycleOptions, 'logger'> {
  /** @default the Fastify instance's own logger */
  readonly logger?: LifecycleOptions['logger']
}

/**
 * Probes, metrics and the drain contract for Fastify. `app.lifecycle` is ready once the
 * server listens. On SIGTERM the plugin drains `app.server` itself first — Fastify's own
 * `close()` answers 503 while closing and reaps idle sockets at once, which drops requests —
 * and calls `app.close()` (so `onClose` hooks run) only once nothing is in flight.
 */
const plugin: FastifyPluginAsync<FastifyLifecycleOptions> = async (app: FastifyInstance, options) => {
  const { logger, ...rest } = options
  // Routes already registered now are never shown to this plugin's onRoute hook (read before the
  // plugin adds its own probe routes). find-my-way prints exactly this for a router with none.
  const routesBefore = app.printRoutes() !== '(empty tree)'
  const lifecycle = new Lifecycle({ ...rest, logger: logger ?? app.log })
  app.decorate('lifecycle', lifecycle)
  lifecycle.attach(app.server)

  const { paths } = lifecycle.options
  const probeRoutes = new Set<string>()
  const route = (url: string, probe: Parameters<Lifecycle['respond']>[0]): void => {
    probeRoutes.add(url)
    app.get(url, { logLevel: 'warn' }, async (req: FastifyRequest, reply: FastifyReply) => {
      const r = await lifecycle.respond(probe, req.url)
      return reply.code(r.statusCode).header('content-type', r.contentType).header('cache-control', 'no-store').send(r.body)
    })
  }
  route(paths.startup, 'startup')
  route(paths.liveness, 'liveness')
  route(paths.readiness, 'readiness')
  if (lifecycle.metrics !== undefined) route(paths.metrics, 'metrics')

  const metrics = lifecycle.metrics
  if (metrics !== undefined) {
    // The route template is known once per route, when it is registered: each route gets its own
    // onResponse hook with the template bound, instead of reading `request.routeOptions` per
    // request (a getter that builds a dozen-field object every time; test/bench, issue 16).
    // Fastify already timed the request (reply.elapsedTime). Routes registered before the plugin
    // are not seen by onRoute: they are observed by the instance hook below, through the getter.
    /** `METHOD template` of every route with its own hook, when routes came before the plugin */
    const bound = new Set<string>()
    app.addHook('onRoute', (routeOptions) => {
      const url = routeOptions.url
      if (url === undefined || probeRoutes.has(url)) return
      if (routesBefore) for (const m of [routeOptions.method].flat()) bound.add(`${m} ${url}`)
      const observe = function zerodropObserve(req: FastifyRequest, reply: FastifyReply, done: () => void): void {
        metrics.observe(req.method, url, reply.statusCode, reply.elapsedTime / 1000)
        done()
      }
      const own = routeOptions.onResponse
      routeOptions.onResponse = own === undefined ? [observe] : Array.isArray(own) ? [...own, observe] : [own, observe]
    })
    // Requests no route matched: Fastify's 404 handler runs the instance's hooks only. `is404` is a
    // plain field check, so this costs a matched request one hook call and no allocation.
    app.addHook('onResponse', (req, reply, done) => {
      if (req.is404) metrics.observe(req.method, UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime / 1000)
      else if (routesBefore) {
        const url = req.routeOptions.url
        if (url !== undefined && !probeRoutes.has(url) && !bound.has(`${req.method} ${url}`)) {
          metrics.observe(req.method, url, reply.statusCode, reply.elapsedTime / 1000)
        }
      }
      done()
    })
    if (routesBefore) {
      lifecycle.logger.warn(
        {},
        '@zerodrop/lifecycle was registered after some routes: their requests are observed through request.routeOptions, ' +
          'which builds an object per request; register the plugin before your routes for the cheaper path',
      )
    }
  }

  const pressure = lifecycle.options.pressure
  if (pressure !== undefined) {
    // The lifecycle's own monitor, the one readiness reads: one sampler per adapter, not two.
    const retryAfter = String(pressure.retryAfterSeconds)
    app.addHook('onRequest', (req, reply, done) => {
      const url = req.routeOptions.url
      if (lifecycle.pressure === undefined || (url !== undefined && probeRoutes.has(url))) return done()
      reply.code(503).header('retry-after', retryAfter).header('content-type', 'text/plain; charset=utf-8').send('service under pressure, retry later')
    })
  }

  app.addHook('onListen', async () => {
    // Fastify binds one more server per address `host` resolves to ('localhost' → 127.0.0.1
    // and ::1 on many machines). No public API reaches those servers, so their requests are not
    // waited for and their keep-alive sockets are cut at close: an instance that cannot keep the
    // drain contract never reports started or ready (docs/architecture.md, "drain contract").
    const bound = app.addresses()
    if (bound.length > 1) {
      const addresses = bound.map((a) => (typeof a === 'string' ? a : a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`))
      lifecycle.logger.error(
        { addresses },
        `fastify listens on ${bound.length} addresses (${addresses.join(', ')}) because its host resolved to several; ` +
          'the lifecycle can drain only app.server, so this instance stays not started (startup and readiness answer 503): ' +
          "listen on one host — '127.0.0.1', '::' or '0.0.0.0' — instead of a name such as 'localhost'",
      )
      return
    }
    lifecycle.markReady()
  })

  // Registered first, so it runs last: once the server is drained, Fastify runs its onClose
  // hooks (database pools and so on) after the user's own shutdown hooks.
  lifecycle.onShutdown('fastify', () => app.close())
  // app.close() called directly (not through the drain): let go of the signal handlers and timers.
  app.addHook('onClose', async () => {
    if (lifecycle.state !== 'stopping' && lifecycle.state !== 'stopped') await lifecycle.dispose()
  })
}

export const fastifyLifecycle = fp(plugin, { fastify: '5.x', name: '@zerodrop/lifecycle' })
export type { Lifecycle }
