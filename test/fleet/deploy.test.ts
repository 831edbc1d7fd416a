import { afterEach, describe, expect, it } from 'vitest'
import { DEMO } from '../helpers/process.js'
import { deployHarness } from './deploy-harness.js'
import { expectNothingLeft } from './progressive-harness.js'
import { type DeployOptions, type Report } from '@zerodrop/fleet'

// End-to-end: the demo service (demo/dist/server.js, built by `npm test`) rolled v1 → v2 on a
// real fleet — real processes, real router, real paced keep-alive load — and counted request by request.

const harness = deployHarness()
afterEach(harness.cleanup)

function revision(env: string, version: string): string {
  return `DRAIN_DELAY_MS=1500 SHUTDOWN_TIMEOUT_MS=5000 APP_VERSION=${version} ${env} exec node ${DEMO}`
}

function run(env: { from?: string; to?: string; both?: string }, options: Partial<DeployOptions> = {}): Promise<Report> {
  const both = env.both ?? ''
  return harness.run({
    from: revision(`${both} ${env.from ?? ''}`, 'v1'),
    to: revision(`${both} ${env.to ?? ''}`, 'v2'),
    replicas: 3,
    router: 'l4',
    endpointDelayMs: 1000,
    terminationGracePeriodSeconds: 15,
    rolling: { maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: 30 },
    probes: { common: { periodMs: 200, timeoutMs: 1000 } },
    load: { leadMs: 1000, tailMs: 1000 },
    ...options,
  })
}

describe('rolling deploy of the demo under load', () => {
  it('l4: promoted, zero dropped, both revisions served', { timeout: 120_000 }, async () => {
    const r = await run({})
    expect(r.verdict).toBe('promoted')
    expect(r.dropped).toBe(0)
    expect(r.exitCode).toBe(0)
    expect(r.accounting.byRevision.v1?.ok).toBeGreaterThan(50)
    expect(r.accounting.byRevision.v2?.ok).toBeGreaterThan(50)
    expect(r.bothRevisionsServed).toBe(true)
    // the accounting balances: every request the router forwarded settled one way or another
    const a = r.accounting
    expect(a.ok + a.non2xx + a.lost + a.reset + a.refused + a.timeout + a.aborted + a.unaccounted).toBe(a.requests)
    expect(a.aborted).toBe(0)
    expect(a.crossCheck?.consistent).toBe(true)
    expect(a.crossCheck?.exactSent).toBeGreaterThan(20)
    // the versions the exact clients saw come from the instances themselves
    expect(Object.keys(r.load.exact?.byVersion ?? {}).sort()).toEqual(['v1', 'v2'])
    // the Deployment rules held: never more than replicas + maxSurge live, never fewer than replicas available
    for (const s of r.steps.filter((x) => x.phase !== 'stop-check')) {
      const v1 = s.revisions.v1
      const v2 = s.revisions.v2
      if (!v1 || !v2) continue
      expect(v1.total + v2.total).toBeLessThanOrEqual(4)
      expect(v1.available + v2.available).toBeGreaterThanOrEqual(3)
    }
    expect(r.steps.at(-1)?.revisions.v2?.available).toBe(3)
    expect(r.instances.filter((i) => i.revision === 'v1').every((i) => i.termination && !i.termination.killed && i.termination.code === 0)).toBe(true)
    await expectNothingLeft(r)
  })

  it('l7: promoted, zero dropped, both revisions served', { timeout: 120_000 }, async () => {
    const r = await run({}, { router: 'l7' })
    expect(r.verdict).toBe('promoted')
    expect(r.dropped).toBe(0)
    expect(r.bothRevisionsServed).toBe(true)
    expect(r.accounting.crossCheck?.consistent).toBe(true)
    await expectNothingLeft(r)
  })

  it('negative control: NAIVE=1 (exits at once on SIGTERM) drops requests', { timeout: 120_000 }, async () => {
    const r = await run({ both: 'NAIVE=1' })
    expect(r.dropped).toBeGreaterThan(0)
    expect(r.exitCode).toBe(1)
    expect(r.accounting.byRevision.v1?.dropped).toBeGreaterThan(0)
    await expectNothingLeft(r)
  })

  // Slow requests (100 ms) keep connections busy when the server ends them: the moment a
  // stoppable-style server loses the next request on a reused keep-alive socket. The correct
  // drain and the stoppable one are run in the same harness with the same latency.
  it('l4 with 100 ms requests: promoted, zero dropped', { timeout: 120_000 }, async () => {
    const r = await run({ both: 'LATENCY_MS=100' })
    expect(r.verdict).toBe('promoted')
    expect(r.dropped).toBe(0)
    expect(r.bothRevisionsServed).toBe(true)
    await expectNothingLeft(r)
  })

  it('negative control: NAIVE=stoppable (ends sockets after a response without Connection: close) drops requests', { timeout: 120_000 }, async () => {
    const r = await run({ both: 'LATENCY_MS=100 NAIVE=stoppable' })
    expect(r.dropped).toBeGreaterThan(0)
    expect(r.accounting.byRevision.v1?.lost).toBeGreaterThan(0)
    expect(r.exitCode).toBe(1)
    await expectNothingLeft(r)
  })

  it('Express flavour, l7: promoted, zero dropped', { timeout: 120_000 }, async () => {
    const r = await run({ both: 'FRAMEWORK=express' }, { router: 'l7' })
    expect(r.verdict).toBe('promoted')
    expect(r.dropped).toBe(0)
    expect(r.bothRevisionsServed).toBe(true)
    await expectNothingLeft(r)
  })

  it('maxSurge 0, maxUnavailable 1, minReadySeconds 1: old first, new counted only after a second of readiness, zero dropped', { timeout: 120_000 }, async () => {
    const r = await run({}, { rolling: { maxSurge: 0, maxUnavailable: 1, minReadySeconds: 1, progressDeadlineSeconds: 30 } })
    expect(r.verdict).toBe('promoted')
    expect(r.dropped).toBe(0)
    expect(r.bothRevisionsServed).toBe(true)
    // the rollout's steps (the stop check after promotion surges by one whatever maxSurge says, so a one-replica fleet keeps serving)
    for (const s of r.steps.filter((x) => x.phase !== 'stop-check')) {
      const v1 = s.revisions.v1
      const v2 = s.revisions.v2
      if (!v1 || !v2) continue
      expect(v1.total + v2.total).toBeLessThanOrEqual(3)
      expect(v1.available + v2.available).toBeGreaterThanOrEqual(2)
    }
    // the i-th old instance is stopped only once i − 1 new ones have been ready for a second
    const sigterms = r.events.filter((e) => e.revision === 'v1' && e.event === 'sigterm')
    const readies = r.events.filter((e) => e.revision === 'v2' && e.event === 'ready')
    expect(sigterms.length).toBe(3)
    sigterms.forEach((e, i) => expect(readies.filter((x) => x.t <= e.t - 1000).length).toBeGreaterThanOrEqual(i))
    await expectNothingLeft(r)
  })

  it('answers slower than --timeout-ms are counted as timeouts by the router, not hidden', { timeout: 120_000 }, async () => {
    const r = await run({ to: 'LATENCY_MS=2500' }, { replicas: 2, load: { leadMs: 1000, tailMs: 1000, timeoutMs: 1000 } })
    expect(r.accounting.byRevision.v2?.timeout).toBeGreaterThan(0)
    expect(r.accounting.byRevision.v1?.timeout).toBe(0)
    expect(r.accounting.aborted).toBe(0)
    expect(r.dropped).toBeGreaterThanOrEqual(r.accounting.timeout)
    expect(r.exitCode).toBe(1)
    await expectNothingLeft(r)
  })

  it('never-ready v2: progress deadline, rolled back, zero dropped, v1 still serving', { timeout: 120_000 }, async () => {
    const r = await run({ to: 'NEVER_READY=1' }, { rolling: { maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: 4 } })
    expect(r.verdict).toBe('rolled-back')
    expect(r.exitCode).toBe(2)
    expect(r.reason).toMatch(/progress deadline/)
    expect(r.dropped).toBe(0)
    expect(r.accounting.byRevision.v2?.requests ?? 0).toBe(0)
    expect(r.steps.some((s) => s.phase === 'rollback')).toBe(true)
    expect(r.steps.at(-1)?.revisions.v1?.available).toBe(3)
    // v1 answered the load after the rollback too
    const rollbackDone = Date.parse(r.timing.startedAt) + r.timing.rolloutStartMs + r.timing.rolloutDurationMs
    const after = r.perSecond.filter((b) => b.t * 1000 >= rollbackDone)
    expect(after.reduce((n, b) => n + (b.byRevision.v1?.ok ?? 0), 0)).toBeGreaterThan(0)
    await expectNothingLeft(r)
  })
})
