import { afterEach, describe, expect, it } from 'vitest'
import { GateCannotDecideError, liveProcessGroups } from '@zerodrop/fleet'
import { afterEachCleanup, cleanupCli, cliCanary, expectBalanced, expectNothingLeft, period, run } from './progressive-harness.js'

// Canary under load: weights, analysis-gated steps, abort, promotion — on real
// processes behind the real router, counted request by request.

afterEach(async (ctx) => afterEachCleanup(ctx.task.result?.state === 'fail'))

const ladder = (...weights: number[]) => weights.flatMap((w) => [{ setWeight: w }, { analysis: true as const }])

describe('canary', () => {
  it('l7, the ladder 5 → 25 → 50 → 100: promoted, zero dropped, each step at its exact weight', { timeout: 240_000 }, async () => {
    // (weight 1 with every default is in gate.test.ts, through the CLI)
    const r = await run({}, { strategy: 'canary', router: 'l7', canary: { steps: ladder(5, 25, 50, 100) }, load: { rate: 200, connections: 20, leadMs: 1000, tailMs: 1000 } })
    expect(r.verdict).toBe('promoted')
    expect(r.dropped).toBe(0)
    expect(r.exitCode).toBe(0)
    expectBalanced(r)
    for (const w of [5, 25, 50, 100]) {
      const p = period(r, `weight ${w}`)
      const requests = Object.values(p.requests).reduce((a, b) => a + b, 0)
      expect(requests).toBeGreaterThan(200)
      expect(p.desired.v2).toBeCloseTo(w / 100, 5)
      // smooth weighted round robin: exact over every 100 picks; a few requests at the edges
      expect(Math.abs((p.observed.v2 ?? 0) - w / 100), `weight ${w}: observed ${p.observed.v2}`).toBeLessThan(0.02)
    }
    expect(r.progressive?.analyses.map((a) => a.phase)).toEqual(['successful', 'successful', 'successful', 'successful'])
    expect(r.accounting.byRevision.v2?.ok).toBeGreaterThan(100)
    expect(r.instances.filter((i) => i.revision === 'v1').every((i) => i.termination && !i.termination.killed && i.termination.code === 0)).toBe(true)
    await expectNothingLeft(r)
  })

  it('l4, 25 → 50: promoted, zero dropped, shares follow the instance counts (1/3, 2/3) over new connections', { timeout: 120_000 }, async () => {
    // connections live 10 requests (~1.3 s each), so new ones keep arriving and move traffic with the instance counts
    const r = await run({}, { strategy: 'canary', router: 'l4', canary: { steps: ladder(25, 50) }, load: { rate: 150, connections: 20, reconnectRate: 10, leadMs: 1000, tailMs: 1000 } })
    expect(r.verdict).toBe('promoted')
    expect(r.dropped).toBe(0)
    expectBalanced(r)
    for (const [w, share] of [
      [25, 1 / 3],
      [50, 2 / 3],
    ] as const) {
      const p = period(r, `weight ${w}`)
      expect(p.achievable.v2).toBeCloseTo(share, 5)
      // per connection, with churn: the pinned connections of the previous step move over as they reconnect
      expect(Math.abs((p.observed.v2 ?? 0) - share), `weight ${w}: observed ${p.observed.v2} vs achievable ${share}`).toBeLessThan(0.2)
    }
    // the stable revision shrank as the canary grew (no traffic router: Argo's basic canary)
    expect(r.steps.some((s) => /setWeight 50: v2 to 2 instances, v1 to 1/.test(s.action))).toBe(true)
    await expectNothingLeft(r)
  })

  it('bad release FAIL_RATE=0.1, l7: aborted at the first analysis it can decide, failures within the bound, nothing else dropped', { timeout: 120_000 }, async () => {
    const r = await run({ to: 'FAIL_RATE=0.1' }, { strategy: 'canary', router: 'l7', canary: { steps: ladder(25, 50) } })
    expect(r.verdict).toBe('rolled-back')
    expect(r.exitCode).toBe(2)
    expect(r.reason).toMatch(/analysis failed at weight 25/)
    const runs = r.progressive?.analyses ?? []
    expect(runs).toHaveLength(1)
    const ms = runs[0]!.measurements
    // one sequential decision: it failed on errors
    expect(ms).toHaveLength(1)
    expect(ms[0]?.phases.errorRate).toBe('failed')
    const b = r.progressive?.badRelease
    expect(b).toBeDefined()
    expect(b!.failed).toBeGreaterThan(0)
    expect(b!.failed).toBe(r.accounting.byRevision.v2?.non2xx)
    expect(b!.withinBound, `${b!.failed} failed vs bound ${b!.bound}`).toBe(true)
    // the bound with the injected rate instead of the observed one: 10 % of the requests the
    // weight entitled it to, plus three binomial standard deviations
    const n = b!.entitledRequests
    expect(b!.failed).toBeLessThanOrEqual(Math.ceil(0.1 * n + 3 * Math.sqrt(0.1 * 0.9 * n)) + 1)
    // weight 0 at once: no canary request after the abort
    expect(period(r, 'abort: weight 0').requests.v2 ?? 0).toBe(0)
    expect(r.dropped).toBe(0)
    expect(r.accounting.byRevision.v1?.dropped).toBe(0)
    expectBalanced(r)
    const d = r.progressive?.detection
    expect(d?.detectionMs).toBeGreaterThan(0)
    expect(d?.abortToStableMs).toBeDefined()
    expect(r.instances.filter((i) => i.revision === 'v2').every((i) => i.termination && !i.termination.killed && i.termination.code === 0)).toBe(true)
    await expectNothingLeft(r)
  })

  it('bad release FAIL_RATE=0.1, l4: aborted, the canary drained under its pinned connections, nothing else dropped', { timeout: 120_000 }, async () => {
    const r = await run({ to: 'FAIL_RATE=0.1' }, { strategy: 'canary', router: 'l4', canary: { steps: ladder(25, 50) } })
    expect(r.verdict).toBe('rolled-back')
    expect(r.reason).toMatch(/analysis failed at weight 25/)
    const b = r.progressive?.badRelease
    expect(b!.failed).toBeGreaterThan(0)
    expect(b!.withinBound, `${b!.failed} failed vs bound ${b!.bound}`).toBe(true)
    // connections pinned to the canary before the abort may carry a request or two more; no new one reaches it
    expect(r.dropped).toBe(0)
    expect(r.accounting.byRevision.v2?.lost ?? 0).toBe(0)
    expect(r.steps.at(-1)?.revisions.v1?.available).toBe(3)
    expectBalanced(r)
    await expectNothingLeft(r)
  })

  it('bad release LATENCY_MS=400 (p99 above 300 ms), l7: aborted on p99, zero dropped — its slow requests finish', { timeout: 120_000 }, async () => {
    const r = await run({ to: 'LATENCY_MS=400' }, { strategy: 'canary', router: 'l7', canary: { steps: ladder(25, 50) } })
    expect(r.verdict).toBe('rolled-back')
    expect(r.reason).toMatch(/analysis failed at weight 25/)
    const last = r.progressive?.analyses[0]?.measurements.at(-1)
    expect(last?.phases.p99).toBe('failed')
    expect(last?.tests?.slow.k).toBeGreaterThanOrEqual(last?.tests?.slow.failAt ?? 1)
    expect(r.dropped).toBe(0)
    expect(r.accounting.byRevision.v2?.ok).toBeGreaterThan(0)
    expect(r.accounting.byRevision.v2?.non2xx).toBe(0)
    expectBalanced(r)
    await expectNothingLeft(r)
  })

  it('negative control: the same abort of a NAIVE=1 canary on l4 (exits at once on SIGTERM) drops the requests on its pinned connections', { timeout: 120_000 }, async () => {
    // l7 sends it nothing after weight 0 (and its drain waits for what it had in flight), so the
    // drain only matters where connections stay pinned to it
    const r = await run({ to: 'NAIVE=1 LATENCY_MS=400' }, { strategy: 'canary', router: 'l4', canary: { steps: ladder(25, 50) } })
    expect(r.verdict).toBe('rolled-back')
    expect(r.dropped).toBeGreaterThan(0)
    expect(r.exitCode).toBe(1)
    const v2 = r.accounting.byRevision.v2
    expect((v2?.lost ?? 0) + (v2?.reset ?? 0)).toBeGreaterThan(0)
    expect(r.progressive?.badRelease?.droppedAfterAbort).toBeGreaterThan(0)
    expect(r.accounting.byRevision.v1?.dropped).toBe(0)
    await expectNothingLeft(r)
  })

  it('too little traffic to decide (weight 1 of 150 req/s within the maximum window): refused before anything starts', async () => {
    await expect(run({}, { strategy: 'canary', router: 'l7', canary: { steps: ladder(1, 50) } })).rejects.toThrow(GateCannotDecideError)
    expect(liveProcessGroups()).toEqual([])
  })
})

describe('zerodrop deploy --strategy canary (the CLI)', () => {
  afterEach(() => cleanupCli())

  it('a bad release: exit 2, the report names the failed analysis and the bound, nothing dropped', { timeout: 120_000 }, async () => {
    const fast = 'DRAIN_DELAY_MS=1500 SHUTDOWN_TIMEOUT_MS=5000'
    const { code, stdout, stderr, report: r } = await cliCanary(`${fast} APP_VERSION=v1`, `${fast} APP_VERSION=v2 FAIL_RATE=0.2`, [
      '--router', 'l7', '--steps', '50', '--rate', '150', '--connections', '20', '--probe-period-ms', '200',
      '--min-measurement-ms', '2000', '--min-samples', '15', '--max-error-rate', '0.05',
    ])
    expect(code, stderr).toBe(2)
    expect(stdout).toMatch(/ROLLED BACK \(analysis failed at weight 50/)
    expect(stdout).toMatch(/blast radius v2 \(stopped by the gate, failed\): \d+ failed requests .*: \d+ failed ≤ bound \d+; it got/)
    expect(stdout).toMatch(/error rate <= 0\.05/)
    expect(r?.dropped).toBe(0)
    expect(r?.progressive?.badRelease?.withinBound).toBe(true)
    expect(r?.progressive?.analyses[0]?.measurements.at(-1)?.errorRate).toBeGreaterThan(0.05)
  })
})
