import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { Histogram, Registry } from 'prom-client'
import Fastify from 'fastify'
import express from 'express'
import { createLifecycle, createMetrics, type Lifecycle } from '@zerodrop/lifecycle'
import { fastifyLifecycle } from '@zerodrop/lifecycle/fastify'
import { expressLifecycle } from '@zerodrop/lifecycle/express'

const quiet = { info() {}, warn() {}, error() {} }
const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  cleanups.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r) }))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function httpApp(lc: Lifecycle): http.Server {
  const server = http.createServer(
    lc.wrap((req, res) => {
      if (req.url === '/boom') {
        res.writeHead(500).end('boom')
        return
      }
      res.end('hello')
    }, { route: (req) => (req.url === '/boom' ? '/boom' : '/') }),
  )
  lc.attach(server)
  return server
}

const get = async (url: string): Promise<{ status: number; body: string }> => {
  const r = await fetch(url)
  return { status: r.status, body: await r.text() }
}

describe('probes', () => {
  it('startup and readiness are 503 until markReady; checks gate the probes they name; ?verbose gives JSON', async () => {
    const lc = createLifecycle({ signals: [], exit: false, logger: quiet, metrics: false, checkCacheMs: 0 })
    let dbUp = false
    lc.addCheck({ name: 'db', probes: ['readiness'], run: () => { if (!dbUp) throw new Error('connection refused') } })
    const url = await listen(httpApp(lc))
    expect(await get(`${url}/startupz`)).toMatchObject({ status: 503 })
    expect(await get(`${url}/readyz`)).toMatchObject({ status: 503 })
    expect(await get(`${url}/livez`)).toEqual({ status: 200, body: 'ok' })
    lc.markReady()
    expect(await get(`${url}/startupz`)).toEqual({ status: 200, body: 'ok' })
    const failing = await get(`${url}/readyz`)
    expect(failing.status).toBe(503)
    expect(failing.body).toContain("check 'db'")
    expect(failing.body).not.toContain('connection refused')
    const verbose = JSON.parse((await get(`${url}/readyz?verbose`)).body)
    expect(verbose).toMatchObject({ probe: 'readiness', ok: false, state: 'ready', checks: [{ name: 'db', ok: false, error: 'connection refused' }] })
    dbUp = true
    expect(await get(`${url}/readyz`)).toEqual({ status: 200, body: 'ok' })
    expect(await get(`${url}/livez`)).toEqual({ status: 200, body: 'ok' })
  })

  it('a check that hangs fails at its timeout; results are cached so a probe flood runs the check once', async () => {
    const lc = createLifecycle({ signals: [], exit: false, logger: quiet, metrics: false, checkCacheMs: 10_000 })
    let runs = 0
    lc.addCheck({ name: 'slow', timeoutMs: 100, run: () => { runs++; return new Promise(() => {}) } })
    lc.markReady()
    const url = await listen(httpApp(lc))
    const t = performance.now()
    const first = await get(`${url}/readyz?verbose`)
    expect(performance.now() - t).toBeLessThan(2000)
    expect(first.status).toBe(503)
    expect(JSON.parse(first.body).checks[0].error).toMatch(/did not answer within 100 ms/)
    await Promise.all(Array.from({ length: 50 }, () => get(`${url}/readyz`)))
    expect(runs).toBe(1)
  })

  it('liveness ignores readiness checks and stays 200 while draining', async () => {
    const lc = createLifecycle({ signals: [], exit: false, logger: quiet, metrics: false, drainDelayMs: 300, shutdownTimeoutMs: 1000 })
    lc.addCheck({ name: 'db', run: () => { throw new Error('down') } })
    lc.markReady()
    const url = await listen(httpApp(lc))
    const done = lc.shutdown('test')
    expect(lc.state).toBe('draining')
    // long-lived connections are told to go when the delay ends, not at drain start
    expect(lc.signal.aborted).toBe(false)
    expect((await get(`${url}/livez`)).status).toBe(200)
    expect((await get(`${url}/readyz`)).status).toBe(503)
    const summary = await done
    expect(lc.signal.aborted).toBe(true)
    expect(summary).toMatchObject({ exitCode: 0, reason: 'test' })
    expect(lc.state).toBe('stopped')
  })
})

describe('servers and the admin port', () => {
  it('attach() sets keep-alive longer than load balancers idle timeouts, with headersTimeout above it', () => {
    const lc = createLifecycle({ signals: [], exit: false, logger: quiet, metrics: false })
    const server = http.createServer()
    lc.attach(server)
    expect(server.keepAliveTimeout).toBe(65_000)
    expect(server.headersTimeout).toBeGreaterThan(server.keepAliveTimeout)
  })

  it('adminPort serves probes and metrics (and nothing else) through the drain, then closes', async () => {
    const lc = createLifecycle({ signals: [], exit: false, logger: quiet, adminPort: 0, adminHost: '127.0.0.1', drainDelayMs: 300, shutdownTimeoutMs: 1000, metrics: { registry: new Registry(), defaultMetrics: false } })
    const admin = lc.adminServer
    if (!admin) throw new Error('no admin server')
    if (!admin.listening) await new Promise((r) => admin.once('listening', r))
    const url = `http://127.0.0.1:${(admin.address() as AddressInfo).port}`
    expect((await get(`${url}/readyz`)).status).toBe(503)
    lc.markReady()
    expect(await get(`${url}/readyz`)).toEqual({ status: 200, body: 'ok' })
    expect((await get(`${url}/metrics`)).body).toMatch(/lifecycle_state\{state="ready"\} 1/)
    expect((await get(`${url}/`)).status).toBe(404)
    const done = lc.shutdown('test')
    expect((await get(`${url}/readyz`)).status).toBe(503)
    expect((await get(`${url}/livez`)).status).toBe(200)
    await done
    expect(admin.listening).toBe(false)
  })
})

describe('metrics', () => {
  it('exports the histogram by route template, in-flight, state and checks; never observes probes or metrics', async () => {
    const registry = new Registry()
    const lc = createLifecycle({ signals: [], exit: false, logger: quiet, metrics: { registry, defaultMetrics: true } })
    lc.addCheck({ name: 'db', run: () => {} })
    lc.markReady()
    const url = await listen(httpApp(lc))
    for (let i = 0; i < 3; i++) await get(`${url}/`)
    await get(`${url}/boom`)
    for (let i = 0; i < 5; i++) await get(`${url}/readyz`)
    const text = (await get(`${url}/metrics`)).body
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/",status_code="200"\} 3/)
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/boom",status_code="500"\} 1/)
    expect(text).not.toMatch(/route="\/readyz"/)
    expect(text).not.toMatch(/route="\/metrics"/)
    expect(text).toMatch(/http_request_duration_seconds_bucket\{le="0.3",/)
    expect(text).toMatch(/http_requests_in_flight \d/)
    expect(text).toMatch(/lifecycle_state\{state="ready"\} 1/)
    expect(text).toMatch(/lifecycle_check_up\{check="db"\} 1/)
    expect(text).toMatch(/lifecycle_shutdown_duration_seconds/)
    expect(text).toMatch(/process_cpu_user_seconds_total/)
  })

  it("the histogram renders exactly as prom-client's own Histogram would for the same observations", async () => {
    const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5, 10]
    const ours = new Registry()
    const theirs = new Registry()
    const h = new Histogram({ name: 'http_request_duration_seconds', help: 'Duration of HTTP requests in seconds, by route template (probes and metrics excluded)', labelNames: ['method', 'route', 'status_code'], buckets, registers: [theirs] })
    const m = createMetrics({ registry: ours, prefix: '', buckets, defaultMetrics: false }, () => 0)
    const samples: Array<[string, string, number, number]> = [['GET', '/', 200, 0.003], ['GET', '/', 200, 0.3], ['GET', '/', 200, 0.300001], ['POST', '/x', 500, 12], ['GET', '/', 200, 0.005], ['GET', '/', 200, 1]]
    for (const [method, route, status, v] of samples) {
      h.labels(method, route, String(status)).observe(v)
      m.observe(method, route, status, v)
    }
    const text = (await ours.metrics()).split('\n').filter((l) => l.includes('http_request_duration_seconds')).join('\n')
    expect(text).toBe((await theirs.metrics()).trim())
  })

  it('uses a histogram another library registered under the same name instead of throwing', async () => {
    const registry = new Registry()
    const h = new Histogram({ name: 'http_request_duration_seconds', help: 'theirs', labelNames: ['method', 'route', 'status_code'], registers: [registry] })
    const m = createMetrics({ registry, prefix: '', buckets: [0.1, 1], defaultMetrics: false }, () => 0)
    m.observe('GET', '/', 200, 0.05)
    expect((await h.get()).values.find((v) => v.metricName === 'http_request_duration_seconds_count')?.value).toBe(1)
  })

  it('honours a prefix and a user registry; registering twice does not throw', () => {
    const registry = new Registry()
    const a = createLifecycle({ signals: [], exit: false, logger: quiet, metrics: { registry, prefix: 'shop_' } })
    const b = createLifecycle({ signals: [], exit: false, logger: quiet, metrics: { registry, prefix: 'shop_' } })
    expect(a.metrics?.registry).toBe(registry)
    expect(b.metrics?.registry).toBe(registry)
    expect(registry.getSingleMetric('shop_http_request_duration_seconds')).toBeDefined()
  })

  it('Fastify: route label is the template; unmatched paths share one label value', async () => {
    const registry = new Registry()
    const app = Fastify({ logger: false })
    await app.register(fastifyLifecycle, { signals: [], exit: false, logger: quiet, metrics: { registry, defaultMetrics: false } })
    app.get('/users/:id', async () => ({ ok: true }))
    await app.listen({ port: 0, host: '127.0.0.1' })
    cleanups.push(() => { app.server.closeAllConnections(); return app.close() })
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    expect(app.lifecycle.state).toBe('ready')
    for (const id of ['1', '2', '3']) await get(`${url}/users/${id}`)
    for (const p of ['/nope/1', '/nope/2']) expect((await get(`${url}${p}`)).status).toBe(404)
    await get(`${url}/readyz`)
    const text = (await get(`${url}/metrics`)).body
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/users\/:id",status_code="200"\} 3/)
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="#unmatched",status_code="404"\} 2/)
    expect(text).not.toMatch(/route="\/readyz"/)
    expect(text).not.toMatch(/users\/1/)
  })

  it('Fastify: a route\'s own onResponse hooks still run, and HEAD is recorded once under its template', async () => {
    const registry = new Registry()
    const app = Fastify({ logger: false })
    await app.register(fastifyLifecycle, { signals: [], exit: false, logger: quiet, metrics: { registry, defaultMetrics: false } })
    let own = 0
    app.get('/a', { onResponse: async () => { own++ } }, async () => ({ ok: true }))
    await app.listen({ port: 0, host: '127.0.0.1' })
    cleanups.push(() => { app.server.closeAllConnections(); return app.close() })
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    await get(`${url}/a`)
    await fetch(`${url}/a`, { method: 'HEAD' })
    const text = (await get(`${url}/metrics`)).body
    expect(own).toBe(2)
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/a",status_code="200"\} 1\n/)
    expect(text).toMatch(/http_request_duration_seconds_count\{method="HEAD",route="\/a",status_code="200"\} 1\n/)
  })

  it('Fastify: routes registered before the plugin are observed too, each request once, and the log says how to make them cheaper', async () => {
    const registry = new Registry()
    const app = Fastify({ logger: false })
    app.get('/early/:id', async () => ({ early: true }))
    const warnings: string[] = []
    await app.register(fastifyLifecycle, { signals: [], exit: false, logger: { ...quiet, warn: (_o: object, m: string) => void warnings.push(m) }, metrics: { registry, defaultMetrics: false } })
    app.get('/late', async () => ({ late: true }))
    await app.listen({ port: 0, host: '127.0.0.1' })
    cleanups.push(() => { app.server.closeAllConnections(); return app.close() })
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    await get(`${url}/early/1`)
    await get(`${url}/early/2`)
    await get(`${url}/late`)
    await get(`${url}/nope`)
    await get(`${url}/readyz`)
    const text = (await get(`${url}/metrics`)).body
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/early\/:id",status_code="200"\} 2\n/)
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/late",status_code="200"\} 1\n/)
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="#unmatched",status_code="404"\} 1\n/)
    expect(text).not.toMatch(/route="\/readyz"/)
    expect(warnings.filter((w) => /registered after some routes/.test(w))).toHaveLength(1)
  })

  it('Express: route label is the template (with the router mount path)', async () => {
    const registry = new Registry()
    const app = express()
    const lc = expressLifecycle(app, { signals: [], exit: false, logger: quiet, metrics: { registry, defaultMetrics: false } })
    const router = express.Router()
    router.get('/items/:id', (_req, res) => { res.json({ ok: true }) })
    app.use('/api', router)
    const server = http.createServer(app)
    lc.attach(server)
    const url = await listen(server)
    lc.markReady()
    await get(`${url}/api/items/7`)
    await get(`${url}/api/items/8`)
    await get(`${url}/missing`)
    const text = (await get(`${url}/metrics`)).body
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/api\/items\/:id",status_code="200"\} 2/)
    expect(text).toMatch(/route="#unmatched",status_code="404"\} 1/)
  })
})

describe('pressure', () => {
  it('sheds application requests with 503 + Retry-After, keeps probes answering, and leaves readiness up by default', async () => {
    const lc = createLifecycle({ signals: [], exit: false, logger: quiet, metrics: false, pressure: { maxHeapUsedBytes: 1, sampleIntervalMs: 20, retryAfterSeconds: 2 }, drainDelayMs: 0 })
    lc.markReady()
    const url = await listen(httpApp(lc))
    await new Promise((r) => setTimeout(r, 100))
    const r = await fetch(`${url}/`)
    expect(r.status).toBe(503)
    expect(r.headers.get('retry-after')).toBe('2')
    await r.text()
    expect((await get(`${url}/readyz`)).status).toBe(200)
    await lc.shutdown()
  })

  it('Fastify: app.close() called directly releases the signal handlers the plugin installed', async () => {
    const before = process.listenerCount('SIGTERM')
    const app = Fastify({ logger: false })
    await app.register(fastifyLifecycle, { exit: false, logger: quiet, metrics: false })
    await app.ready()
    expect(process.listenerCount('SIGTERM')).toBe(before + 1)
    await app.close()
    expect(process.listenerCount('SIGTERM')).toBe(before)
    expect(app.lifecycle.state).toBe('starting')
  })

  it('Fastify: under-pressure sheds app routes but not the probes', async () => {
    const app = Fastify({ logger: false })
    await app.register(fastifyLifecycle, { signals: [], exit: false, logger: quiet, metrics: false, pressure: { maxHeapUsedBytes: 1, sampleIntervalMs: 20 } })
    app.get('/', async () => 'hi')
    await app.listen({ port: 0, host: '127.0.0.1' })
    cleanups.push(() => { app.server.closeAllConnections(); return app.close() })
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    await new Promise((r) => setTimeout(r, 100))
    expect((await get(`${url}/`)).status).toBe(503)
    expect((await get(`${url}/readyz`)).status).toBe(200)
    expect((await get(`${url}/livez`)).status).toBe(200)
  })
})
