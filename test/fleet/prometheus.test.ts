import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, expect, it } from 'vitest'
import { describeWithTool } from '../helpers/tools.js'
import { freePort } from '@zerodrop/fleet'
import { loadManifests } from '#fleet/manifests/manifests.js'
import { ERROR_RATE_QUERY, P99_QUERY, queryScalar } from '#fleet/analysis/promql.js'
import { afterEachCleanup, expectBalanced, expectNothingLeft, run } from './progressive-harness.js'

// The --prometheus-url path end to end: a real Prometheus (Debian's binary) on a loopback port,
// scraping the fleet's instances from the file_sd targets file the fleet keeps, answers the
// AnalysisTemplate's own PromQL (k8s/canary) for one canary analysis.

const K8S_CANARY = fileURLToPath(new URL('../../k8s/canary', import.meta.url))
let prometheus: ChildProcess | undefined
let dir: string | undefined

afterEach(async (ctx) => {
  await afterEachCleanup(ctx.task.result?.state === 'fail')
  if (prometheus?.pid !== undefined && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus?.once('exit', r))
    prometheus.kill('SIGTERM')
    const t = setTimeout(() => prometheus?.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(t)
  }
  prometheus = undefined
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

const norm = (q: string): string => q.replace(/\s+/g, ' ').trim()

async function startPrometheus(): Promise<{ url: string; targets: string }> {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zd-prometheus-'))
  const targets = path.join(dir, 'targets.json')
  fs.writeFileSync(targets, '[]\n')
  const config = path.join(dir, 'prometheus.yml')
  fs.writeFileSync(
    config,
    `global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
  - job_name: zerodrop-fleet
    file_sd_configs:
      - files: ['${targets}']
        refresh_interval: 1s
`,
  )
  const port = await freePort('127.0.0.1')
  const log = fs.openSync(path.join(dir, 'prometheus.log'), 'w')
  prometheus = spawn(
    'prometheus',
    [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', log, log] },
  )
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      await queryScalar(url, 'vector(1)', 1000)
      return { url, targets }
    } catch (err) {
      if (Date.now() > deadline || prometheus.exitCode !== null) {
        throw new Error(`expected Prometheus to answer on ${url} within 30 s, instead: ${(err as Error).message}; log:\n${fs.readFileSync(path.join(dir, 'prometheus.log'), 'utf8').slice(-2000)}`)
      }
      await new Promise((r) => setTimeout(r, 200))
    }
  }
}

describeWithTool('prometheus', 'analysis through a real Prometheus', () => {
  it('the fleet runs the queries that ship in k8s/canary', () => {
    const metrics = loadManifests(K8S_CANARY).options.analysis?.metrics ?? []
    expect(norm(metrics.find((m) => m.name === 'error-rate')?.query ?? '')).toBe(norm(ERROR_RATE_QUERY))
    expect(norm(metrics.find((m) => m.name === 'p99-latency')?.query ?? '')).toBe(norm(P99_QUERY))
  })

  it('canary FAIL_RATE=0.2, l7: the PromQL error rate of the canary alone fails the analysis, aborted, zero dropped', { timeout: 180_000 }, async () => {
    const p = await startPrometheus()
    const r = await run(
      { to: 'FAIL_RATE=0.2' },
      {
        strategy: 'canary',
        router: 'l7',
        canary: { steps: [{ setWeight: 50 }, { pause: { duration: '1s' } }, { analysis: true }] },
        analysis: { intervalMs: 3000, count: 3, minSamples: 15, prometheusUrl: p.url, prometheusTargetsFile: p.targets },
      },
    )
    const a = r.progressive?.analyses[0]
    expect(a?.source).toBe('prometheus')
    expect(r.verdict).toBe('rolled-back')
    expect(a?.phase).toBe('failed')
    const last = a!.measurements.at(-1)!
    expect(last.phases.errorRate).toBe('failed')
    // the canary's own rate, not diluted by stable's traffic: about 20 %
    expect(last.errorRate).toBeGreaterThan(0.08)
    expect(last.errorRate).toBeLessThan(0.4)
    expect(Number.isFinite(last.p99Ms)).toBe(true)
    expect(last.samples).toBeGreaterThanOrEqual(15)
    // Prometheus really scraped both revisions, labelled as in the cluster (the instances are gone now: over a range)
    expect(await queryScalar(p.url, 'count(count by (rollouts_pod_template_hash) (count_over_time(http_request_duration_seconds_count{namespace="zerodrop"}[5m])))')).toBe(2)
    expect(r.dropped).toBe(0)
    expect(r.progressive?.badRelease?.withinBound).toBe(true)
    expectBalanced(r)
    await expectNothingLeft(r)
  })
})
