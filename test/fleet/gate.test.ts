import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Report } from '@zerodrop/fleet'
import { cleanupCli, cliCanary, type CliRun } from './progressive-harness.js'

// The canary gate through the CLI with every default (300 req/s, ladder 1 → 5 → 25 → 50 → 100,
// the sequential test at α = β = 0.05, H1 at 3 × the budget, 10..120 s per measurement, the
// demo's own 5 s drain delay): a healthy release is promoted, a bad one rolled back with exit 2
// and its failures reported as its blast radius, within the bound.

afterEach(() => cleanupCli())

const deploy = (env: string, flags: string[]): Promise<CliRun> => cliCanary('APP_VERSION=v1', `APP_VERSION=v2 ${env}`, flags)

const shapes: Array<[string, string[]]> = [
  ['l7, --replicas 2 --connections 20', ['--router', 'l7', '--replicas', '2', '--connections', '20']],
  ['l4, --replicas 2 --connections 20', ['--router', 'l4', '--replicas', '2', '--connections', '20']],
  ['l7, 3 replicas', ['--router', 'l7']],
  ['l4 (the default), 3 replicas', []],
]

function summary(r: Report): string {
  const d = r.progressive?.detection
  const b = r.progressive?.badRelease
  return `rollout ${(r.timing.rolloutDurationMs / 1000).toFixed(1)} s` + (d ? `, decided ${(d.detectionMs / 1000).toFixed(1)} s after exposure` : '') + (b ? `, blast radius ${b.failed} (bound ${b.bound} = ${b.terms.gate} + ${b.terms.lastBatch} + ${b.terms.afterAbort})` : '')
}

describe('the canary gate with every default (the CLI)', () => {
  for (const [name, flags] of shapes) {
    it(`a healthy release, ${name}: promoted, every step decided successful, exit 0`, { timeout: 300_000 }, async () => {
      const r = await deploy('', flags)
      expect(r.code, r.stderr + r.stdout).toBe(0)
      const rep = r.report!
      console.log(`healthy ${name}: ${summary(rep)}`)
      expect(rep.verdict).toBe('promoted')
      expect(rep.dropped).toBe(0)
      expect(rep.progressive?.analyses.map((a) => a.phase)).toEqual(['successful', 'successful', 'successful', 'successful', 'successful'])
      expect(rep.progressive?.analyses.every((a) => a.gate === 'sequential' && a.measurements.length === 1)).toBe(true)
      expect(r.stdout).toMatch(/errors n \d+, k 0 \(0\.0 %; H0 ≤ 2\.0 %, H1 ≥ 6\.0 %\), fails at k ≥ \d+, passes at k ≤ \d+: successful/)
    })
  }

  for (const [failRate, name, flags] of [
    ['0.2', 'l7, --replicas 2 --connections 20', shapes[0]![1]],
    ['0.1', 'l7, --replicas 2 --connections 20', shapes[0]![1]],
    ['0.1', 'l4 (the default), 3 replicas', []],
  ] as const) {
    it(`FAIL_RATE=${failRate}, ${name}: rolled back at weight 1 by the first decision, exit 2, blast radius within its bound, nothing else dropped`, { timeout: 180_000 }, async () => {
      const r = await deploy(`FAIL_RATE=${failRate}`, [...flags])
      expect(r.code, r.stderr + r.stdout).toBe(2)
      const rep = r.report!
      console.log(`FAIL_RATE=${failRate} ${name}: ${summary(rep)}`)
      expect(rep.verdict).toBe('rolled-back')
      expect(rep.reason).toMatch(/^analysis failed at weight 1: measurement 1 failed/)
      expect(rep.progressive?.analyses).toHaveLength(1)
      const m = rep.progressive!.analyses[0]!.measurements
      expect(m).toHaveLength(1)
      expect(m[0]!.tests?.errorRate.decision).toBe('failed')
      const b = rep.progressive?.badRelease
      expect(b?.failed).toBeGreaterThan(0)
      expect(b?.withinBound, r.stdout).toBe(true)
      expect(b?.failed).toBe(rep.accounting.byRevision.v2?.non2xx)
      expect(rep.dropped).toBe(0)
      expect(rep.accounting.byRevision.v1?.dropped).toBe(0)
      expect(r.stdout).toMatch(/blast radius v2 \(stopped by the gate, failed\): \d+ failed requests .* bound \d+ = \d+ gate boundary \+ \d+ last scrape batch \+ \d+ requests in flight or pinned after weight 0: \d+ failed ≤ bound \d+; it got /)
    })
  }

  it('pre-flight: a rate whose weight-1 step cannot decide within the maximum window exits 64 before starting anything, naming the flags', { timeout: 30_000 }, async () => {
    const r = await deploy('', ['--router', 'l7', '--rate', '50'])
    expect(r.code).toBe(64)
    expect(r.stderr).toMatch(/step 2 \(weight 1\) cannot decide: .* raise --rate, the step's weight \(--steps\) or --max-measurement-ms/)
    expect(fs.existsSync(path.join(r.dir, 'pids'))).toBe(false)
  })
})

describe('the router feeds the gate', () => {
  const fast = ['--router', 'l7', '--replicas', '2', '--connections', '20', '--steps', '50']

  it('a canary that resets 10 % of its connections (never a 5xx) is aborted on the router signal, exit 2', { timeout: 180_000 }, async () => {
    const r = await deploy('RESET_RATE=0.1', fast)
    expect(r.code, r.stderr + r.stdout).toBe(2)
    const rep = r.report!
    const m = rep.progressive!.analyses[0]!.measurements.at(-1)!
    expect(m.phase).toBe('failed')
    expect(m.signals?.errors5xx).toBe(0)
    expect(m.signals?.routerErrors).toBeGreaterThan(0)
    expect(rep.accounting.byRevision.v2?.non2xx).toBe(0)
    expect(rep.progressive?.badRelease?.failed).toBeGreaterThan(0)
    expect(rep.dropped).toBe(0)
  })

  it('negative control: the same canary with --router-signal off is not caught by its own histogram; promoted, its resets are drops, exit 1', { timeout: 180_000 }, async () => {
    const r = await deploy('RESET_RATE=0.1', [...fast, '--router-signal', 'off'])
    expect(r.code, r.stderr + r.stdout).toBe(1)
    const rep = r.report!
    expect(rep.progressive?.analyses.every((a) => a.phase === 'successful')).toBe(true)
    expect(rep.verdict).toBe('promoted')
    expect((rep.accounting.byRevision.v2?.reset ?? 0) + (rep.accounting.byRevision.v2?.lost ?? 0)).toBeGreaterThan(0)
  })

  it('a hanging canary (4 s a request, p99 budget 300 ms) is aborted for latency on its requests in flight, exit 2, not "inconclusive: 0 requests"', { timeout: 180_000 }, async () => {
    const r = await deploy('LATENCY_MS=4000', fast)
    expect(r.code, r.stderr + r.stdout).toBe(2)
    const rep = r.report!
    expect(rep.reason).toMatch(/analysis failed at weight 50/)
    const m = rep.progressive!.analyses[0]!.measurements.at(-1)!
    expect(m.phases.p99).toBe('failed')
    expect(m.signals?.slowInFlight).toBeGreaterThan(0)
    // its slow requests still finish: none dropped
    expect(rep.dropped).toBe(0)
  })
})
