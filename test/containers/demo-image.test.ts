import { afterEach, expect, it } from 'vitest'
import { startExactLoad, type ExactLoadResult } from '@zerodrop/fleet'
import { freePort, sleep } from '../helpers/process.js'
import {
  describeWithDocker,
  docker,
  exitOf,
  figure,
  get,
  IMAGES,
  imageSizeMb,
  removeAll,
  startDemoContainer,
  type ContainerExit,
  type DemoContainerOptions,
} from './docker.js'

// Issue 6: the demo image under exact keep-alive load, `container.stop()` mid-load (docker stop:
// SIGTERM, then SIGKILL after the grace period). Node is PID 1 and the entry point, so the
// lifecycle library drains; the negative controls run the same image through `npm start` and a
// shell wrapper, the two classic ways a container swallows SIGTERM.

/** docker stop's grace period (`-t`); testcontainers' own default is 0, an immediate SIGKILL. */
const GRACE_MS = 10_000
const DRAIN_DELAY_MS = 1000

interface StopRun {
  readonly load: ExactLoadResult
  readonly slow: { status: number; error?: string }
  readonly exit: ContainerExit
  readonly stopToExitMs: number
  readonly startToReadyMs: number
  readonly rootPid: number | undefined
}

/** `slowMs`: the request in flight when SIGTERM arrives (2 s: ends inside the grace period). */
async function stopUnderLoad(o: Omit<DemoContainerOptions, 'port'>, slowMs = 2000): Promise<StopRun> {
  const port = await freePort()
  const demo = await startDemoContainer({
    ...o,
    port,
    env: { DRAIN_DELAY_MS: String(DRAIN_DELAY_MS), SHUTDOWN_TIMEOUT_MS: '8000', ...o.env },
  })
  const first = await get(port, '/')
  const rootPid = first.status === 200 ? (JSON.parse(first.body) as { pid?: number }).pid : undefined
  const load = startExactLoad({
    url: `http://127.0.0.1:${port}/`,
    saturating: 4,
    paced: 6,
    pacedIntervalMs: 40,
    durationMs: 45_000,
    timeoutMs: 15_000,
  })
  await sleep(1000)
  // a request in flight when SIGTERM arrives, on its own connection
  const slow = get(port, `/slow?ms=${slowMs}`)
  await sleep(250)
  const t = performance.now()
  await demo.container.stop({ timeout: GRACE_MS, remove: false })
  const stopToExitMs = Math.round(performance.now() - t)
  const slowResult = await slow
  const result = await load.stop()
  const exit = await exitOf(demo.id)
  return { load: result, slow: slowResult, exit, stopToExitMs, startToReadyMs: demo.startToReadyMs, rootPid }
}

function counts(r: ExactLoadResult) {
  return { sent: r.sent, ok: r.ok, non2xx: r.non2xx, lost: r.lost, refused: r.refused, timeout: r.timeout, connectionClose: r.connectionClose }
}

describeWithDocker('demo image: SIGTERM drain with node as PID 1 (testcontainers, host network)', () => {
  afterEach(removeAll)

  it('drains under keep-alive load: nothing sent is lost, the 2 s in-flight request completes, exit 0 within the grace period', async () => {
    const run = await stopUnderLoad({ image: IMAGES.v1 })
    figure({
      variant: 'node as PID 1 (image entry point)',
      image: IMAGES.v1,
      imageSizeMb: await imageSizeMb(IMAGES.v1),
      startToReadyMs: run.startToReadyMs,
      stopToExitMs: run.stopToExitMs,
      exitCode: run.exit.exitCode,
      slow: run.slow.status,
      ...counts(run.load),
    })
    const ctx = `\n${JSON.stringify(counts(run.load))}\n${run.exit.logs}`
    expect(run.rootPid, 'node should be PID 1 in the container').toBe(1)
    expect(run.exit.exitCode, `exit code${ctx}`).toBe(0)
    expect(run.stopToExitMs).toBeLessThan(GRACE_MS - 1000)
    // it drained: the drain delay and the slow request both had to pass before the exit
    expect(run.stopToExitMs).toBeGreaterThanOrEqual(DRAIN_DELAY_MS)
    expect(run.slow, 'the 2 s request in flight at SIGTERM').toEqual(expect.objectContaining({ status: 200 }))
    expect(run.load.ok, `ok${ctx}`).toBeGreaterThan(50)
    expect(run.load.lost, `lost (sent, no full response)${ctx}`).toBe(0)
    expect(run.load.timeout, `timeout${ctx}`).toBe(0)
    expect(run.load.non2xx, `non-2xx${ctx}`).toBe(0)
    // keep-alive clients were told to go away during the drain delay
    expect(run.load.connectionClose, `responses with connection: close${ctx}`).toBeGreaterThan(0)
    // `refused` = connections opened after the listener closed: nothing was sent on them
    // (a load balancer would have removed the container by then; the fleet tests cover that part).
  })

  it('negative control: the same image through `npm start` does not drain (npm is PID 1, the wrapper dies, node is killed)', async () => {
    const run = await stopUnderLoad({ image: IMAGES.v1, entrypoint: ['npm'], command: ['start'], workdir: '/app/demo' })
    figure({ variant: 'npm start', stopToExitMs: run.stopToExitMs, exitCode: run.exit.exitCode, slow: run.slow.status || run.slow.error, ...counts(run.load) })
    const ctx = `\n${JSON.stringify(counts(run.load))}\n${run.exit.logs}`
    expect(run.rootPid, 'node is not PID 1 under npm').not.toBe(1)
    expect(run.exit.exitCode, `exit code${ctx}`).not.toBe(0)
    expect(run.slow.status, 'the 2 s request in flight at SIGTERM is lost').not.toBe(200)
    expect(run.load.lost + run.load.timeout, `requests sent and never answered${ctx}`).toBeGreaterThan(0)
  })

  it('negative control: the same image through a shell wrapper ignores SIGTERM and is SIGKILLed (137) after the grace period, mid-request', async () => {
    const run = await stopUnderLoad({
      image: IMAGES.v1,
      entrypoint: ['sh', '-c'],
      command: ['node demo/dist/server.js; echo "node exited with $?"'],
    }, GRACE_MS + 5000)
    figure({ variant: 'sh -c wrapper', stopToExitMs: run.stopToExitMs, exitCode: run.exit.exitCode, slow: run.slow.status || run.slow.error, ...counts(run.load) })
    const ctx = `\n${JSON.stringify(counts(run.load))}\n${run.exit.logs}`
    expect(run.rootPid, 'node is not PID 1 under sh -c').not.toBe(1)
    expect(run.exit.exitCode, `exit code${ctx}`).toBe(137)
    expect(run.stopToExitMs, 'docker stop waited for the whole grace period').toBeGreaterThanOrEqual(GRACE_MS - 500)
    expect(run.exit.logs).not.toContain('draining')
    expect(run.slow.status, 'the request still running when SIGKILL came is lost').not.toBe(200)
    expect(run.load.lost + run.load.timeout, `requests sent and never answered${ctx}`).toBeGreaterThan(0)
  })

  it('PID 1 ignores a signal it has no handler for: node without a SIGTERM handler as PID 1 is SIGKILLed (137) after the grace period', async () => {
    // What the lifecycle library's own handler avoids: in a PID namespace the kernel applies no
    // default action to PID 1, so a plain server (no handler) never sees SIGTERM's "terminate".
    const port = await freePort()
    const demo = await startDemoContainer({
      image: IMAGES.v1,
      port,
      entrypoint: ['node', '-e'],
      command: ["require('node:http').createServer((q, s) => s.end('ok')).listen(process.env.PORT, process.env.HOST)"],
    })
    const t = performance.now()
    await demo.container.stop({ timeout: 3000, remove: false })
    const stopToExitMs = Math.round(performance.now() - t)
    const exit = await exitOf(demo.id)
    figure({ variant: 'node PID 1 without SIGTERM handler', stopToExitMs, exitCode: exit.exitCode })
    expect(exit.exitCode).toBe(137)
    expect(stopToExitMs).toBeGreaterThanOrEqual(2500)
  })

  it('HEALTHCHECK (readiness, done with node) turns the container healthy; it runs as the non-root user', async () => {
    const port = await freePort()
    const demo = await startDemoContainer({ image: IMAGES.v2, port })
    const t0 = performance.now()
    let health = ''
    while (performance.now() - t0 < 20_000) {
      health = await docker(['inspect', '-f', '{{.State.Health.Status}}', demo.id])
      if (health === 'healthy') break
      await sleep(200)
    }
    figure({ variant: 'healthcheck', readyToHealthyMs: Math.round(performance.now() - t0), health })
    expect(health).toBe('healthy')
    expect(await docker(['inspect', '-f', '{{.Config.User}}', demo.id])).toBe('node')
    const res = await get(port, '/')
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toEqual(expect.objectContaining({ version: 'v2' }))
  })
})
