// The canary's PromQL, executed for real. A Prometheus from Debian's package, started here on a
// loopback port with a temporary storage path, scrapes demo instances of several revisions
// through the shipped scrape job's own relabel rules (k8s/monitoring/prometheus-scrape-config.yaml;
// its Kubernetes pod discovery is replaced by static targets that carry the same
// __meta_kubernetes_* labels discovery would). Then the AnalysisTemplate's queries run with their
// args substituted, through the HTTP API, and their results are judged with the template's own
// success and failure conditions.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { find, loadFolder, substituteArgs, templateArgs, type K8sObject } from './manifests.js'
import { describeWith, toolMissing } from '../helpers/tools.js'
import { drive, freePort, startDemo, startProcess, waitFor, type Demo, type LoadResult, type Proc } from './processes.js'

const NAMESPACE = 'zerodrop'

const promMissing = toolMissing('prometheus') ?? toolMissing('promtool')

/** `result[0] <= 0.02` style conditions, the only form the templates use; anything else fails loudly. */
function evaluate(condition: string, value: number): boolean {
  const m = /^result\[0\]\s*(<=|<|>=|>)\s*([0-9.]+)$/.exec(condition.trim())
  if (!m) throw new Error(`expected a condition like 'result[0] <= 0.02', got '${condition}'`)
  const bound = Number(m[2])
  switch (m[1]) {
    case '<=': return value <= bound
    case '<': return value < bound
    case '>=': return value >= bound
    default: return value > bound
  }
}

/** Argo Rollouts' verdict for one measurement: NaN satisfies neither condition. */
function phase(metric: any, value: number): 'Successful' | 'Failed' | 'Inconclusive' {
  if (evaluate(metric.failureCondition, value)) return 'Failed'
  if (evaluate(metric.successCondition, value)) return 'Successful'
  return 'Inconclusive'
}

interface Revision {
  readonly hash: string
  readonly env: Record<string, string>
  readonly requests: number
  readonly concurrency: number
}

// stable: healthy and busy; bad: 20 % 500s; good: healthy; slow: p99 over budget; idle: too few
// requests to judge.
const revisions: Record<string, Revision> = {
  stable: { hash: 'stable-hash', env: {}, requests: 1600, concurrency: 4 },
  bad: { hash: 'bad-hash', env: { FAIL_RATE: '0.2' }, requests: 400, concurrency: 4 },
  good: { hash: 'good-hash', env: {}, requests: 400, concurrency: 4 },
  slow: { hash: 'slow-hash', env: { LATENCY_MS: '400' }, requests: 80, concurrency: 8 },
  idle: { hash: 'idle-hash', env: {}, requests: 10, concurrency: 1 },
}

describeWith('prometheus', promMissing, "the AnalysisTemplate's PromQL on a real Prometheus", () => {
  const demos: Record<string, Demo> = {}
  const load: Record<string, LoadResult> = {}
  let prometheus: Proc | undefined
  let promUrl = ''
  let dir = ''
  let health: K8sObject

  async function query(q: string): Promise<{ resultType: string; result: any[] }> {
    const res = await fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query: q })}`, { signal: AbortSignal.timeout(10_000) })
    const body = (await res.json()) as any
    if (body.status !== 'success') throw new Error(`query failed (${res.status}): ${body.errorType}: ${body.error}\n${q}`)
    return body.data
  }

  /** Run one of the template's metrics for a revision hash, as an AnalysisRun would. */
  async function measure(metricName: string, hash: string): Promise<{ value: number; phase: string; samples: number }> {
    const metric = health.spec.metrics.find((m: any) => m.name === metricName)
    const args = templateArgs(health, { 'canary-hash': hash, namespace: NAMESPACE })
    const q = substituteArgs(metric.provider.prometheus.query, args)
    const data = await query(q)
    expect(data.resultType).toBe('vector')
    const value = data.result.length > 0 ? Number(data.result[0].value[1]) : Number.NaN
    return { value, phase: phase(metric, value), samples: data.result.length }
  }

  beforeAll(async () => {
    health = find(loadFolder('canary'), 'AnalysisTemplate', 'zerodrop-health')
    const pod = find(loadFolder('canary'), 'Rollout').spec.template
    const podEnv = Object.fromEntries(pod.spec.containers[0].env.map((e: any) => [e.name, e.value]))
    dir = mkdtempSync(join(tmpdir(), 'zerodrop-prom-'))

    for (const [name, rev] of Object.entries(revisions)) {
      demos[name] = await startDemo(name, { ...podEnv, DRAIN_DELAY_MS: '0', APP_VERSION: name, ...rev.env })
    }

    // The shipped scrape job, discovery swapped for static targets with the labels pod discovery sets.
    const cm = find(loadFolder('monitoring'), 'ConfigMap', 'zerodrop-prometheus-scrape-config')
    const shipped = parse(cm.data!['prometheus.yml']!)
    const job = structuredClone(shipped.scrape_configs[0])
    delete job.kubernetes_sd_configs
    job.scrape_interval = '1s'
    job.scrape_timeout = '1s'
    job.static_configs = Object.entries(revisions).map(([name, rev], i) => ({
      targets: [`127.0.0.1:${demos[name]!.port}`],
      labels: {
        __meta_kubernetes_namespace: NAMESPACE,
        __meta_kubernetes_pod_name: `zerodrop-demo-${rev.hash}-${i}`,
        __meta_kubernetes_pod_container_port_name: 'http',
        __meta_kubernetes_pod_annotation_prometheus_io_scrape: pod.metadata.annotations['prometheus.io/scrape'],
        __meta_kubernetes_pod_annotation_prometheus_io_path: pod.metadata.annotations['prometheus.io/path'],
        // In the cluster this is the containerPort (3000); here each instance has its own port.
        __meta_kubernetes_pod_annotation_prometheus_io_port: String(demos[name]!.port),
        __meta_kubernetes_pod_label_rollouts_pod_template_hash: rev.hash,
      },
    }))
    const config = { global: { scrape_interval: '1s', evaluation_interval: '1s' }, scrape_configs: [job] }
    const configFile = join(dir, 'prometheus.yml')
    writeFileSync(configFile, stringify(config))
    execFileSync('promtool', ['check', 'config', configFile], { stdio: 'pipe' })

    const port = await freePort()
    promUrl = `http://127.0.0.1:${port}`
    prometheus = startProcess('prometheus', 'prometheus', [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ], { PATH: process.env.PATH })
    await waitFor(`prometheus on ${promUrl} to be ready`, 30_000, async () => {
      if (prometheus!.child.exitCode !== null) throw new Error(`prometheus exited: ${prometheus!.output()}`)
      const res = await fetch(`${promUrl}/-/ready`, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      return res.ok ? true : undefined
    })
    // All five targets up before the load, so every counter is seen from (near) zero.
    await waitFor('all targets up', 20_000, async () => {
      const d = await query('sum(up{job="zerodrop-demo"})')
      return Number(d.result[0]?.value[1]) === Object.keys(revisions).length ? true : undefined
    })

    await Promise.all(Object.entries(revisions).map(async ([name, rev]) => {
      // spread over 6 s (6 scrapes): a burst inside one scrape interval is invisible to rate()
      load[name] = await drive(`${demos[name]!.url}/`, rev.requests, rev.concurrency, 45_000, 6000)
    }))
    // Wait until Prometheus has scraped the final counts of every revision (and two more scrapes).
    for (const [name, rev] of Object.entries(revisions)) {
      const served = Object.values(load[name]!.byStatus).reduce((a, b) => a + b, 0)
      await waitFor(`prometheus to see ${served} requests of ${name}`, 20_000, async () => {
        const d = await query(`sum(http_request_duration_seconds_count{rollouts_pod_template_hash="${rev.hash}"})`)
        // >=: a request the client gave up on may still have been served and counted.
        return Number(d.result[0]?.value[1]) >= served ? true : undefined
      })
    }
    await new Promise((r) => setTimeout(r, 2500))
  }, 180_000)

  afterAll(async () => {
    await Promise.all([prometheus?.stop(15_000), ...Object.values(demos).map((d) => d.stop(15_000))])
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('the scrape job puts namespace and rollouts_pod_template_hash on the series', async () => {
    const d = await query('count by (namespace, rollouts_pod_template_hash) (http_request_duration_seconds_count)')
    const got = d.result.map((r: any) => `${r.metric.namespace}/${r.metric.rollouts_pod_template_hash}`).sort()
    expect(got).toEqual(Object.values(revisions).map((r) => `${NAMESPACE}/${r.hash}`).sort())
  })

  it("error rate of a failing canary is the canary's own, not the blend with stable, and fails the gate", async () => {
    const bad = load.bad!
    const served = Object.values(bad.byStatus).reduce((a, b) => a + b, 0)
    const actual = (bad.byStatus[500] ?? 0) / served
    const stableServed = Object.values(load.stable!.byStatus).reduce((a, b) => a + b, 0)
    const blend = (bad.byStatus[500] ?? 0) / (served + stableServed)
    expect(actual, 'the failing demo failed about FAIL_RATE of its requests').toBeGreaterThan(0.1)
    const m = await measure('error-rate', revisions.bad!.hash)
    expect(m.samples).toBe(1)
    expect(Math.abs(m.value - actual), `query ${m.value} vs the canary's actual ${actual}`).toBeLessThan(0.03)
    expect(Math.abs(m.value - blend), `query ${m.value} must not be the blend ${blend}`).toBeGreaterThan(0.05)
    expect(m.phase).toBe('Failed')
    console.info(`promql error rate: canary=${m.value.toFixed(4)} actual=${actual.toFixed(4)} blend=${blend.toFixed(4)} phase=${m.phase}`)
  })

  it('a healthy canary with no 5xx series yields 0, not an empty vector, and passes', async () => {
    expect(load.good!.byStatus[500] ?? 0).toBe(0)
    const none = await query('http_request_duration_seconds_count{rollouts_pod_template_hash="good-hash",status_code=~"5.."}')
    expect(none.result, 'precondition: the healthy canary has no 5xx series at all').toEqual([])
    const m = await measure('error-rate', revisions.good!.hash)
    expect(m).toEqual({ value: 0, phase: 'Successful', samples: 1 })
  })

  it('p99 is plausible: under budget for a healthy canary, over it for one with LATENCY_MS=400', async () => {
    const good = await measure('p99-latency', revisions.good!.hash)
    expect(good.value).toBeGreaterThan(0)
    expect(good.value).toBeLessThanOrEqual(0.3)
    expect(good.phase).toBe('Successful')
    const slow = await measure('p99-latency', revisions.slow!.hash)
    // LATENCY_MS=400 puts every request in the (0.3, 0.5] bucket or above; CPU noise from other
    // work on the machine can push the tail a bucket or two higher, never below 0.3.
    expect(slow.value).toBeGreaterThan(0.3)
    expect(slow.value).toBeLessThanOrEqual(2.5)
    expect(slow.phase).toBe('Failed')
    console.info(`promql p99: good=${good.value.toFixed(4)}s slow=${slow.value.toFixed(4)}s`)
  })

  it('too little traffic (or none) is NaN, which is Inconclusive, never a pass', async () => {
    const minSamples = Number(templateArgs(health, {})['min-samples'])
    expect(revisions.idle!.requests).toBeLessThan(minSamples)
    for (const hash of [revisions.idle!.hash, 'no-such-revision']) {
      for (const metric of ['error-rate', 'p99-latency']) {
        const m = await measure(metric, hash)
        expect(m.samples, `${metric} ${hash}: one sample, not an empty vector (an Error in Argo)`).toBe(1)
        expect(Number.isNaN(m.value), `${metric} ${hash}`).toBe(true)
        expect(m.phase, `${metric} ${hash}`).toBe('Inconclusive')
      }
    }
  })
})
