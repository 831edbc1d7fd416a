import fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { afterEachCleanup, expectNothingLeft, reports, revision } from './progressive-harness.js'
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
