import http from 'node:http'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it, onTestFinished } from 'vitest'
import { createLifecycle, type Logger } from '@zerodrop/lifecycle'
import { freePort, killAll, sleep, startFixture } from '../helpers/process.js'

// Each test here is one way the drain used to break (docs/architecture.md, "drain contract"):
// it fails on the code before the fix and passes after.
const HTTP_FIXTURE = fileURLToPath(new URL('./fixtures/http-server.mjs', import.meta.url))
const LISTENING = /"msg":"listening"/

afterEach(killAll)

function capture(): Logger & { lines: Array<{ level: string; msg: string; obj: object }> } {
  const lines: Array<{ level: string; msg: string; obj: object }> = []
  const log = (level: string) => (obj: object, msg = ''): void => { lines.push({ level, msg, obj }) }
  return { lines, info: log('info'), warn: log('warn'), error: log('error') }
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTestFinished(() => { server.closeAllConnections(); server.close() })
  return (server.address() as net.AddressInfo).port
}

describe('pipelining', () => {
  it('two pipelined GETs during the delay do not hold the shutdown to its timeout: exit 0 right after the delay', async () => {
    const f = await startFixture(HTTP_FIXTURE, { DRAIN_DELAY_MS: '500', SHUTDOWN_TIMEOUT_MS: '3000' }, LISTENING)
    const sig = f.signal('SIGTERM')
    await sleep(100)
    const socket = net.connect(f.port, '127.0.0.1')
    socket.on('error', () => {})
    let data = ''
    socket.on('data', (d) => (data += d.toString()))
    socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\nGET / HTTP/1.1\r\nHost: localhost\r\n\r\n')
    const exit = await f.exited
    socket.destroy()
    console.log(`pipelining figures: exit code ${exit.code}, sigterm-to-exit ${Math.round(exit.at - sig)} ms (drain delay 500 ms, shutdown timeout 3000 ms)`)
    // the first answer says Connection: close; the client must resend the second (RFC 9112 §9.3.2)
    expect(data).toMatch(/^HTTP\/1.1 200/)
    expect(data.toLowerCase()).toContain('connection: close')
    expect(exit.code).toBe(0)
    expect(exit.at - sig).toBeLessThan(500 + 2000)
  })
})

describe('what the drain tracks', () => {
  it('Expect: 100-continue requests answered by a checkContinue listener are in flight until answered', async () => {
    const lc = createLifecycle({ signals: [], exit: false, logger: capture(), metrics: false, drainDelayMs: 50, shutdownTimeoutMs: 5000 })
    const server = http.createServer()
    lc.attach(server)
    let answeredAt = 0
    server.on('checkContinue', (_req, res) => {
      res.writeContinue()
      setTimeout(() => { res.end('ok'); answeredAt = performance.now() }, 600)
    })
    const port = await listen(server)
    const status = new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: { expect: '100-continue', 'content-length': '2' }, agent: false }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      req.on('continue', () => req.end('hi'))
      req.on('error', reject)
    })
    await sleep(150)
    expect(lc.inFlight).toBe(1)
    const summary = await lc.shutdown('test')
    const resolvedAt = performance.now()
    expect(await status).toBe(200)
    expect(answeredAt).toBeGreaterThan(0)
    expect(resolvedAt).toBeGreaterThanOrEqual(answeredAt)
    expect(summary.exitCode).toBe(0)
  })

  it('a lifecycle with no attached server warns at shutdown, saying what to call', async () => {
    const logger = capture()
    const lc = createLifecycle({ signals: [], exit: false, logger, metrics: false, drainDelayMs: 10, shutdownTimeoutMs: 1000 })
    await lc.shutdown('test')
    const warn = logger.lines.find((l) => l.level === 'warn' && /no server attached/.test(l.msg))
    expect(warn?.msg).toMatch(/lifecycle\.attach\(server\)/)
  })

  it('attach() after the delay: the server is closed at once and the drain still ends cleanly', async () => {
    const logger = capture()
    const lc = createLifecycle({ signals: [], exit: false, logger, metrics: false, drainDelayMs: 50, shutdownTimeoutMs: 2000 })
    const first = http.createServer((_req, res) => setTimeout(() => res.end('ok'), 400))
    lc.attach(first)
    const port = await listen(first)
    const slow = fetch(`http://127.0.0.1:${port}/`).then((r) => r.status)
    await sleep(100)
    const done = lc.shutdown('test')
    await sleep(150)
    expect(lc.state).toBe('stopping')
    const late = http.createServer((_req, res) => res.end('late'))
    lc.attach(late)
    await new Promise<void>((resolve) => late.listen(0, '127.0.0.1', resolve))
    onTestFinished(() => { late.closeAllConnections(); late.close() })
    await sleep(50)
    expect(late.listening).toBe(false)
    expect(await slow).toBe(200)
    const summary = await done
    expect(summary).toMatchObject({ exitCode: 0, destroyedConnections: 0 })
    expect(logger.lines.some((l) => /attached after the drain delay/.test(l.msg))).toBe(true)
  })
})

describe('the forced path', () => {
  it('a hung request cannot starve the shutdown hooks; shutdown() resolves once, with a result that does not change', async () => {
    const logger = capture()
    const lc = createLifecycle({ signals: [], exit: false, logger, metrics: false, drainDelayMs: 50, shutdownTimeoutMs: 800, hookTimeoutMs: 300 })
    const server = http.createServer(() => {}) // never answers
    lc.attach(server)
    const ran: string[] = []
    lc.onShutdown('db', () => { ran.push('db') })
    lc.onShutdown('cache', () => { throw new Error('cache down') })
    lc.onDrainStart('queue', () => new Promise((resolve) => setTimeout(resolve, 100)))
    const port = await listen(server)
    const hung = fetch(`http://127.0.0.1:${port}/`).catch(() => 'cut')
    await sleep(100)
    const summary = await lc.shutdown('test')
    expect(ran).toEqual(['db'])
    expect(summary.exitCode).toBe(1)
    expect(summary.unfinishedRequests).toBe(1)
    expect(summary.failedHooks).toEqual(['cache'])
    expect(Object.isFrozen(summary)).toBe(true)
    expect(Object.isFrozen(summary.failedHooks)).toBe(true)
    expect(await hung).toBe('cut')
    await sleep(600)
    // nothing ran after shutdown() resolved
    expect(ran).toEqual(['db'])
    expect(summary.failedHooks).toEqual(['cache'])
  })
})

describe('probes', () => {
  it('a check that hangs is not started again while its call still hangs', async () => {
    const lc = createLifecycle({ signals: [], exit: false, logger: capture(), metrics: false, checkCacheMs: 20 })
    let calls = 0
    lc.addCheck({ name: 'db', timeoutMs: 50, run: () => { calls++; return new Promise(() => {}) } })
    lc.markReady()
    for (let i = 0; i < 15; i++) {
      const r = await lc.probe('readiness')
      expect(r.ok).toBe(false)
      await sleep(30)
    }
    expect(calls).toBe(1)
    await lc.dispose()
  })

  it('the public body names the failing checks, never their error messages', async () => {
    const lc = createLifecycle({ signals: [], exit: false, logger: capture(), metrics: false, checkCacheMs: 0 })
    lc.addCheck({ name: 'db', run: () => { throw new Error('connect ECONNREFUSED 10.1.2.3:5432') } })
    lc.markReady()
    const plain = await lc.respond('readiness', '/readyz')
    expect(plain).toMatchObject({ statusCode: 503, body: "fail: check 'db'" })
    const verbose = await lc.respond('readiness', '/readyz?verbose')
    expect(verbose.body).toContain('10.1.2.3')
    expect(verbose.body).not.toMatch(/\bat .*\.js:\d+/) // no stack trace
    await lc.dispose()
  })
})

describe('a second server attached late in the process', () => {
  it('ATTACH_LATE_MS: attached during the delay, it serves with Connection: close and closes with the rest; exit 0', async () => {
    const port2 = await freePort()
    const f = await startFixture(HTTP_FIXTURE, { DRAIN_DELAY_MS: '800', ATTACH_LATE_MS: '100', PORT2: String(port2) }, LISTENING)
    const sig = f.signal('SIGTERM')
    await sleep(400)
    const res = await fetch(`http://127.0.0.1:${port2}/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('connection')).toBe('close')
    const exit = await f.exited
    expect(exit.code).toBe(0)
    expect(exit.at - sig).toBeLessThan(800 + 2500)
  })
})
