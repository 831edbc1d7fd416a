import http from 'node:http'
import net from 'node:net'
import Fastify from 'fastify'
import express from 'express'
import type { DemoConfig } from './config.js'
import { rootResponse, sleep, slowResponse } from './work.js'

/**
 * Negative controls: the demo without @zerodrop/lifecycle, shut down the ways services
 * commonly are. Each must drop requests in a rolling deploy, or the harness proves nothing.
 * - exit:          exits at once on SIGTERM
 * - stoppable:     readiness fails, waits DRAIN_DELAY_MS, then ends idle sockets and busy ones right
 *                  after their response, without `Connection: close` (terminus / stoppable)
 * - fastify-close: Fastify's plain `app.close()` at once
 */
export async function naiveServer(config: DemoConfig): Promise<void> {
  let ready = false
  let draining = false
  const log = (msg: string, fields: object = {}): void => {
    process.stdout.write(JSON.stringify({ level: 30, time: Date.now(), pid: process.pid, naive: config.naive, ...fields, msg }) + '\n')
  }
  const probe = (path: string): [number, string] | undefined => {
    if (path === '/livez' || path === '/startupz') return [200, 'ok']
    if (path === '/readyz') return ready && !draining ? [200, 'ok'] : [503, 'not ready']
    return undefined
  }

  let server: http.Server
  let fastifyClose: (() => Promise<void>) | undefined
  if (config.framework === 'fastify') {
    const app = Fastify({ logger: false })
    app.addHook('onRequest', (req, reply, done) => {
      reply.header('x-app-version', config.version)
      const p = probe(req.url.split('?')[0] ?? '')
      if (p) void reply.code(p[0]).send(p[1])
      done()
    })
    app.get('/', async (_req, reply) => {
      const r = await rootResponse(config)
      return reply.code(r.status).send(r.body)
    })
    app.get('/slow', (req) => slowResponse(config, req.url))
    for (const p of ['/livez', '/startupz', '/readyz']) app.get(p, async () => 'ok')
    await app.ready()
    server = app.server
    fastifyClose = () => app.close()
  } else {
    const app = express()
    app.use((req, res, next) => {
      res.setHeader('x-app-version', config.version)
      const p = probe(req.path)
      if (p) res.status(p[0]).send(p[1])
      else next()
    })
    app.get('/', async (_req, res) => {
      const r = await rootResponse(config)
      res.status(r.status).json(r.body)
    })
    app.get('/slow', async (req, res) => {
      res.json(await slowResponse(config, req.url))
    })
    server = http.createServer(app)
  }

  // stoppable's bookkeeping: requests in flight per socket
  const active = new Map<net.Socket, number>()
  let stopping = false
  server.on('connection', (s: net.Socket) => {
    active.set(s, 0)
    s.once('close', () => active.delete(s))
  })
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const s = req.socket
    active.set(s, (active.get(s) ?? 0) + 1)
    res.once('finish', () => {
      const n = (active.get(s) ?? 1) - 1
      active.set(s, n)
      if (stopping && n === 0) s.end()
    })
  })

  process.once('SIGTERM', () => {
    log('sigterm received')
    if (config.naive === 'exit') process.exit(0)
    if (config.naive === 'fastify-close' && fastifyClose) {
      void fastifyClose().then(() => process.exit(0))
      return
    }
    draining = true
    setTimeout(() => {
      stopping = true
      net.Server.prototype.close.call(server, () => process.exit(0))
      for (const [s, n] of active) if (n === 0) s.end()
    }, config.drainDelayMs)
  })

  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve))
  if (config.startupMs > 0) await sleep(config.startupMs)
  ready = true
  log('listening', { port: (server.address() as net.AddressInfo).port, version: config.version })
}
