import fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { afterEachCleanup, DEMO, expectNothingLeft, reports, revision } from './progressive-harness.js'
import { deploy, type DeployOptions, type Report } from '@zerodrop/fleet'

// The fleet under faults, through the library: the ledgers when nothing tells the truth about readiness.

async function run(from: string, to: string, options: Partial<DeployOptions>): Promise<Report> {
  const report = await deploy({
    from,
    to,
    replicas: 2,
    router: 'l4',
    endpointDelayMs: 500,
    terminationGracePeriodSeconds: 10,
    rolling: { maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: 30 },
    probes: { common: { periodMs: 200, timeoutMs: 1000 } },
    load: { rate: 150, connections: 10, reconnectRate: 5, leadMs: 1000, tailMs: 1000 },
    ...options,
  })
  reports.push(report)
  return report
}

afterEach(async (ctx) => {
  const failed = ctx.task.result?.state === 'fail'
  const r = reports.at(-1)
  await afterEachCleanup(failed)
  if (!failed && r) fs.rmSync(r.runDir, { recursive: true, force: true })
})

describe('the accounting identity', () => {
  it('probes disabled: instances join the pool before they listen; refused connections are their own ledger and count as drops', { timeout: 90_000 }, async () => {
    // v2 listens a second after it is spawned, but with no probe it is "ready" at once
    const r = await run(revision('', 'v1'), `sleep 1; ${revision('', 'v2')}`, {
      probes: { startup: { enabled: false }, readiness: { enabled: false }, liveness: { enabled: false } },
    })
    const a = r.accounting
    expect(a.refusedConnections, 'the test needs connections sent to an instance that did not listen yet').toBeGreaterThan(0)
    expect(a.ok + a.non2xx + a.lost + a.reset + a.refused + a.timeout + a.aborted + a.unaccounted).toBe(a.requests)
    for (const x of Object.values(a.byRevision)) expect(x.ok + x.non2xx + x.lost + x.reset + x.refused + x.timeout + x.aborted + x.unaccounted).toBe(x.requests)
    expect(a.dropped).toBeGreaterThanOrEqual(a.refusedConnections)
    expect(r.exitCode).toBe(1)
    await expectNothingLeft(r)
  })
})

describe('a release that cannot start fails fast, without waiting for the progress deadline', () => {
  const periodMs = 200
  const detectedMs = (r: Report): number => {
    const created = r.events.find((e) => e.revision === 'v2' && e.event === 'created')
    const noted = r.events.find((e) => e.revision === 'v2' && e.event === 'note' && e.detail?.startsWith('cannot start'))
    expect(created, 'a v2 instance was created').toBeDefined()
    expect(noted, `a v2 instance was reported as unable to start: ${JSON.stringify(r.events.filter((e) => e.revision === 'v2'))}`).toBeDefined()
    return noted!.t - created!.t
  }

  it('its startup probe fails its budget: rolled back (exit 2) within the budget + 2 periods + 5 s, with the log tail', { timeout: 90_000 }, async () => {
    const threshold = 10
    const r = await run(revision('', 'v1'), revision('STARTUP_MS=600000', 'v2'), {
      rolling: { maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: 600 },
      probes: { common: { periodMs, timeoutMs: 1000 }, startup: { failureThreshold: threshold } },
    })
    expect(r.verdict).toBe('rolled-back')
    expect(r.exitCode).toBe(2)
    expect(r.dropped).toBe(0)
    expect(r.reason).toMatch(new RegExp(`v2 cannot start: instance v2-0 .*startup probe failed ${threshold} times`))
    expect(r.reason).toMatch(/--- last lines of v2-0's log ---\n.*"msg"/s)
    expect(detectedMs(r)).toBeLessThanOrEqual(threshold * periodMs + 2 * periodMs + 5000)
    await expectNothingLeft(r)
  })

  it('it crash-loops after starting: rolled back (exit 2) after the third exit, with the log tail', { timeout: 90_000 }, async () => {
    const runsMs = 3000
    // started (its startup probe passes), never ready, exits 3 s later: a crash loop the first exit cannot tell from a slow start
    const v2 = `DRAIN_DELAY_MS=1500 APP_VERSION=v2 NEVER_READY=1 node ${DEMO} & sleep ${runsMs / 1000}; exit 3`
    const r = await run(revision('', 'v1'), v2, {
      rolling: { maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: 600 },
      probes: { common: { periodMs, timeoutMs: 1000 } },
    })
    expect(r.verdict).toBe('rolled-back')
    expect(r.exitCode).toBe(2)
    expect(r.dropped).toBe(0)
    expect(r.reason).toMatch(/v2 cannot start: instance v2-0 .*crash loop: exited 3 times without becoming ready \(last: code 3/)
    expect(r.reason).toMatch(/--- last lines of v2-0's log ---/)
    // three runs and two back-offs (250 + 500 ms), then the same margin as for the startup budget
    expect(detectedMs(r)).toBeLessThanOrEqual(3 * runsMs + 750 + 2 * periodMs + 5000)
    await expectNothingLeft(r)
  })
})

describe('the stop check: the new revision proven safe to stop, under load, after promotion', () => {
  const grace = { terminationGracePeriodSeconds: 4 }

  it('rolling, one replica: surge first, the good v2 drains with zero dropped (exit 0)', { timeout: 90_000 }, async () => {
    const r = await run(revision('', 'v1'), revision('', 'v2'), { replicas: 1, ...grace })
    const c = r.stopCheck
    console.log(`stop check (demo, rolling, 1 replica): ${c?.detail}`)
    expect(c?.verdict).toBe('safe')
    expect(c?.killed).toBe(false)
    expect(c?.code).toBe(0)
    expect(c?.exitedAfterMs).toBeGreaterThanOrEqual(500) // served through the endpoint lag
    expect(c?.during.requests).toBeGreaterThan(0)
    expect(c?.during.dropped).toBe(0)
    expect(r.dropped).toBe(0)
    expect(r.exitCode).toBe(0)
    await expectNothingLeft(r)
  })

  it('rolling: a v2 that ignores SIGTERM is promoted but not safe to stop (exit 4), SIGKILLed after the grace', { timeout: 90_000 }, async () => {
    const r = await run(revision('', 'v1'), revision('IGNORE_SIGTERM=1', 'v2'), grace)
    expect(r.verdict).toBe('promoted')
    expect(r.stopCheck?.verdict).toBe('ignored-sigterm')
    expect(r.stopCheck?.killed).toBe(true)
    expect(r.stopCheck?.exitedAfterMs).toBeGreaterThanOrEqual(4000)
    expect(r.reason).toMatch(/not safe to stop: v2-0 ignored SIGTERM/)
    // drops win: exit 1 if the SIGKILL cost requests, else 4
    expect(r.exitCode).toBe(r.dropped > 0 ? 1 : 4)
    await expectNothingLeft(r)
  })

  it('rolling: a naive v2 (exits at once on SIGTERM) is not safe to stop: exit 1 if it dropped, else 4', { timeout: 90_000 }, async () => {
    const r = await run(revision('', 'v1'), revision('NAIVE=1', 'v2'), grace)
    expect(r.verdict).toBe('promoted')
    expect(['exited-at-once', 'dropped']).toContain(r.stopCheck?.verdict)
    expect(r.stopCheck?.exitedAfterMs).toBeLessThan(500)
    expect(r.exitCode).toBe(r.dropped > 0 ? 1 : 4)
    await expectNothingLeft(r)
  })

  it.each([
    ['blue-green', { strategy: 'blue-green', blueGreen: { scaleDownDelaySeconds: 0, prePromotionAnalysis: false, postPromotionAnalysis: false } }],
    ['canary', { strategy: 'canary', router: 'l7', canary: { steps: [{ setWeight: 50 }] } }],
  ] as const)('%s: a green/canary instance that ignores SIGTERM fails the deploy with exit 4 (or 1 if it dropped)', { timeout: 90_000 }, async (_name, options) => {
    const r = await run(revision('', 'v1'), revision('IGNORE_SIGTERM=1', 'v2'), { ...grace, ...(options as Partial<DeployOptions>) })
    expect(r.verdict).toBe('promoted')
    expect(r.stopCheck?.verdict).toBe('ignored-sigterm')
    expect(r.exitCode).toBe(r.dropped > 0 ? 1 : 4)
    await expectNothingLeft(r)
  })
})
