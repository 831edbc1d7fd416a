import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { DEMO } from '../helpers/process.js'
import { Instance, groupAlive, killAllInstancesSync, liveProcessGroups } from '#fleet/runtime/instance.js'
import { resolveDeployOptions, resolveFenceposts, type ProbesOptions } from '#fleet/options/deploy.js'
import { freePort } from '#fleet/core/ports.js'
import { InvalidOptionError } from '#fleet/core/errors.js'

// The process runtime on its own: real children, real signals, real probes.

const instances: Instance[] = []
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-instance-test-'))

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

afterEach(async () => {
  await Promise.all(instances.map((i) => i.kill()))
  instances.length = 0
  killAllInstancesSync()
  expect(liveProcessGroups()).toEqual([])
})

interface Seen {
  readiness: Array<{ ready: boolean; at: number }>
  notes: string[]
  crashes: number
}

async function start(command: string, probes: ProbesOptions = {}, graceMs = 10_000): Promise<{ instance: Instance; seen: Seen; spawnedAt: number }> {
  const o = resolveDeployOptions({ from: command, to: 'unused', probes: { common: { periodMs: 100 }, ...probes } })
  const seen: Seen = { readiness: [], notes: [], crashes: 0 }
  const port = await freePort()
  const instance = new Instance({
    id: `t-${instances.length}`,
    revision: o.from,
    host: '127.0.0.1',
    port,
    probes: o.probes,
    terminationGracePeriodMs: graceMs,
    logFile: path.join(dir, `t-${instances.length}.log`),
    events: {
      onReadiness: (_i, ready) => seen.readiness.push({ ready, at: Date.now() }),
      onCrash: () => seen.crashes++,
      onSpawnError: (_i, err) => seen.notes.push(`spawn error ${err.message}`),
      onEvent: (_i, message) => seen.notes.push(message),
      onCannotStart: (_i, reason) => seen.notes.push(`cannot start: ${reason}`),
    },
  })
  instances.push(instance)
  const spawnedAt = Date.now()
  instance.start()
  return { instance, seen, spawnedAt }
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('process instance', () => {
  it('SIGTERM reaches a service behind a shell that does not exec; termination waits for its drain', { timeout: 30_000 }, async () => {
    // two commands: dash forks node instead of exec-ing it, and would not forward SIGTERM
    const { instance } = await start(`APP_VERSION=v1 DRAIN_DELAY_MS=1000 SHUTDOWN_TIMEOUT_MS=3000 node ${DEMO}; echo after`)
    await until(() => instance.ready, 15_000, 'ready')
    const pgid = instance.pid
    expect(pgid).toBeDefined()
    const result = await instance.terminate()
    expect(result.killed).toBe(false)
    // the drain delay ran in the node grandchild, so the group lived at least that long
    expect(result.durationMs).toBeGreaterThanOrEqual(900)
    expect(groupAlive(pgid ?? -1)).toBe(false)
    expect(fs.readFileSync(instance.logFile, 'utf8')).not.toContain('after\n')
  })

  it('a service that ignores SIGTERM is SIGKILLed after the grace period', { timeout: 30_000 }, async () => {
    const { instance } = await start(`IGNORE_SIGTERM=1 exec node ${DEMO}`, {}, 1500)
    await until(() => instance.ready, 15_000, 'ready')
    const result = await instance.terminate()
    expect(result.killed).toBe(true)
    expect(result.durationMs).toBeGreaterThanOrEqual(1400)
    expect(result.durationMs).toBeLessThan(8000)
    expect(groupAlive(instance.pid ?? -1)).toBe(false)
  })

  it('the startup probe holds readiness back until the service has started', { timeout: 30_000 }, async () => {
    const { instance, seen, spawnedAt } = await start(`STARTUP_MS=1200 exec node ${DEMO}`)
    await until(() => instance.ready, 15_000, 'ready')
    expect(seen.readiness[0]?.ready).toBe(true)
    expect((seen.readiness[0]?.at ?? 0) - spawnedAt).toBeGreaterThanOrEqual(1200)
  })

  it('liveness failures restart the instance (a new process on the same port)', { timeout: 30_000 }, async () => {
    const { instance, seen } = await start(`exec node ${DEMO}`, { liveness: { path: '/no-such-probe', failureThreshold: 2 } })
    await until(() => instance.restarts >= 1, 15_000, 'a restart')
    expect(seen.notes.some((n) => /liveness probe failed 2 times \(last: 404\); restarting/.test(n))).toBe(true)
    await until(() => instance.pids.length >= 2, 10_000, 'a second process')
    expect(instance.pids[1]).not.toBe(instance.pids[0])
    expect(groupAlive(instance.pids[0] ?? -1)).toBe(false)
  })

  it('a crash is restarted with back-off', { timeout: 30_000 }, async () => {
    const { instance, seen } = await start('sleep 0.3; exit 1')
    await until(() => instance.restarts >= 2, 10_000, 'two restarts')
    expect(seen.crashes).toBeGreaterThanOrEqual(2)
    expect(seen.notes.some((n) => /restarting in 500 ms/.test(n))).toBe(true)
  })
})

describe('rolling fenceposts (Deployment controller rules)', () => {
  it.each([
    ['25%', '25%', 3, 1, 0],
    ['25%', '25%', 4, 1, 1],
    ['50%', '50%', 3, 2, 1],
    [1, 0, 3, 1, 0],
    [0, 1, 3, 0, 1],
    ['10%', '10%', 3, 1, 0],
    [0, '10%', 3, 0, 1],
    ['100%', '0%', 3, 3, 0],
  ] as const)('maxSurge %s, maxUnavailable %s, replicas %i → %i / %i', (surge, unavailable, replicas, s, u) => {
    expect(resolveFenceposts(surge, unavailable, replicas)).toEqual({ maxSurge: s, maxUnavailable: u })
  })

  it('both zero is an error', () => {
    expect(() => resolveFenceposts(0, '0%', 3)).toThrow(InvalidOptionError)
  })

  it('options are validated once, with the option named', () => {
    expect(() => resolveDeployOptions({ from: 'a', to: 'b', rolling: { maxSurge: '150%' } })).toThrow(/rolling.maxSurge: expected a percentage between 0% and 100%/)
    expect(() => resolveDeployOptions({ from: 'a', to: 'b', probes: { liveness: { successThreshold: 2 } } })).toThrow(/probes.liveness.successThreshold: expected 1/)
    expect(() => resolveDeployOptions({ from: 'a', to: 'b', rolling: { minReadySeconds: 5, progressDeadlineSeconds: 5 } })).toThrow(/progressDeadlineSeconds: expected more than minReadySeconds/)
    expect(() => resolveDeployOptions({ from: 'a', to: ' ' })).toThrow(/to: expected a non-empty command line/)
  })
})
