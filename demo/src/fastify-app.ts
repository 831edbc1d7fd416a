import Fastify, { LogController, type FastifyInstance } from 'fastify'
import { fastifyLifecycle } from '@zerodrop/lifecycle/fastify'
import type { DemoConfig } from './config.js'
import { addDemoChecks } from './checks.js'
import { addWebSockets, serveEventStream } from './longlived.js'
import { maybeReset, rootResponse, slowResponse } from './work.js'
import { startItems } from './items/items.js'
import { fastifyItemsRoutes } from './items/routes.js'

/** The demo on Fastify with @zerodrop/lifecycle. */
export async function fastifyApp(config: DemoConfig): Promise<FastifyInstance> {
  // No per-request log lines: the demo runs under load, and its logs are read by people.
  const app = Fastify({ logger: { level: 'info' }, logController: new LogController({ disableRequestLogging: true }) })
  await app.register(fastifyLifecycle, {
    drainDelay: config.drainDelay,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    gracePeriodMs: config.gracePeriodMs,
    signals: config.ignoreSigterm ? [] : ['SIGTERM', 'SIGINT'],
  })
  addDemoChecks(app.lifecycle, config)
  app.addHook('onRequest', (_req, reply, done) => {
    reply.header('x-app-version', config.version)
    done()
  })
  if (config.items) {
    const items = await startItems(config, (fields, msg) => app.log.info(fields, msg))
    app.lifecycle.onShutdown('database', () => items.db.destroy())
    fastifyItemsRoutes(app, items.store)
  }
  app.get('/', async (req, reply) => {
    if (maybeReset(config, req.raw.socket)) return reply.hijack()
    const r = await rootResponse(config)
    return reply.code(r.status).send(r.body)
  })
  app.get('/slow', (req) => slowResponse(config, req.url))
  app.get('/events', (req, reply) => {
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-app-version': config.version })
    let n = 0
    const tick = setInterval(() => res.write(`data: ${n++}\n\n`), 200)
    const end = (): void => {
      clearInterval(tick)
      res.end('event: bye\ndata: server draining\n\n')
    }
    if (app.lifecycle.signal.aborted) end()
    else app.lifecycle.signal.addEventListener('abort', end, { once: true })
    req.raw.once('close', () => clearInterval(tick))
  })
  app.get('/sse', (req, reply) => {
    reply.hijack()
    serveEventStream(app.lifecycle, config, req.raw, reply.raw)
  })
  addWebSockets(app.server, app.lifecycle, config)
  return app
}
