import http from 'node:http'
import express from 'express'
import { expressLifecycle } from '@zerodrop/lifecycle/express'
import type { Lifecycle } from '@zerodrop/lifecycle'
import type { DemoConfig } from './config.js'
import { addDemoChecks } from './checks.js'
import { addWebSockets, serveEventStream } from './longlived.js'
import { maybeReset, rootResponse, slowResponse } from './work.js'
import { startItems } from './items/items.js'
import { expressItemsRoutes } from './items/routes.js'

/** The demo on Express with @zerodrop/lifecycle. */
export async function expressApp(config: DemoConfig): Promise<{ server: http.Server; lifecycle: Lifecycle }> {
  const app = express()
  app.disable('x-powered-by')
  app.use((_req, res, next) => {
    res.setHeader('x-app-version', config.version)
    next()
  })
  const lifecycle = expressLifecycle(app, {
    drainDelay: config.drainDelay,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    gracePeriodMs: config.gracePeriodMs,
    signals: config.ignoreSigterm ? [] : ['SIGTERM', 'SIGINT'],
  })
  addDemoChecks(lifecycle, config)
  if (config.items) {
    const items = await startItems(config, (fields, msg) => lifecycle.logger.info(fields, msg))
    lifecycle.onShutdown('database', () => items.db.destroy())
    expressItemsRoutes(app, express.json(), items.store, (fields, msg) => lifecycle.logger.error(fields, msg))
  }
  app.get('/', async (req, res) => {
    if (maybeReset(config, req.socket)) return
    const r = await rootResponse(config)
    res.status(r.status).json(r.body)
  })
  app.get('/slow', async (req, res) => {
    res.json(await slowResponse(config, req.url))
  })
  app.get('/events', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
    let n = 0
    const tick = setInterval(() => res.write(`data: ${n++}\n\n`), 200)
    const end = (): void => {
      clearInterval(tick)
      res.end('event: bye\ndata: server draining\n\n')
    }
    if (lifecycle.signal.aborted) end()
    else lifecycle.signal.addEventListener('abort', end, { once: true })
    req.once('close', () => clearInterval(tick))
  })
  app.get('/sse', (req, res) => serveEventStream(lifecycle, config, req, res))
  const server = http.createServer(app)
  lifecycle.attach(server)
  addWebSockets(server, lifecycle, config)
  return { server, lifecycle }
}
