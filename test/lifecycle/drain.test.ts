import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { DEMO, killAll, sleep, startFixture } from '../helpers/process.js'
import { answeredAfter, drainUnderLoad } from '../helpers/drain.js'

const HTTP_FIXTURE = fileURLToPath(new URL('./fixtures/http-server.mjs', import.meta.url))
const DRAIN_DELAY_MS = 1500

const adapters = [
  { name: 'fastify', script: DEMO, env: { FRAMEWORK: 'fastify' } },
  { name: 'express', script: DEMO, env: { FRAMEWORK: 'express' } },
  { name: 'node:http', script: HTTP_FIXTURE, env: {} },
] as const

afterEach(killAll)

describe.each(adapters)('drain contract: $name', ({ script, env }) => {
  it('SIGTERM under keep-alive load: nothing lost, no 5xx, Connection: close during the delay, exit 0 after the delay', async () => {
    const run = await drainUnderLoad(script, { ...env, DRAIN_DELAY_MS: String(DRAIN_DELAY_MS) })
    const { load } = run
    expect(load.sent).toBe(load.ok + load.non2xx + load.lost + load.refused + load.timeout)
    expect(load.lost, JSON.stringify({ sigAt: run.sigAt, lost: load.records.filter((r) => r.outcome === 'lost').slice(0, 5) })).toBe(0)
    expect(load.non2xx).toBe(0)
    expect(load.timeout).toBe(0)
    expect(run.exit.code).toBe(0)
    // The signal reaches the server asynchronously; the first `Connection: close` marks when
    // the drain began there. Not before SIGTERM; from then on, every answer carries it, and the
    // server kept serving through the delay.
    const firstClose = Math.min(...load.records.filter((r) => r.connectionClose).map((r) => r.end))
    expect(firstClose).toBeGreaterThanOrEqual(run.sigAt)
    expect(firstClose).toBeLessThan(run.sigAt + DRAIN_DELAY_MS)
    const during = answeredAfter(load, firstClose)
    expect(during.length).toBeGreaterThan(20)
    expect(during.filter((r) => !r.connectionClose)).toEqual([])
    expect(load.records.filter((r) => r.end < run.sigAt && r.connectionClose)).toEqual([])
    console.log(`drain figures: sent=${load.sent} ok=${load.ok} lost=${load.lost} non2xx=${load.non2xx} refused-after-close=${load.refused} served-during-drain=${during.length} sigterm-to-exit=${Math.round(run.sigToExitMs)}ms (drain delay ${DRAIN_DELAY_MS}ms)`)
    // it waited out the delay, then exited promptly (idle keep-alive sockets did not hold it)
    expect(run.sigToExitMs).toBeGreaterThanOrEqual(DRAIN_DELAY_MS)
    expect(run.sigToExitMs).toBeLessThan(DRAIN_DELAY_MS + 2500)
  })

  it('a 2 s request started before SIGTERM completes with 200, and the process exits only after it', async () => {
    const f = await startFixture(script, { ...env, DRAIN_DELAY_MS: '300' })
    const started = performance.now()
    const slow = fetch(`${f.url}/slow?ms=2000`).then(async (r) => ({ status: r.status, at: performance.now(), body: await r.text() }))
    await sleep(200)
    f.signal('SIGTERM')
    const [res, exit] = await Promise.all([slow, f.exited])
    expect(res.status).toBe(200)
    expect(res.at - started).toBeGreaterThanOrEqual(1900)
    expect(exit.code).toBe(0)
    expect(exit.at).toBeGreaterThanOrEqual(res.at - 5)
    expect(exit.at - res.at).toBeLessThan(1500)
  })

  it('probes through the whole life: ready 200, draining readiness 503 while liveness stays 200', async () => {
    const f = await startFixture(script, { ...env, DRAIN_DELAY_MS: '1500' })
    const get = async (p: string): Promise<number> => (await fetch(`${f.url}${p}`)).status
    expect(await get('/startupz')).toBe(200)
    expect(await get('/livez')).toBe(200)
    expect(await get('/readyz')).toBe(200)
    f.signal('SIGTERM')
    await sleep(150)
    expect(await get('/readyz')).toBe(503)
    expect(await get('/livez')).toBe(200)
    expect(await get('/startupz')).toBe(200)
    const verbose = await (await fetch(`${f.url}/readyz?verbose`)).json()
    expect(verbose).toMatchObject({ probe: 'readiness', ok: false, state: 'draining' })
    expect((await f.exited).code).toBe(0)
  })

  it('a hung request is cut at the shutdown timeout and the exit code is 1', async () => {
    const f = await startFixture(script, { ...env, DRAIN_DELAY_MS: '200', SHUTDOWN_TIMEOUT_MS: '800' })
    const hung = fetch(`${f.url}/slow?ms=30000`).then(
      (r) => `status ${r.status}`,
      (e: Error) => `error ${(e.cause as { code?: string } | undefined)?.code ?? e.message}`,
    )
    await sleep(150)
    const sig = f.signal('SIGTERM')
    const exit = await f.exited
    expect(exit.code).toBe(1)
    // cut at delay + timeout − the part of the timeout kept for the shutdown hooks
    // (a quarter of it here: 200 + 800 − 200), then the hooks ran
    expect(exit.at - sig).toBeGreaterThanOrEqual(800)
    expect(exit.at - sig).toBeLessThan(3000)
    expect(await hung).toMatch(/^error/)
    expect(f.output()).toMatch(/shutdown timeout reached/)
    expect(f.output()).toMatch(/"unfinishedRequests":1/)
  })

  it('an SSE stream ends when lifecycle.signal aborts, and the process exits 0', async () => {
    const f = await startFixture(script, { ...env, DRAIN_DELAY_MS: '500' })
    const res = await fetch(`${f.url}/events`)
    expect(res.status).toBe(200)
    const text = res.text()
    await sleep(300)
    f.signal('SIGTERM')
    expect(await text).toMatch(/event: bye/)
    expect((await f.exited).code).toBe(0)
  })
})

describe('negative controls in the same harness: each must lose requests', () => {
  it('a server that exits at once on SIGTERM loses requests', async () => {
    const run = await drainUnderLoad(DEMO, { NAIVE: '1' })
    expect(run.load.lost).toBeGreaterThan(0)
  })

  it('a stoppable-style server (waits, then ends each socket after its response without Connection: close) loses requests', async () => {
    const run = await drainUnderLoad(DEMO, { NAIVE: 'stoppable', DRAIN_DELAY_MS: String(DRAIN_DELAY_MS) })
    // it did serve through its delay, so what it loses comes from how it closes sockets
    expect(run.load.records.filter((r) => r.connectionClose).length).toBe(0)
    expect(run.load.lost).toBeGreaterThan(0)
  })
})
