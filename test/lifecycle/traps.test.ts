import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DEMO, freePort, killAll, sleep, startFixture } from '../helpers/process.js'
import { makeTestCert, type TestCert } from '../helpers/tls.js'

const HTTP_FIXTURE = fileURLToPath(new URL('./fixtures/http-server.mjs', import.meta.url))
const LISTENING = /"msg":"listening"/
let cert: TestCert | undefined
let tls: Record<string, string> = {}

beforeAll(async () => {
  cert = await makeTestCert()
  tls = { ...cert.env }
})
afterAll(() => cert?.remove())
afterEach(killAll)

describe('protocols', () => {
  it('HTTPS: keep-alive responses during the delay carry Connection: close; nothing fails; exit 0', async () => {
    const f = await startFixture(HTTP_FIXTURE, { ...tls, HTTPS: '1', DRAIN_DELAY_MS: '800' }, LISTENING)
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false })
    const get = (): Promise<{ status: number; close: boolean }> => new Promise((resolve, reject) => {
      https.get(`https://127.0.0.1:${f.port}/`, { agent }, (res) => {
        res.resume()
        res.on('end', () => resolve({ status: res.statusCode ?? 0, close: res.headers.connection === 'close' }))
      }).on('error', reject)
    })
    expect(await get()).toEqual({ status: 200, close: false })
    f.signal('SIGTERM')
    await sleep(100)
    const during = []
    for (let i = 0; i < 5; i++) during.push(await get())
    expect(during).toEqual(Array(5).fill({ status: 200, close: true }))
    expect((await f.exited).code).toBe(0)
    agent.destroy()
  })

  it('HTTP/2: GOAWAY at drain start, the open stream finishes with 200, exit 0', async () => {
    const f = await startFixture(HTTP_FIXTURE, { ...tls, HTTP2: '1', DRAIN_DELAY_MS: '1000' }, LISTENING)
    const session = http2.connect(`https://127.0.0.1:${f.port}`, { rejectUnauthorized: false })
    session.on('error', () => {})
    const goaway = new Promise<number>((resolve) => session.once('goaway', () => resolve(performance.now())))
    const slow = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const stream = session.request({ ':path': '/slow?ms=1500' })
      let status = 0
      let body = ''
      stream.on('response', (h) => (status = Number(h[':status'])))
      stream.on('data', (d: Buffer) => (body += d.toString()))
      stream.on('end', () => resolve({ status, body }))
      stream.on('error', reject)
    })
    await sleep(200)
    const sig = f.signal('SIGTERM')
    const goawayAt = await goaway
    expect(goawayAt - sig).toBeLessThan(500)
    expect(await slow).toEqual({ status: 200, body: JSON.stringify({ slow: true }) })
    expect((await f.exited).code).toBe(0)
    session.destroy()
  })

  it('several servers on one lifecycle: both drain, in-flight requests on each finish, one exit 0', async () => {
    const port2 = await freePort()
    const f = await startFixture(HTTP_FIXTURE, { SERVERS: '2', PORT2: String(port2), DRAIN_DELAY_MS: '300' }, LISTENING)
    const a = fetch(`${f.url}/slow?ms=1200`).then((r) => r.status)
    const b = fetch(`http://127.0.0.1:${port2}/slow?ms=1200`).then((r) => r.status)
    await sleep(150)
    f.signal('SIGTERM')
    expect(await Promise.all([a, b])).toEqual([200, 200])
    expect((await f.exited).code).toBe(0)
  })
})

describe('traps from the anchors’ issue trackers', () => {
  it('a connection accepted just before the listener closed, whose request comes late, is still served (Go’s StateNew grace)', async () => {
    const f = await startFixture(DEMO, { DRAIN_DELAY_MS: '600' })
    f.signal('SIGTERM')
    await sleep(300)
    const socket = net.connect(f.port, '127.0.0.1')
    await new Promise((r) => socket.once('connect', r))
    await sleep(600) // the listener has closed by now; the request arrives inside the grace
    let data = ''
    socket.on('data', (d) => (data += d.toString()))
    const closed = new Promise((r) => socket.once('close', r))
    socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')
    await closed
    expect(data).toMatch(/^HTTP\/1.1 200/)
    expect(data.toLowerCase()).toContain('connection: close')
    expect((await f.exited).code).toBe(0)
  })

  it('Fastify: with a request in flight at SIGTERM, the plugin keeps serving; plain close() refuses and 503s', async () => {
    // Same client behaviour against both: A has a slow request in flight on a keep-alive socket
    // and sends its next request right after; B opens a new connection shortly after SIGTERM
    // (the load balancer has not caught up yet).
    const scenario = async (env: Record<string, string>) => {
      const f = await startFixture(DEMO, env)
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      const get = (path: string, a?: http.Agent): Promise<string> => new Promise((resolve) => {
        http.get({ host: '127.0.0.1', port: f.port, path, agent: a ?? false }, (res) => {
          res.resume()
          res.on('end', () => resolve(String(res.statusCode)))
        }).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
      })
      const slow = get('/slow?ms=600', agent)
      await sleep(100)
      f.signal('SIGTERM')
      await sleep(150)
      const b = await get('/')
      const a1 = await slow
      const a2 = await get('/', agent)
      agent.destroy()
      const exit = await Promise.race([f.exited, sleep(8000).then(() => undefined)])
      return { a1, a2, b, exit: exit?.code }
    }
    const ours = await scenario({ DRAIN_DELAY_MS: '1000' })
    expect(ours).toEqual({ a1: '200', a2: '200', b: '200', exit: 0 })
    const plain = await scenario({ NAIVE: 'fastify-close' })
    expect(plain.a1).toBe('200')
    expect(plain.b).toBe('ECONNREFUSED')
    expect(plain.a2).toBe('503') // return503OnClosing on the busy keep-alive socket
  })

  it('a second signal during the drain forces an immediate exit with code 1', async () => {
    const f = await startFixture(DEMO, { DRAIN_DELAY_MS: '10000' })
    f.signal('SIGTERM')
    await sleep(300)
    const second = f.signal('SIGINT')
    const exit = await f.exited
    expect(exit.code).toBe(1)
    expect(exit.at - second).toBeLessThan(1000)
    expect(f.output()).toMatch(/second signal received during drain/)
  })

  it('a hook that hangs is cut at its own timeout and named in the log; later hooks still run; exit 1', async () => {
    const f = await startFixture(HTTP_FIXTURE, { DRAIN_DELAY_MS: '100', HOOK_HANG: '1', HOOK_TIMEOUT_MS: '400' }, LISTENING)
    const sig = f.signal('SIGTERM')
    const exit = await f.exited
    expect(exit.code).toBe(1)
    expect(exit.at - sig).toBeLessThan(3000)
    const out = f.output()
    expect(out).toMatch(/hook db ran/)
    expect(out).toMatch(/shutdown hook 'hangs-forever' failed/)
    expect(out).toMatch(/did not finish within 400 ms/)
  })

  it('a client that never closes its side of an idle connection does not hold the shutdown to its timeout', async () => {
    const f = await startFixture(DEMO, { DRAIN_DELAY_MS: '300', SHUTDOWN_TIMEOUT_MS: '5000' })
    // allowHalfOpen: the client keeps its side open after the server's FIN, as a stuck peer would
    const socket = net.connect({ port: f.port, host: '127.0.0.1', allowHalfOpen: true })
    socket.on('error', () => {})
    let data = ''
    const answered = new Promise<void>((r) => socket.on('data', (d) => { data += d.toString(); if (data.includes('"version"')) r() }))
    socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')
    await answered
    const sig = f.signal('SIGTERM')
    const exit = await f.exited
    socket.destroy()
    expect(exit.code).toBe(0)
    // the delay, then at most the 1 s given to idle sockets to close after their FIN
    expect(exit.at - sig).toBeLessThan(300 + 1000 + 1500)
  })

  it('idle keep-alive sockets do not delay the exit (they get a FIN right after the delay)', async () => {
    const f = await startFixture(DEMO, { DRAIN_DELAY_MS: '400' })
    const agent = new http.Agent({ keepAlive: true, maxSockets: 20 })
    await Promise.all(Array.from({ length: 20 }, () => new Promise<void>((r) => http.get({ host: '127.0.0.1', port: f.port, path: '/', agent }, (res) => { res.resume(); res.on('end', r) }))))
    const sig = f.signal('SIGTERM')
    const exit = await f.exited
    expect(exit.code).toBe(0)
    expect(exit.at - sig).toBeGreaterThanOrEqual(400)
    expect(exit.at - sig).toBeLessThan(1400)
    agent.destroy()
  })
})
