import { afterEach, describe, expect, it } from 'vitest'
import { DEMO } from '../helpers/process.js'
import { deployHarness } from './deploy-harness.js'
import { expectNothingLeft } from './progressive-harness.js'
import { formatReport, type DeployOptions, type Report } from '@zerodrop/fleet'

// The adaptive drain delay on a real fleet: it ends once the router has visibly stopped sending
// (no request but probes for quietMs), not after a guessed fixed sleep.
const LAG_MS = 1000
const QUIET_MS = 1000

const harness = deployHarness()
afterEach(harness.cleanup)

function run(env: string, options: Partial<DeployOptions> = {}): Promise<Report> {
  const cmd = (version: string): string => `SHUTDOWN_TIMEOUT_MS=5000 APP_VERSION=${version} ${env} exec node ${DEMO}`
  return harness.run({
    from: cmd('v1'),
    to: cmd('v2'),
    replicas: 2,
    router: 'l4',
    endpointDelayMs: LAG_MS,
    terminationGracePeriodSeconds: 20,
    rolling: { maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: 30 },
    probes: { common: { periodMs: 200, timeoutMs: 1000 } },
    load: { leadMs: 1000, tailMs: 1000 },
    ...options,
  })
}

const oldInstances = (r: Report) => r.instances.filter((i) => i.revision === 'v1')
const figures = (r: Report): string => oldInstances(r)
  .map((i) => `${i.id}: delay ${i.termination?.drainDelay?.ms ?? '?'} ms (${i.termination?.drainDelay?.endedBy ?? '?'}), sigterm-to-exit ${i.termination?.durationMs ?? '?'} ms`)
  .join('; ')

const ADAPTIVE = `DRAIN_QUIET_MS=${QUIET_MS} DRAIN_MIN_MS=${LAG_MS} DRAIN_MAX_MS=8000`

describe('adaptive drain delay, rolling deploy under load, 1 s endpoint lag', () => {
  // l7: the router opens new upstream connections to the instance until it is removed, so the last
  // request arrives at the lag and the delay ends in [lag + quiet, lag + quiet + 1.5 s].
  // l4 (one upstream socket per client socket): once Connection: close has moved every keep-alive
  // client to another instance, nothing more arrives, even before the lag; the quiet then starts
  // early and only minMs (set to the lag here, as the docs advise) keeps the delay from ending
  // before the endpoint is removed. Both must drop nothing.
  it.each([
    { router: 'l4', atLeast: 1000 },
    { router: 'l7', atLeast: LAG_MS + QUIET_MS },
  ] as const)('$router: each old instance ends its delay by quiet, at least $atLeast ms and at most lag + quiet + 1.5 s, zero dropped', { timeout: 120_000 }, async ({ router, atLeast }) => {
    const r = await run(ADAPTIVE, { router })
    console.log(`adaptive drain figures (${router}, lag ${LAG_MS} ms, quiet ${QUIET_MS} ms): ${figures(r)}; dropped ${r.dropped}`)
    expect(r.verdict).toBe('promoted')
    expect(r.dropped).toBe(0)
    const old = oldInstances(r)
    expect(old.length).toBe(2)
    for (const i of old) {
      const t = i.termination
      expect(t?.code).toBe(0)
      expect(t?.drainDelay?.endedBy).toBe('quiet')
      // lower bound on the fleet's clock (SIGTERM → exit, which follows the delay's end): the
      // instance's own clock starts when the signal reaches it, a few ms after the lag timer did
      expect(t!.durationMs).toBeGreaterThanOrEqual(atLeast)
      expect(t!.drainDelay!.ms).toBeLessThanOrEqual(LAG_MS + QUIET_MS + 1500)
    }
    expect(formatReport(r)).toMatch(/drain delay \d+\.\d s \(quiet\)/)
    await expectNothingLeft(r)
  })

  it('a lag longer than maxMs: the delay ends at maxMs and the instance then refuses what the router still sends (dropped > 0, as any drain that ends too early)', { timeout: 120_000 }, async () => {
    // l7, whose traffic reaches the instance until it is removed (behind l4 the clients may all have moved already)
    const r = await run('DRAIN_QUIET_MS=1000 DRAIN_MIN_MS=500 DRAIN_MAX_MS=1500', { endpointDelayMs: 3000, router: 'l7' })
    console.log(`adaptive drain figures (l7, lag 3000 ms > maxMs 1500 ms): ${figures(r)}; dropped ${r.dropped}`)
    for (const i of oldInstances(r)) expect(i.termination?.drainDelay?.endedBy).toBe('max')
    expect(r.dropped).toBeGreaterThan(0)
    await expectNothingLeft(r)
  })

  it('negative control, same harness: NAIVE=1 (exits at once on SIGTERM) drops requests', { timeout: 120_000 }, async () => {
    const r = await run('NAIVE=1')
    expect(r.dropped).toBeGreaterThan(0)
    await expectNothingLeft(r)
  })

  it('for comparison: the fixed 5 s delay (the default) holds each old instance 5 s, zero dropped', { timeout: 120_000 }, async () => {
    const r = await run('DRAIN_DELAY_MS=5000')
    console.log(`fixed drain figures (l4, lag ${LAG_MS} ms, fixed 5000 ms): ${figures(r)}; dropped ${r.dropped}`)
    expect(r.dropped).toBe(0)
    for (const i of oldInstances(r)) expect(i.termination?.drainDelay?.endedBy).toBe('fixed')
    await expectNothingLeft(r)
  })
})
