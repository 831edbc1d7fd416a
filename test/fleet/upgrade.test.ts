import http from 'node:http'
import type net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createRouter, type Router } from '#fleet/router/router.js'
import { DEMO, killAll, startFixture } from '../helpers/process.js'

// A protocol switch (what a WebSocket handshake is) through both routers, on real sockets: one
// accounted request answered 101 — a success, not a non-2xx drop — then a tunnel that carries
// bytes both ways. The negative control: an endpoint that refuses the upgrade (426) is counted
// as the non-2xx answer it is.

const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
  await killAll()
})

/** An echo server behind `Upgrade: echo` (a stand-in for a WebSocket service): 101, then every byte back. */
async function echoServer(refuse = false): Promise<number> {
  const sockets = new Set<net.Socket>()
  const server = http.createServer((_req, res) => res.end('plain\n'))
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    if (refuse || req.headers.upgrade !== 'echo') {
      socket.end('HTTP/1.1 426 Upgrade Required\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
      return
    }
    socket.write('HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: echo\r\n\r\n')
    socket.on('data', (d) => socket.write(d))
    socket.on('end', () => socket.end())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  closers.push(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((r) => server.close(() => r()))
  })
  return (server.address() as net.AddressInfo).port
}

async function router(mode: 'l4' | 'l7', port: number): Promise<Router> {
  const r = await createRouter({ mode, port: 0 })
  r.add({ id: 'e-0', revision: 'v1', host: '127.0.0.1', port })
  closers.push(() => r.close())
  return r
}

/** Upgrade through the router, send three messages, read each echo, close; resolves the status and the echoes. */
function converse(port: number): Promise<{ status: number; echoes: string[] }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/ws', headers: { connection: 'Upgrade', upgrade: 'echo' }, agent: false })
    req.on('upgrade', (res, socket: net.Socket, head) => {
      const echoes: string[] = []
      let buf = head.toString()
      const messages = ['one', 'two', 'three']
      const next = (): void => {
        const m = messages.shift()
        if (m === undefined) {
          socket.end()
          resolve({ status: res.statusCode ?? 0, echoes })
          return
        }
        socket.write(`${m}\n`)
      }
      socket.on('data', (d) => {
        buf += d.toString()
        let i
        while ((i = buf.indexOf('\n')) >= 0) {
          echoes.push(buf.slice(0, i))
          buf = buf.slice(i + 1)
          next()
        }
      })
      socket.on('error', reject)
      next()
    })
    req.on('response', (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, echoes: [] }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function settled(r: Router): Promise<void> {
  for (let i = 0; i < 100 && r.stats().inFlight > 0; i++) await new Promise((res) => setTimeout(res, 10))
}

describe('protocol switches through the routers', () => {
  for (const mode of ['l4', 'l7'] as const) {
    it(`${mode}: the handshake is one request answered 101 and counted ok, then the tunnel carries messages both ways`, async () => {
      const r = await router(mode, await echoServer())
      const out = await converse(r.port)
      expect(out).toEqual({ status: 101, echoes: ['one', 'two', 'three'] })
      await settled(r)
      const v1 = r.stats().byRevision.v1!
      expect(v1.requests).toBe(1)
      expect(v1.responses['2xx']).toBe(1)
      expect(v1.responses['1xx'] + v1.responses['4xx']).toBe(0)
      expect(v1.failures).toEqual({ refused: 0, reset: 0, lost: 0, timeout: 0 })
    })

    it(`${mode}: negative control — an endpoint that refuses the upgrade (426) is a non-2xx answer`, async () => {
      const r = await router(mode, await echoServer(true))
      const out = await converse(r.port)
      expect(out.status).toBe(426)
      await settled(r)
      const v1 = r.stats().byRevision.v1!
      expect(v1.requests).toBe(1)
      expect(v1.responses['4xx']).toBe(1)
      expect(v1.responses['2xx']).toBe(0)
    })
  }
})

describe("the demo's WebSocket (GET /ws) through the routers, drained", () => {
  for (const mode of ['l4', 'l7'] as const) {
    it(`${mode}: messages acked through the tunnel; on SIGTERM the service closes it with 1001 after its drain delay; one request, counted ok`, { timeout: 30_000 }, async () => {
      const demo = await startFixture(DEMO, { DRAIN_DELAY_MS: '500', APP_VERSION: 'v1' })
      const r = await router(mode, demo.port)
      const ws = new WebSocket(`ws://127.0.0.1:${r.port}/ws`)
      const acks: string[] = []
      ws.on('message', (d) => acks.push(String(d)))
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve())
        ws.once('error', reject)
      })
      for (const m of ['one', 'two']) ws.send(m)
      for (let i = 0; i < 100 && acks.length < 2; i++) await new Promise((res) => setTimeout(res, 10))
      expect(acks).toEqual(['ack one v1', 'ack two v1'])
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
      demo.signal('SIGTERM')
      expect(await closed).toBe(1001)
      expect((await demo.exited).code).toBe(0)
      const v1 = r.stats().byRevision.v1!
      expect(v1.requests).toBe(1)
      expect(v1.responses['2xx']).toBe(1)
      expect(v1.failures).toEqual({ refused: 0, reset: 0, lost: 0, timeout: 0 })
    })
  }
})
