import { fileURLToPath } from 'node:url'
import { EventSource } from 'eventsource'
import { WebSocket } from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { DEMO, killAll, sleep, startFixture, type Fixture } from '../helpers/process.js'

// Long-lived connections, instance ↔ client: told to go when the drain delay ends (not at drain
// start, when a reconnect would land on the same instance), and the client resumes elsewhere.
const HTTP_FIXTURE = fileURLToPath(new URL('./fixtures/http-server.mjs', import.meta.url))
const LISTENING = /"msg":"listening"/
const DELAY_MS = 800

afterEach(killAll)

/**
 * A WebSocket client that sends numbered messages every 20 ms; the server acks each. When the
 * socket closes it reconnects to `next` and resends what was not acked, then sends up to `total`.
 */
async function wsSession(first: Fixture, next: Fixture, total: number, sigAfterMs: number) {
  const acked = new Set<number>()
  const closes: Array<{ code: number; at: number }> = []
  let sent = 0
  let sig = 0
  const open = (port: number): Promise<WebSocket> => new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
    ws.on('message', (d) => acked.add(Number(String(d).slice(4))))
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })
  let ws = await open(first.port)
  let closed = new Promise<void>((resolve) => ws.once('close', (code) => { closes.push({ code, at: performance.now() }); resolve() }))
  const deadline = performance.now() + 15_000
  const started = performance.now()
  while (acked.size < total && performance.now() < deadline) {
    if (sig === 0 && performance.now() - started > sigAfterMs) sig = first.signal('SIGTERM')
    if (ws.readyState !== WebSocket.OPEN) {
      await closed
      ws = await open(next.port)
      closed = new Promise<void>((resolve) => ws.once('close', (code) => { closes.push({ code, at: performance.now() }); resolve() }))
      for (let i = 0; i < sent; i++) if (!acked.has(i)) ws.send(String(i))
      continue
    }
    if (sent < total) ws.send(String(sent++))
    await sleep(20)
  }
  ws.close()
  const missing = Array.from({ length: total }, (_, i) => i).filter((i) => !acked.has(i))
  return { closes, sig, missing }
}

describe('WebSockets (ws server and client)', () => {
  it('holdWebSocket: clients get 1001 when the delay ends, reconnect elsewhere, and no accepted message is lost; exit 0', async () => {
    const a = await startFixture(HTTP_FIXTURE, { WS: '1', HOLD_WS: '1', DRAIN_DELAY_MS: String(DELAY_MS) }, LISTENING)
    const b = await startFixture(HTTP_FIXTURE, { WS: '1', HOLD_WS: '1' }, LISTENING)
    const r = await wsSession(a, b, 120, 500)
    const exit = await a.exited
    expect(r.closes[0]?.code).toBe(1001)
    // told to go when the delay ended, not at SIGTERM
    expect(r.closes[0]!.at - r.sig).toBeGreaterThanOrEqual(DELAY_MS - 50)
    expect(r.missing).toEqual([])
    expect(exit.code).toBe(0)
    expect(exit.at - r.sig).toBeLessThan(DELAY_MS + 2000)
  })

  it('negative control: a WebSocket the application did not register ends without a close frame (1006), and the log says so', async () => {
    const a = await startFixture(HTTP_FIXTURE, { WS: '1', DRAIN_DELAY_MS: String(DELAY_MS) }, LISTENING)
    const b = await startFixture(HTTP_FIXTURE, { WS: '1' }, LISTENING)
    const r = await wsSession(a, b, 120, 500)
    const exit = await a.exited
    expect(r.closes[0]?.code).toBe(1006)
    expect(exit.code).toBe(0)
    expect(a.output()).toMatch(/not registered with lifecycle.holdWebSocket were ended without a close frame/)
    // it is not held to newConnectionGraceMs either: the upgraded socket is ended with the listener
    expect(exit.at - r.sig).toBeLessThan(DELAY_MS + 1000 + 500)
  })
})

describe('Server-Sent Events (the eventsource client)', () => {
  it('holdEventStream: the stream ends with a final event when the delay ends; the client reconnects with Last-Event-ID and resumes, no id missing or repeated', async () => {
    const a = await startFixture(HTTP_FIXTURE, { DRAIN_DELAY_MS: String(DELAY_MS) }, LISTENING)
    const b = await startFixture(HTTP_FIXTURE, {}, LISTENING)
    let connects = 0
    const lastEventIds: Array<string | null> = []
    // the first connection goes to A, every reconnect to B (the load balancer has removed A by then)
    const es = new EventSource(`http://127.0.0.1:${a.port}/sse`, {
      fetch: (url, init) => {
        const target = connects++ === 0 ? url : String(url).replace(`:${a.port}/`, `:${b.port}/`)
        lastEventIds.push(new Headers(init?.headers).get('last-event-id'))
        return fetch(target, init)
      },
    })
    const ids: number[] = []
    let drainingAt = 0
    es.addEventListener('draining', () => { drainingAt = performance.now() })
    const enough = new Promise<void>((resolve) => {
      es.onmessage = (e) => {
        ids.push(Number(e.lastEventId))
        if (drainingAt > 0 && connects >= 2 && ids.length > 80) resolve()
      }
    })
    await sleep(400)
    const sig = a.signal('SIGTERM')
    await Promise.race([enough, sleep(10_000)])
    es.close()
    const exit = await a.exited
    expect(drainingAt - sig).toBeGreaterThanOrEqual(DELAY_MS - 50)
    expect(connects).toBe(2)
    expect(lastEventIds[0]).toBeNull()
    expect(Number(lastEventIds[1])).toBeGreaterThan(0)
    expect(ids.length).toBeGreaterThan(80)
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i))
    expect(exit.code).toBe(0)
  })
})

describe.each(['fastify', 'express'])('the demo (%s): /ws and /sse are held by the lifecycle', (framework) => {
  it('a WebSocket gets 1001 and an SSE stream its final event with a retry hint when the delay ends; exit 0', async () => {
    const f = await startFixture(DEMO, { FRAMEWORK: framework, DRAIN_DELAY_MS: String(DELAY_MS), APP_VERSION: 'v7' })
    const ws = new WebSocket(`ws://127.0.0.1:${f.port}/ws`)
    const acks: string[] = []
    ws.on('message', (d) => acks.push(String(d)))
    const closed = new Promise<{ code: number; at: number }>((resolve) => ws.once('close', (code) => resolve({ code, at: performance.now() })))
    await new Promise((resolve) => ws.once('open', resolve))
    ws.send('m1')
    const sse = await fetch(`${f.url}/sse`, { headers: { 'last-event-id': '41' } })
    const text = sse.text()
    await sleep(200)
    const sig = f.signal('SIGTERM')
    const close = await closed
    const body = await text
    const exit = await f.exited
    expect(acks).toEqual(['ack m1 v7'])
    expect(close.code).toBe(1001)
    expect(close.at - sig).toBeGreaterThanOrEqual(DELAY_MS - 50)
    expect(body).toMatch(/^id: 42\ndata: 42 v7\n/)
    expect(body).toMatch(/event: draining\ndata: server draining\nretry: 500\n\n$/)
    expect(exit.code).toBe(0)
  })
})
