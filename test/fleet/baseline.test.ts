import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Report } from '@zerodrop/fleet'
import { cleanupCli, cliCanary, type CliRun } from './progressive-harness.js'

// The baseline comparison through the CLI: one canary step at weight 50 (l7: half the requests
// each), the canary judged against the stable revision over the same window. Latencies are the
// demo's LATENCY_MS; with the histogram's default buckets a stable at 120 ms has a p99 of 199 ms
// (interpolated in its bucket), × 1.5 = 299 ms, so the canary's threshold is the 300 ms bucket.

afterEach(() => cleanupCli())

const revision = (version: string, env: string): string => `DRAIN_DELAY_MS=1000 APP_VERSION=${version} ${env}`
const common = ['--router', 'l7', '--replicas', '2', '--steps', '50', '--min-measurement-ms', '2000', '--connections', '30']

function measurement(r: CliRun) {
  const m = r.report?.progressive?.analyses[0]?.measurements.at(-1)
  expect(m, r.stderr + r.stdout).toBeDefined()
  return m!
}

function summary(rep: Report): string {
  const m = rep.progressive?.analyses[0]?.measurements.at(-1)
  return `${rep.verdict} in ${(rep.timing.rolloutDurationMs / 1000).toFixed(1)} s; ${m?.message ?? ''}`
}

describe('the canary against the stable revision (the CLI, --compare)', () => {
  it('a canary 3 × slower than stable (360 ms vs 120 ms, within a 1000 ms budget) fails the relative latency check: rolled back, exit 2', { timeout: 90_000 }, async () => {
    const r = await cliCanary(revision('v1', 'LATENCY_MS=120'), revision('v2', 'LATENCY_MS=360'), [...common, '--rate', '60', '--compare', 'both', '--max-p99-ms', '1000'])
    expect(r.code, r.stderr + r.stdout).toBe(2)
    console.log(`3x slower: ${summary(r.report!)}`)
    const m = measurement(r)
    expect(m.phase).toBe('failed')
    // the budget alone would have passed it
    expect(m.tests?.slow.decision).not.toBe('failed')
    expect(m.baseline?.latency).toMatchObject({ decision: 'failed', aboveMs: 300 })
    expect(m.baseline!.latency.canary.k).toBeGreaterThanOrEqual(m.baseline!.latency.failAt)
    expect(m.baseline!.latency.stable.n).toBeGreaterThanOrEqual(200)
    expect(r.stdout).toMatch(/vs stable latency: slower than 300 ms \(stable p99 \d+ ms × 1\.5\): canary n \d+, k \d+ \(\d+\.\d %\), stable n \d+, k \d+ \(\d+\.\d %\), fails at k ≥ \d+, passes at k ≤ \S+: failed/)
    expect(r.stdout).toMatch(/vs stable errors: canary n \d+, k 0 \(0\.0 %\), stable n \d+, k 0 \(0\.0 %\), difference 0\.0 % \(margin 2\.0 %\)/)
    expect(r.report?.dropped).toBe(0)
  })

  it('control: a canary as fast as stable (120 ms each) passes both comparisons and the budgets: promoted, exit 0; the HTML report shows both sides', { timeout: 90_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'zerodrop-baseline-'))
    const html = path.join(dir, 'report.html')
    try {
      const r = await cliCanary(revision('v1', 'LATENCY_MS=120'), revision('v2', 'LATENCY_MS=120'), [...common, '--rate', '60', '--compare', 'both', '--max-p99-ms', '1000', '--html', html])
      expect(r.code, r.stderr + r.stdout).toBe(0)
      console.log(`as fast: ${summary(r.report!)}`)
      const m = measurement(r)
      expect(m.phase).toBe('successful')
      expect(m.baseline).toMatchObject({ errorRate: { decision: 'successful' }, latency: { decision: 'successful', aboveMs: 300 } })
      expect(r.report?.verdict).toBe('promoted')
      expect(r.report?.dropped).toBe(0)
      const page = fs.readFileSync(html, 'utf8')
      expect(page).toContain('vs stable (k/n each side)')
      expect(page).toMatch(/errors: canary 0\/\d+ vs stable 0\/\d+, difference 0 % \(margin 2\.0 %\), fails at k ≥ \d+, passes at k ≤ \d+: successful/)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a canary as slow as a stable that is out of budget (400 ms each, budget 300 ms): the comparison does not fail it, the budget does: rolled back, exit 2', { timeout: 90_000 }, async () => {
    const r = await cliCanary(revision('v1', 'LATENCY_MS=400'), revision('v2', 'LATENCY_MS=400'), [...common, '--rate', '40', '--compare', 'both'])
    expect(r.code, r.stderr + r.stdout).toBe(2)
    console.log(`slow stable, both: ${summary(r.report!)}`)
    const m = measurement(r)
    expect(m.phase).toBe('failed')
    expect(m.tests?.slow.decision).toBe('failed')
    expect(m.baseline?.latency.decision).not.toBe('failed')
    expect(m.baseline?.errorRate.decision).not.toBe('failed')
    expect(r.report?.dropped).toBe(0)
  })

  it('control: the same with the budgets off (--compare baseline) passes the relative checks: promoted, exit 0', { timeout: 90_000 }, async () => {
    const r = await cliCanary(revision('v1', 'LATENCY_MS=400'), revision('v2', 'LATENCY_MS=400'), [...common, '--rate', '40', '--compare', 'baseline'])
    expect(r.code, r.stderr + r.stdout).toBe(0)
    console.log(`slow stable, baseline only: ${summary(r.report!)}`)
    const m = measurement(r)
    expect(m.phase).toBe('successful')
    expect(m.baseline).toMatchObject({ errorRate: { decision: 'successful' }, latency: { decision: 'successful', aboveMs: 1000 } })
    expect(m.tests?.slow.decision).toBe('failed')
    expect(r.stdout).toMatch(/\(budgets off: shown, not gating\)/)
    expect(r.report?.verdict).toBe('promoted')
  })
})
