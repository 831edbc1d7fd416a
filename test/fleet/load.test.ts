import http from 'node:http'
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { startLoadGenerator, type LoadGenerator, type LoadGeneratorOptions, type LoadRun } from '#fleet/load/generator.js'
import { InvalidOptionError } from '@zerodrop/fleet'

// End-to-end: the fleet's load generator against a real node:http server on port 0. The server
// counts what it saw per socket, so every claim about the client is checked from the other side
// of the wire; every run is bounded by request count and time.

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, onSocket: number) => void

interface Upstream {
  url: string
  /** requests per socket, in the order the sockets connected */
  readonly perSocket: number[]
  /** responses the server finished writing */
  finished: number
  readonly seen: Array<{ method: string; path: string; body: string }>
  /** sockets open on the server side */
  readonly open: Set<net.Socket>
}

const servers: http.Server[] = []
const generators: LoadGenerator[] = []

afterEach(async () => {
  await Promise.all(generators.splice(0).map((g) => g.stop()))
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => {
    s.closeAllConnections()
    s.close(() => resolve())
  })))
})

async function upstream(handler: Handler = (_req, res) => res.end('ok')): Promise<Upstream> {
  const ids = new WeakMap<net.Socket, number>()
  const up: Upstream = { url: '', perSocket: [], finished: 0, seen: [], open: new Set() }
  const server = http.createServer((req, res) => {
    const id = ids.get(req.socket) ?? -1
    const n = (up.perSocket[id] ?? 0) + 1
    up.perSocket[id] = n
    let body = ''
    req.on('data', (d: Buffer) => (body += d.toString()))
    req.on('end', () => up.seen.push({ method: req.method ?? '', path: req.url ?? '', body }))
    res.on('finish', () => up.finished++)
    handler(req, res, n)
  })
  server.on('connection', (s: net.Socket) => {
    ids.set(s, up.perSocket.length)
    up.perSocket.push(0)
    up.open.add(s)
    s.on('close', () => up.open.delete(s))
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  up.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/items?x=1`
  return up
}

function start(options: LoadGeneratorOptions): LoadGenerator {
  const g = startLoadGenerator(options)
  generators.push(g)
  return g
}

function expectBalanced(r: LoadRun): void {
  expect(r.inFlight).toBe(0)
  expect(r.ok + r.non2xx + r.lost + r.reset + r.refused + r.timeout).toBe(r.sent)
  expect(r.failures.length + r.failuresOmitted).toBe(r.sent - r.ok)
}

describe('load generator (node:http keep-alive, paced, exact per request)', () => {
  it('paces the total rate over its connections, phase-shifted, in bursts, never ahead of its slots', async () => {
    const up = await upstream()
    // 4 connections × bursts of 2 at 400 req/s: each connection's burst slot is 20 ms apart; 10 bursts each
    const slotMs = (1000 * 4 * 2) / 400
    const g = start({ url: up.url, connections: 4, pace: { rate: 400, burst: 2 }, durationMs: 20_000, maxRequestsPerConnection: 20, records: true })
    const r = await g.done
    expectBalanced(r)
    expect(r.ok).toBe(80)
    // evenly shared: one socket per connection, the same count on each
    expect(up.perSocket).toEqual([20, 20, 20, 20])
    const byConnection = [0, 1, 2, 3].map((c) => r.records.filter((x) => x.connection === c).sort((x, y) => x.start - y.start))
    byConnection.forEach((rs, c) => {
      let inBurst = 0
      let between = 0
      for (let k = 0; k < 10; k++) {
        const [first, second] = [rs[2 * k]!, rs[2 * k + 1]!]
        // a slot is never early (a late one is skipped, not made up), whatever the machine's load
        expect(first.start).toBeGreaterThanOrEqual((c * slotMs) / 4 + k * slotMs - 1)
        // one request outstanding at a time; the burst's second goes out when the first is answered
        expect(second.start).toBeGreaterThanOrEqual(first.end)
        inBurst += second.start - first.end
        if (k > 0) between += first.start - rs[2 * k - 1]!.end
      }
      // back to back inside a burst, paced between bursts (sums, so one preempted moment cannot decide it)
      expect(inBurst).toBeLessThan(between)
    })
    // phase-shifted: the never-early bound above at k = 0 already says connection c's first request
    // leaves no sooner than c/4 of a slot (a generator without the shift sends all four at ~0 ms and
    // fails it). Comparing the observed first starts with each other instead would fail whenever
    // connection 0 is late on a loaded machine (lateness is allowed; earliness is not).
    expect(byConnection[3]![0]!.start).toBeGreaterThanOrEqual((3 * slotMs) / 4 - 1)
    // and it keeps up: 10 slots take about 200 ms (bound loose: the machine is shared)
    expect(r.durationMs).toBeLessThan(20 * 10 * slotMs)
  })

  it('sends each burst back to back on the same keep-alive socket', async () => {
    const up = await upstream()
    const g = start({ url: up.url, connections: 2, pace: { rate: 200, burst: 3 }, durationMs: 20_000, maxRequestsPerConnection: 30, records: true })
    const r = await g.done
    expectBalanced(r)
    expect(r.sent).toBe(60)
    expect(r.ok).toBe(60)
    // two sockets for 60 requests: every request after a connection's first reused its socket
    expect(up.perSocket).toEqual([30, 30])
    expect(r.connectionsOpened).toBe(2)
    expect(r.records.filter((x) => !x.reused)).toHaveLength(2)
  })

  it('honours Connection: close: the next request goes on a new connection, nothing is lost', async () => {
    // every third response on a socket says `Connection: close`; node's server then closes the socket at once
    const up = await upstream((_req, res, n) => {
      if (n % 3 === 0) res.setHeader('connection', 'close')
      res.end('ok')
    })
    const g = start({ url: up.url, connections: 3, pace: { rate: 300, burst: 3 }, durationMs: 20_000, maxRequestsPerConnection: 30, records: true })
    const r = await g.done
    expectBalanced(r)
    expect(r.sent).toBe(90)
    expect(r.ok).toBe(90)
    expect(r.lost + r.reset + r.refused).toBe(0)
    expect(r.connectionClose).toBe(30)
    // a socket carried at most three requests; the burst went on over the new connection
    expect(Math.max(...up.perSocket)).toBeLessThanOrEqual(3)
    expect(r.connectionsOpened).toBe(up.perSocket.length)
    expect(up.perSocket.length).toBeGreaterThanOrEqual(30)
  })

  it('negative control: a server that ends the socket after a response without Connection: close loses requests, and the generator counts them', async () => {
    // stoppable / terminus after their delay: end the socket once the response is written
    const up = await upstream((req, res) => {
      const socket = req.socket
      res.end('ok', () => socket.end())
    })
    const g = start({ url: up.url, connections: 3, pace: { rate: 300, burst: 3 }, durationMs: 20_000, maxRequestsPerConnection: 30, records: true })
    const r = await g.done
    expectBalanced(r)
    expect(r.sent).toBe(90)
    expect(r.lost + r.reset).toBeGreaterThan(0)
    // each of them went out on a reused socket: the one the server had just ended
    for (const f of r.failures.filter((x) => x.outcome === 'lost' || x.outcome === 'reset')) expect(f.reused).toBe(true)
    // what the server finished writing is exactly what the client counted as answered
    expect(up.finished).toBe(r.ok + r.non2xx)
  })

  it('churns connections every reconnectRate requests, closing only idle ones', async () => {
    const up = await upstream()
    const g = start({ url: up.url, connections: 2, pace: { rate: 400, burst: 2 }, reconnectRate: 5, durationMs: 20_000, maxRequestsPerConnection: 20 })
    const r = await g.done
    expectBalanced(r)
    expect(r.ok).toBe(40)
    expect(up.perSocket).toEqual(Array(8).fill(5))
    expect(r.connectionsOpened).toBe(8)
  })

  it('stop() is graceful: requests in flight finish, nothing is outstanding or left open afterwards', async () => {
    const up = await upstream((_req, res) => setTimeout(() => res.end('slow'), 300))
    const g = start({ url: up.url, connections: 4, pace: { thinkMs: 0 }, durationMs: 20_000, maxRequestsPerConnection: 20 })
    await new Promise((resolve) => setTimeout(resolve, 450))
    const atStop = g.snapshot()
    expect(atStop.inFlight).toBe(4)
    const r = await g.stop()
    expectBalanced(r)
    // what was in flight at stop() finished ok; nothing went out after it
    expect(r.sent).toBe(atStop.sent)
    expect(r.ok).toBe(r.sent)
    expect(up.finished).toBe(r.sent)
    // the client closed its idle sockets when it ended
    await expect.poll(() => up.open.size, { timeout: 2000 }).toBe(0)
  })

  it('settles every request in exactly one outcome: ok + non2xx + lost + reset + refused + timeout = sent', async () => {
    // by request number on the server: 500s, a socket destroyed under the request, a request never answered
    let n = 0
    const did = { non2xx: 0, cut: 0, hung: 0, ok: 0 }
    const up = await upstream((_req, res) => {
      const k = n++ % 6
      if (k === 1) {
        did.non2xx++
        res.statusCode = 500
        res.end('no')
      } else if (k === 3) {
        did.cut++
        res.socket?.destroy()
      } else if (k === 5) {
        did.hung++ // never answered: the client times out and closes the connection
      } else {
        did.ok++
        res.end('ok')
      }
    })
    // the timeout is long enough that only the never-answered requests reach it on a busy machine
    const g = start({ url: up.url, connections: 3, pace: { thinkMs: 0 }, timeoutMs: 1000, durationMs: 20_000, maxRequestsPerConnection: 12 })
    const r = await g.done
    expectBalanced(r)
    expect(r.sent).toBe(36)
    expect(r.ok).toBe(did.ok)
    expect(r.non2xx).toBe(did.non2xx)
    expect(r.byStatus['500']).toBe(did.non2xx)
    expect(r.timeout).toBe(did.hung)
    // a destroyed socket is refused (fresh socket, nothing received), reset or lost (reused)
    expect(r.lost + r.reset + r.refused).toBe(did.cut)
    expect(did.cut).toBeGreaterThan(0)
    // failures past the record cap are counted, not listed
    const failing = await upstream((_req, res) => {
      res.statusCode = 503
      res.end()
    })
    const capped = await start({ url: failing.url, connections: 1, pace: { thinkMs: 0 }, durationMs: 20_000, maxRequestsPerConnection: 6, maxFailureRecords: 2 }).done
    expectBalanced(capped)
    expect(capped.non2xx).toBe(6)
    expect(capped.failures).toHaveLength(2)
    expect(capped.failuresOmitted).toBe(4)

    // and a port nobody listens on: every request refused
    const dead = net.createServer()
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve))
    const port = (dead.address() as net.AddressInfo).port
    await new Promise<void>((resolve) => dead.close(() => resolve()))
    const refused = await start({ url: `http://127.0.0.1:${port}/`, connections: 2, pace: { thinkMs: 0 }, durationMs: 20_000, maxRequestsPerConnection: 5 }).done
    expectBalanced(refused)
    expect(refused.sent).toBe(10)
    expect(refused.refused).toBe(10)
  })

  it('takes each request from a pluggable source: method, path, headers and body per request', async () => {
    const up = await upstream((req, res) => res.end(req.headers['x-mix'] ?? ''))
    const g = start({
      url: up.url,
      connections: 2,
      pace: { rate: 400, burst: 2 },
      durationMs: 20_000,
      maxRequestsPerConnection: 5,
      request: ({ sequence }) => (sequence % 2 === 0
        ? { method: 'POST', path: '/items', headers: { 'content-type': 'application/json', 'x-mix': 'post' }, body: `{"n":${sequence}}` }
        : {}),
    })
    const r = await g.done
    expectBalanced(r)
    expect(r.ok).toBe(10)
    const posts = up.seen.filter((s) => s.method === 'POST')
    expect(posts).toHaveLength(5)
    expect(posts.every((p) => p.path === '/items' && /^\{"n":\d+\}$/.test(p.body))).toBe(true)
    // the default request: GET of the URL's path and query
    expect(up.seen.filter((s) => s.method === 'GET').every((s) => s.path === '/items?x=1')).toBe(true)
  })

  it('refuses a target off this machine before sending anything', () => {
    expect(() => startLoadGenerator({ url: 'http://192.0.2.10/', connections: 1, pace: { thinkMs: 0 }, durationMs: 100 })).toThrow(InvalidOptionError)
    expect(() => startLoadGenerator({ url: 'http://192.0.2.10/', connections: 1, pace: { thinkMs: 0 }, durationMs: 100 })).toThrow(/url: expected a loopback host .* instead got '192\.0\.2\.10'/)
    expect(() => startLoadGenerator({ url: 'http://127.0.0.1:1/', connections: 0, pace: { thinkMs: 0 }, durationMs: 100 })).toThrow(/connections: expected an integer >= 1, instead got 0$/)
  })
})
