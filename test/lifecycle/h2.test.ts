import http2 from 'node:http2'
import https from 'node:https'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { killAll, sleep, startFixture } from '../helpers/process.js'
import { makeTestCert, type TestCert } from '../helpers/tls.js'

// HTTP/2 drain: the first GOAWAY carries the maximum stream id (nothing refused), the final one
// the real last stream id when the delay ends; an HTTP/2 server with allowHTTP1 drains both kinds.
const HTTP_FIXTURE = fileURLToPath(new URL('./fixtures/http-server.mjs', import.meta.url))
const LISTENING = /"msg":"listening"/
const REFUSED = http2.constants.NGHTTP2_REFUSED_STREAM
let cert: TestCert

beforeAll(async () => {
  cert = await makeTestCert()
})
afterAll(() => cert.remove())
afterEach(killAll)

type Outcome = { kind: 'ok' } | { kind: 'refused' } | { kind: 'lost'; detail: string }

/** One GET on `session`: answered in full, refused (REFUSED_STREAM: never processed), or lost. */
function get(session: http2.ClientHttp2Session, path: string): Promise<Outcome> {
  return new Promise((resolve) => {
    let stream: http2.ClientHttp2Stream
    try {
      stream = session.request({ ':path': path })
    } catch (e) {
      resolve({ kind: 'lost', detail: `request() threw ${(e as NodeJS.ErrnoException).code}` })
      return
    }
    let status = 0
    let ended = false
    stream.on('response', (h) => (status = Number(h[':status'])))
    stream.on('data', () => {})
    stream.on('end', () => (ended = true))
    stream.on('error', () => {})
    stream.on('close', () => {
      if (ended && status === 200) resolve({ kind: 'ok' })
      else if (stream.rstCode === REFUSED) resolve({ kind: 'refused' })
      else resolve({ kind: 'lost', detail: `status ${status}, rst ${stream.rstCode}, ended ${ended}` })
    })
  })
}

function connect(url: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, { rejectUnauthorized: false })
    session.once('connect', () => resolve(session))
    session.once('error', reject)
  })
}

const count = (outcomes: Outcome[]) => ({
  ok: outcomes.filter((o) => o.kind === 'ok').length,
  refused: outcomes.filter((o) => o.kind === 'refused').length,
  lost: outcomes.filter((o) => o.kind === 'lost').length,
})

const variants = [
  { name: 'secure', env: (): Record<string, string> => ({ ...cert.env, HTTP2: '1' }), scheme: 'https' },
  { name: 'cleartext', env: (): Record<string, string> => ({ H2C: '1' }), scheme: 'http' },
] as const

describe.each(variants)('HTTP/2 ($name)', ({ name, env, scheme }) => {
  /** 100 streams written at once; the server starts draining when the 60th arrives. */
  const burst = async (extra: Record<string, string>) => {
    const f = await startFixture(HTTP_FIXTURE, { ...env(), DRAIN_DELAY_MS: '600', DRAIN_AT_REQUEST: '60', ...extra }, LISTENING)
    const session = await connect(`${scheme}://127.0.0.1:${f.port}`)
    session.on('error', () => {})
    const outcomes = await Promise.all(Array.from({ length: 100 }, () => get(session, '/slow?ms=300')))
    const exit = await f.exited
    session.destroy()
    return { ...count(outcomes), exit: exit.code, lostDetail: outcomes.filter((o) => o.kind === 'lost').slice(0, 3) }
  }

  it('a burst already on the wire when the drain starts is answered in full; one close() GOAWAY refuses part of it; destroy() loses accepted streams', async () => {
    const ours = await burst({})
    const oneGoaway = await burst({ NAIVE_H2: 'close' })
    const destroyed = await burst({ NAIVE_H2: 'destroy' })
    console.log(`h2 ${name} burst figures: 100 streams, drain at the 60th: two-phase GOAWAY ok=${ours.ok} refused=${ours.refused} lost=${ours.lost}; ` +
      `one session.close() ok=${oneGoaway.ok} refused=${oneGoaway.refused} lost=${oneGoaway.lost}; session.destroy() ok=${destroyed.ok} refused=${destroyed.refused} lost=${destroyed.lost}`)
    expect(ours, JSON.stringify(ours.lostDetail)).toMatchObject({ ok: 100, refused: 0, lost: 0, exit: 0 })
    // negative controls, same harness: the old single GOAWAY refuses streams already sent, destroy() cuts accepted ones
    expect(oneGoaway.refused).toBeGreaterThan(0)
    expect(oneGoaway.lost).toBe(0)
    expect(destroyed.lost).toBeGreaterThan(0)
  })
})

describe.each(variants)('HTTP/2 ($name): a session opened during the delay', ({ env, scheme }) => {
  it('has its streams answered, not held unprocessed until the final GOAWAY refuses them', async () => {
    const f = await startFixture(HTTP_FIXTURE, { ...env(), DRAIN_DELAY_MS: '1500' }, LISTENING)
    const before = await connect(`${scheme}://127.0.0.1:${f.port}`)
    before.on('error', () => {})
    expect(await get(before, '/')).toEqual({ kind: 'ok' }) // the server has this session
    const announced = new Promise((resolve) => before.once('goaway', resolve))
    f.signal('SIGTERM')
    await announced // the drain has started
    const during = await connect(`${scheme}://127.0.0.1:${f.port}`)
    during.on('error', () => {})
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => get(during, '/slow?ms=50')))
    // a GOAWAY sent before the session's first stream arrived made nghttp2 hold every stream of it
    // for the rest of the delay, then refuse them all
    expect(count(outcomes)).toEqual({ ok: 5, refused: 0, lost: 0 })
    expect((await f.exited).code).toBe(0)
    before.destroy()
    during.destroy()
  })
})

describe('HTTP/2 under continuous load (secure)', () => {
  /**
   * 50 concurrent streams from Node's http2 client to A until A has exited. A session that got a
   * GOAWAY is replaced by a new one to A while A still accepts, else to B (the other instance).
   * A refused stream is retried once on B, as browsers, Envoy and gRPC do (RFC 9113 §8.7).
   */
  const run = async (extra: Record<string, string>) => {
    const a = await startFixture(HTTP_FIXTURE, { ...cert.env, HTTP2: '1', DRAIN_DELAY_MS: '800', ...extra }, LISTENING)
    const b = await startFixture(HTTP_FIXTURE, { ...cert.env, HTTP2: '1' }, LISTENING)
    const bSession = await connect(`https://127.0.0.1:${b.port}`)
    bSession.on('error', () => {})
    let current: Promise<http2.ClientHttp2Session> | undefined
    const sessionToA = (): Promise<http2.ClientHttp2Session> => {
      current ??= connect(`https://127.0.0.1:${a.port}`).then((s) => {
        s.on('error', () => {})
        s.once('goaway', () => { current = undefined })
        s.once('close', () => { current = undefined })
        return s
      }, () => bSession)
      return current
    }
    let aExited = false
    let sig = 0
    const outcomes: Outcome[] = []
    let retriedOk = 0
    let retryLost = 0
    const deadline = performance.now() + 20_000
    const loop = async (): Promise<void> => {
      while (!aExited && performance.now() < deadline) {
        const s = await sessionToA()
        if (s === bSession) return
        if (s.closed || s.destroyed) { if (current !== undefined && (await current) === s) current = undefined; continue }
        const o = await get(s, '/slow?ms=20')
        if (o.kind === 'lost' && o.detail.startsWith('request() threw')) continue // the session was going away: nothing was sent
        outcomes.push(o)
        if (o.kind === 'refused') {
          const retry = await get(bSession, '/slow?ms=20')
          if (retry.kind === 'ok') retriedOk++
          else retryLost++
        }
      }
    }
    const loops = Array.from({ length: 50 }, loop)
    await sleep(700)
    sig = a.signal('SIGTERM')
    const exit = await a.exited
    aExited = true
    await Promise.all(loops)
    bSession.destroy()
    await b.kill()
    const c = count(outcomes)
    // the server's own count: /slow requests its handler took and could not answer
    const served = [...a.output().matchAll(/\{"msg":"slow streams","handled":\d+,"unanswered":(\d+)\}/g)].at(-1)
    const unanswered = served === undefined ? Number.NaN : Number(served[1])
    return { ...c, unanswered, streams: outcomes.length, retriedOk, retryLost, exit: exit.code, sigToExitMs: Math.round(exit.at - sig), lostDetail: outcomes.filter((o) => o.kind === 'lost').slice(0, 3) }
  }

  it('every accepted stream is answered, every failure is REFUSED_STREAM, a retrying client loses nothing; destroy() loses accepted streams', async () => {
    const ours = await run({})
    const oneGoaway = await run({ NAIVE_H2: 'close' })
    const destroyed = await run({ NAIVE_H2: 'destroy' })
    for (const [label, r] of [['two-phase GOAWAY', ours], ['one session.close()', oneGoaway], ['session.destroy()', destroyed]] as const) {
      console.log(`h2 load figures (${label}): 50 concurrent, ${r.streams} streams to the drained instance: ok=${r.ok} refused=${r.refused} (retried on the other instance: ${r.retriedOk} ok, ${r.retryLost} lost) lost=${r.lost} accepted-unanswered=${r.unanswered} exit=${r.exit} sigterm-to-exit=${r.sigToExitMs}ms`)
    }
    expect(ours.lost, JSON.stringify(ours.lostDetail)).toBe(0)
    expect(ours.retryLost).toBe(0)
    expect(ours.retriedOk).toBe(ours.refused)
    expect(ours.exit).toBe(0)
    expect(ours.ok).toBeGreaterThan(100)
    expect(ours.unanswered).toBe(0)
    // destroy() cuts streams its handler took. The client sees them lost or — when the GOAWAY names
    // a last stream id below them — "refused", a retry of a request that already ran (0 lost and
    // 147 refused in one CI run beside a benchmark); the server's own count tells.
    expect(destroyed.unanswered).toBeGreaterThan(0)
  })
})

describe('HTTP/2 with allowHTTP1: h2 and HTTP/1.1 on one TLS port', () => {
  it('both kinds are drained by their own rules: HTTP/1.1 answers say Connection: close during the delay, h2 streams finish, nothing lost, exit 0', async () => {
    const f = await startFixture(HTTP_FIXTURE, { ...cert.env, HTTP2: '1', ALLOW_HTTP1: '1', DRAIN_DELAY_MS: '800' }, LISTENING)
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false })
    const h1 = (): Promise<{ status: number | string; close: boolean }> => new Promise((resolve) => {
      https.get(`https://127.0.0.1:${f.port}/`, { agent }, (res) => {
        res.resume()
        res.on('end', () => resolve({ status: res.statusCode ?? 0, close: res.headers.connection === 'close' }))
      }).on('error', (e: NodeJS.ErrnoException) => resolve({ status: e.code ?? e.message, close: false }))
    })
    const session = await connect(`https://127.0.0.1:${f.port}`)
    session.on('error', () => {})
    expect(await h1()).toEqual({ status: 200, close: false })
    const slowH2 = get(session, '/slow?ms=1200')
    await sleep(150) // on the server before the drain starts
    const sig = f.signal('SIGTERM')
    await sleep(150)
    const during = []
    for (let i = 0; i < 4; i++) during.push(await h1())
    // every HTTP/1.1 answer during the delay moves the client away; each on its own new connection
    expect(during).toEqual(Array(4).fill({ status: 200, close: true }))
    expect(await slowH2).toEqual({ kind: 'ok' })
    const exit = await f.exited
    expect(exit.code).toBe(0)
    expect(f.output()).toMatch(/"destroyedConnections":0/)
    // the HTTP/1.1 keep-alive socket did not hold the exit to a timeout
    expect(exit.at - sig).toBeLessThan(800 + 2500)
    agent.destroy()
    session.destroy()
  })
})
