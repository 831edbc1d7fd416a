// The configuration that ships, run locally: k8s/rolling read by the fleet's manifest loader and
// deployed v1 -> v2 on a real fleet under load — the manifests' replicas, rolling parameters,
// probes (their real periods), grace period and drain env — with zero dropped, and the same
// deploy of the naive variant (exits at once on SIGTERM) as the negative control that must drop.
// Blue-green and canary follow when the fleet has those strategies (issue 4).
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { deploy, formatReport, killAllInstancesSync, liveProcessGroups, type Report } from '@zerodrop/fleet'
import { loadManifests } from '../../packages/fleet/dist/manifests.js'
import { k8sDir } from './manifests.js'
import { demoEntry } from './processes.js'

const reports: Report[] = []
afterEach((ctx) => {
  const report = reports.pop()
  if (ctx.task.result?.state === 'fail' && report) console.log(formatReport(report))
  // On failure too: nothing the test started may outlive it.
  killAllInstancesSync()
  reports.length = 0
})

async function deployManifests(extraEnv: Record<string, string>): Promise<Report> {
  const { options, issues } = loadManifests(join(k8sDir, 'rolling'))
  expect(issues.filter((i) => i.severity === 'unknown'), 'fields the loader does not know').toEqual([])
  expect(options.strategy).toBe('rolling')
  const revision = (version: string) => ({
    name: version,
    command: [process.execPath, demoEntry],
    env: { ...options.env, APP_VERSION: version, ...extraEnv },
  })
  const report = await deploy({
    strategy: 'rolling',
    from: revision('v1'),
    to: revision('v2'),
    replicas: options.replicas,
    terminationGracePeriodSeconds: options.terminationGracePeriodSeconds,
    rolling: options.rolling,
    probes: options.probes,
    router: 'l4',
    // Kubernetes' endpoint lag, well inside the manifests' 5 s drain delay.
    endpointDelayMs: 1000,
    load: { leadMs: 1000, tailMs: 1000 },
  })
  reports.push(report)
  return report
}

describe('k8s/rolling on the local fleet', () => {
  it('the shipped configuration rolls v1 -> v2 under load with zero dropped', { timeout: 240_000 }, async () => {
    const r = await deployManifests({})
    expect(r.parameters.replicas).toBe(3)
    expect(r.parameters.rolling).toMatchObject({ maxSurge: 1, maxUnavailable: 0, minReadySeconds: 10 })
    expect(r.parameters.probes.readiness).toMatchObject({ path: '/readyz', periodMs: 5000 })
    expect(r.parameters.terminationGracePeriodSeconds).toBe(30)
    expect(r.verdict).toBe('promoted')
    expect(r.dropped).toBe(0)
    expect(r.bothRevisionsServed).toBe(true)
    expect(r.accounting.crossCheck?.consistent).toBe(true)
    // Every old instance drained and exited 0 on its own, never SIGKILLed.
    expect(r.instances.filter((i) => i.revision === 'v1').every((i) => i.termination && !i.termination.killed && i.termination.code === 0)).toBe(true)
    expect(liveProcessGroups()).toEqual([])
    console.info(`k8s/rolling on the fleet: verdict=${r.verdict} requests=${r.load.requests} dropped=${r.dropped} rolloutMs=${r.timing.rolloutDurationMs}`)
  })

  it('negative control: the same configuration with NAIVE=1 (no drain) drops requests', { timeout: 240_000 }, async () => {
    const r = await deployManifests({ NAIVE: '1' })
    expect(r.dropped).toBeGreaterThan(0)
    expect(r.accounting.byRevision.v1?.dropped).toBeGreaterThan(0)
    expect(liveProcessGroups()).toEqual([])
    console.info(`k8s/rolling on the fleet, NAIVE=1: requests=${r.load.requests} dropped=${r.dropped}`)
  })
})
