import net from 'node:net'
import { expect } from 'vitest'
import { deploy, formatReport, groupAlive, killAllInstancesSync, liveProcessGroups, type DeployOptions, type Report } from '@zerodrop/fleet'

// Shared by bluegreen.test.ts, canary.test.ts and prometheus.test.ts: the demo service on a real
// fleet — real processes, real routers, real paced keep-alive load — at a fixed rate of about half of
// what this 2-core machine sustains, with a short minimum measurement time.

import { DEMO } from '../helpers/process.js'

export { DEMO }

export function revision(env: string, version: string): string {
  return `DRAIN_DELAY_MS=1500 SHUTDOWN_TIMEOUT_MS=5000 APP_VERSION=${version} ${env} exec node ${DEMO}`
}

export const reports: Report[] = []

export async function run(env: { from?: string; to?: string }, options: Partial<DeployOptions>): Promise<Report> {
  const report = await deploy({
    from: revision(env.from ?? '', 'v1'),
    to: revision(env.to ?? '', 'v2'),
    replicas: 3,
    router: 'l7',
    endpointDelayMs: 1000,
    terminationGracePeriodSeconds: 15,
    rolling: { progressDeadlineSeconds: 60 },
    probes: { common: { periodMs: 200, timeoutMs: 1000 } },
    load: { rate: 150, connections: 20, leadMs: 1000, tailMs: 1000 },
    ...options,
    // the sequential gate, with a short minimum time (the defaults' 10 s is for real releases)
    analysis: { minMeasurementMs: 2000, minSamples: 15, ...options.analysis },
  })
  reports.push(report)
  return report
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

/** Every instance's process group and the routers' ports are gone once deploy() settles. */
export async function expectNothingLeft(report: Report): Promise<void> {
  expect(liveProcessGroups()).toEqual([])
  for (const i of report.instances) for (const pid of i.pids) expect(groupAlive(pid), `process group ${pid} of ${i.id}`).toBe(false)
  expect(await portIsFree(report.parameters.routerPort)).toBe(true)
  if (report.progressive?.preview) expect(await portIsFree(report.progressive.preview.port)).toBe(true)
}

/** The accounting balances: every request the router forwarded settled one way or another. */
export function expectBalanced(r: Report): void {
  const a = r.accounting
  expect(a.ok + a.non2xx + a.lost + a.reset + a.refused + a.timeout + a.aborted + a.unaccounted).toBe(a.requests)
  expect(a.crossCheck?.consistent).toBe(true)
}

export async function afterEachCleanup(failed: boolean): Promise<void> {
  const report = reports.pop()
  if (failed && report) console.log(formatReport(report))
  // on failure too: nothing the test started may outlive it
  killAllInstancesSync()
  reports.length = 0
}

export function period(r: Report, label: string) {
  const p = r.progressive?.periods.find((x) => x.label === label)
  expect(p, `period '${label}' in ${r.progressive?.periods.map((x) => x.label).join(', ')}`).toBeDefined()
  return p!
}
