// The manifests agree with the code they deploy and with each other, so they cannot rot:
// probe paths and ports answer on a real demo instance started with the pod's own env; every
// metric a query reads is in the demo's real /metrics; the grace period covers the drain; the three
// strategies run the same pod; names that reference each other resolve.
import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { env, find, loadFolder, promqlMetricNames, strategyFolders, workload, type K8sObject } from './manifests.js'
import { drive, startDemo, type Demo } from './processes.js'

const workloads = Object.fromEntries(strategyFolders.map((f) => [f, workload(f)])) as Record<(typeof strategyFolders)[number], K8sObject>
const podSpec = (w: K8sObject) => w.spec.template.spec
const container = (w: K8sObject) => {
  const cs = podSpec(w).containers
  expect(cs, `${w.kind}/${w.metadata.name}: one container`).toHaveLength(1)
  return cs[0]
}

describe('the three strategies run the same pod', () => {
  it('pod templates are identical (labels, annotations, probes, env, resources, security, grace)', () => {
    const [first, ...rest] = strategyFolders
    for (const f of rest) {
      expect(workloads[f].spec.template, `k8s/${f} pod template vs k8s/${first}`).toEqual(workloads[first].spec.template)
    }
  })

  it('replicas, selector, minReadySeconds and revisionHistoryLimit are the same', () => {
    const pick = (w: K8sObject) => ({ replicas: w.spec.replicas, selector: w.spec.selector, minReadySeconds: w.spec.minReadySeconds, revisionHistoryLimit: w.spec.revisionHistoryLimit })
    for (const f of strategyFolders) expect(pick(workloads[f]), `k8s/${f}`).toEqual(pick(workloads.rolling))
  })

  it('the selector selects the pod template, and so do every Service, PDB and metrics Service', () => {
    for (const f of strategyFolders) {
      const labels = workloads[f].spec.template.metadata.labels
      const sel = workloads[f].spec.selector.matchLabels
      for (const [k, v] of Object.entries(sel)) expect(labels[k], `k8s/${f} selector ${k}`).toBe(v)
      for (const { file, object } of loadFolder(f)) {
        const s = object.kind === 'Service' ? object.spec.selector : object.kind === 'PodDisruptionBudget' ? object.spec.selector.matchLabels : undefined
        if (s === undefined) continue
        for (const [k, v] of Object.entries(s)) expect(labels[k], `${file} ${object.kind}/${object.metadata.name} selects ${k}=${v}`).toBe(v)
        if (object.kind === 'Service') {
          for (const p of object.spec.ports) {
            expect(container(workloads[f]).ports.map((cp: any) => cp.name), `${file} targetPort ${p.targetPort}`).toContain(p.targetPort)
          }
        }
      }
    }
    const monitoring = loadFolder('monitoring')
    const metricsSvc = find(monitoring, 'Service', 'zerodrop-demo-metrics')
    for (const [k, v] of Object.entries(metricsSvc.spec.selector)) expect(workloads.rolling.spec.template.metadata.labels[k]).toBe(v)
    const sm = find(monitoring, 'ServiceMonitor')
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) expect(metricsSvc.metadata.labels![k], `ServiceMonitor selects ${k}`).toBe(v)
    expect(metricsSvc.spec.ports.map((p: any) => p.name)).toContain(sm.spec.endpoints[0].port)
  })
})

describe('pod lifecycle settings', () => {
  const w = workloads.rolling
  const c = container(w)
  const e = env(c)

  it('terminationGracePeriodSeconds >= preStop + DRAIN_DELAY_MS + SHUTDOWN_TIMEOUT_MS, and the library is told the same budget', () => {
    const graceMs = podSpec(w).terminationGracePeriodSeconds * 1000
    const preStop = c.lifecycle?.preStop
    if (preStop !== undefined) {
      // The image has no shell tools to rely on, and during an exec'd sleep the app sends no Connection: close.
      expect(Object.keys(preStop), 'a preStop may only be the native sleep action').toEqual(['sleep'])
    }
    const preStopMs = (preStop?.sleep?.seconds ?? 0) * 1000
    const drain = Number(e.DRAIN_DELAY_MS)
    const timeout = Number(e.SHUTDOWN_TIMEOUT_MS)
    expect(Number.isFinite(drain) && Number.isFinite(timeout), 'DRAIN_DELAY_MS and SHUTDOWN_TIMEOUT_MS are set').toBe(true)
    expect(graceMs).toBeGreaterThanOrEqual(preStopMs + drain + timeout)
    expect(Number(e.GRACE_PERIOD_MS), 'GRACE_PERIOD_MS = terminationGracePeriodSeconds').toBe(graceMs)
  })

  it('probes use the library paths on the container port the demo listens on, and scrape annotations name it', () => {
    expect(c.startupProbe.httpGet.path).toBe('/startupz')
    expect(c.livenessProbe.httpGet.path).toBe('/livez')
    expect(c.readinessProbe.httpGet.path).toBe('/readyz')
    const port = c.ports.find((p: any) => p.name === c.readinessProbe.httpGet.port)
    expect(port, 'probe port name resolves to a container port').toBeDefined()
    for (const probe of [c.startupProbe, c.livenessProbe]) expect(probe.httpGet.port).toBe(c.readinessProbe.httpGet.port)
    expect(port.containerPort).toBe(3000)
    expect(e.PORT).toBe(String(port.containerPort))
    expect(e.HOST).toBe('0.0.0.0')
    const ann = w.spec.template.metadata.annotations
    expect(ann['prometheus.io/scrape']).toBe('true')
    expect(ann['prometheus.io/port']).toBe(String(port.containerPort))
    expect(ann['prometheus.io/path']).toBe('/metrics')
  })

  it('runs non-root with a read-only root filesystem and bounded resources', () => {
    expect(podSpec(w).securityContext.runAsNonRoot).toBe(true)
    expect(podSpec(w).securityContext.runAsUser).toBeGreaterThan(0)
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true)
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false)
    expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) })
    expect(c.resources.limits).toMatchObject({ memory: expect.any(String) })
    expect(c.image).toMatch(/^zerodrop-demo:/)
  })

  it('rolling: maxSurge 1, maxUnavailable 0, with minReadySeconds and a progress deadline', () => {
    expect(w.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } })
    expect(w.spec.minReadySeconds).toBeGreaterThan(0)
    expect(w.spec.progressDeadlineSeconds).toBeGreaterThan(w.spec.minReadySeconds)
  })
})

describe('the demo, started with the pod env, answers what the manifests probe and query', () => {
  let demo: Demo | undefined
  let failing: Demo | undefined
  const c = container(workloads.rolling)

  beforeAll(async () => {
    // The pod's env exactly (the library refuses to start if it is inconsistent); only PORT and
    // HOST are set to a free loopback port by startDemo.
    demo = await startDemo('pod-env', env(c))
    failing = await startDemo('failing', { ...env(c), DRAIN_DELAY_MS: '0', FAIL_RATE: '0.5' })
  })
  afterAll(async () => {
    await Promise.all([demo?.stop(), failing?.stop()])
  })

  it('every probe path answers 200 on the running instance', async () => {
    for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) {
      const res = await fetch(`${demo!.url}${probe.httpGet.path}`, { signal: AbortSignal.timeout(probe.timeoutSeconds * 1000) })
      await res.arrayBuffer()
      expect(res.status, probe.httpGet.path).toBe(200)
    }
  })

  it('every metric name in every AnalysisTemplate query is in the real /metrics output', async () => {
    await drive(`${failing!.url}/`, 40, 2)
    const text = await (await fetch(`${failing!.url}/metrics`)).text()
    const exposed = new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.replace(/[{ ].*$/, '')))
    const labelsSeen = new Set([...text.matchAll(/([a-z_]+)="/g)].map((m) => m[1]!))
    let checked = 0
    for (const f of ['blue-green', 'canary']) {
      for (const { file, object } of loadFolder(f)) {
        if (object.kind !== 'AnalysisTemplate') continue
        for (const m of object.spec.metrics) {
          const query = m.provider.prometheus?.query
          if (query === undefined) continue
          const names = promqlMetricNames(query)
          expect(names.length, `${file} ${m.name}: reads at least one metric`).toBeGreaterThan(0)
          for (const n of names) {
            expect(exposed.has(n), `${file} metric ${m.name} reads ${n}, which the demo does not expose`).toBe(true)
            checked++
          }
          // Labels the app must provide (the others come from the scrape config's relabelling).
          for (const label of [...query.matchAll(/[{,]\s*([a-z_]+)\s*=~?/g)].map((x) => x[1]!)) {
            if (label === 'namespace' || label === 'rollouts_pod_template_hash') continue
            expect(labelsSeen.has(label), `${file} ${m.name}: label ${label} is on the demo's series`).toBe(true)
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(0)
    expect(text).toMatch(/http_request_duration_seconds_count\{[^}]*status_code="500"/)
  })

  it('during the drain /readyz fails and /livez still passes, and the exit is clean within the grace period', async () => {
    const d = demo!
    const started = Date.now()
    d.child.kill('SIGTERM')
    // The signal is delivered asynchronously: poll, bounded well inside one probe period.
    let ready = await fetch(`${d.url}/readyz`, { signal: AbortSignal.timeout(2000) })
    await ready.arrayBuffer()
    while (ready.status === 200 && Date.now() - started < 2000) {
      await new Promise((r) => setTimeout(r, 20))
      ready = await fetch(`${d.url}/readyz`, { signal: AbortSignal.timeout(2000) })
      await ready.arrayBuffer()
    }
    const live = await fetch(`${d.url}/livez`, { signal: AbortSignal.timeout(2000) })
    await live.arrayBuffer()
    expect(ready.status, 'readiness fails at once, so the pod leaves the endpoints').toBe(503)
    expect(live.status, 'liveness passes, so the kubelet does not restart a draining pod').toBe(200)
    const code = await d.stop(40_000)
    demo = undefined
    expect(code).toBe(0)
    expect(Date.now() - started).toBeLessThan(podSpec(workloads.rolling).terminationGracePeriodSeconds * 1000)
  })

  it("the blue-green preview-load Job's script drives bounded load at the preview and fails when it is unreachable", async () => {
    const tpl = find(loadFolder('blue-green'), 'AnalysisTemplate', 'zerodrop-preview-load')
    const job = tpl.spec.metrics[0].provider.job.spec.template.spec.containers[0]
    expect(job.command[0]).toBe('node')
    const run = (target: string) =>
      spawnSync(process.execPath, [...job.command.slice(1), ...job.args], {
        env: { PATH: process.env.PATH, TARGET_URL: target, REQUESTS: '12', MAX_SECONDS: '15' },
        encoding: 'utf8',
        timeout: 30_000,
      })
    const ok = run(`${failing!.url}/`)
    expect(ok.status, ok.stderr).toBe(0)
    expect(JSON.parse(ok.stdout.trim())).toMatchObject({ msg: 'preview load done', sent: 12 })
    const down = run('http://127.0.0.1:9/')
    expect(down.status, 'nothing reachable: the Job fails').toBe(1)
  })
})

describe('references resolve', () => {
  it('blue-green: both Services exist, analysis templates exist and every required arg is passed', () => {
    const docs = loadFolder('blue-green')
    const bg = workloads['blue-green'].spec.strategy.blueGreen
    find(docs, 'Service', bg.activeService)
    find(docs, 'Service', bg.previewService)
    expect(bg.activeService).not.toBe(bg.previewService)
    for (const a of [bg.prePromotionAnalysis, bg.postPromotionAnalysis]) checkAnalysisRef(docs, a)
    expect(bg.scaleDownDelaySeconds).toBeGreaterThanOrEqual(30)
    expect(bg.prePromotionAnalysis.templates.map((t: any) => t.templateName)).toContain('zerodrop-preview-load')
    const load = find(docs, 'AnalysisTemplate', 'zerodrop-preview-load')
    expect(load.spec.args.find((a: any) => a.name === 'preview-url').value).toContain(`${bg.previewService}.zerodrop.svc`)
  })

  it('canary: Services, HTTPRoute and plugin config agree; the ladder is 1 -> 5 -> 25 -> 50 -> 100 with analysis after each weight', () => {
    const docs = loadFolder('canary')
    const canary = workloads.canary.spec.strategy.canary
    find(docs, 'Service', canary.stableService)
    find(docs, 'Service', canary.canaryService)
    const plugin = canary.trafficRouting.plugins['argoproj-labs/gatewayAPI']
    const route = find(docs, 'HTTPRoute', plugin.httpRoute)
    expect(plugin.namespace).toBe(route.metadata.namespace)
    const refs = route.spec.rules[0].backendRefs
    expect(refs.map((r: any) => [r.name, r.weight])).toEqual([[canary.stableService, 100], [canary.canaryService, 0]])
    expect(workloads.canary.spec.progressDeadlineAbort).toBe(true)
    const weights: number[] = []
    canary.steps.forEach((s: any, i: number) => {
      if (s.setWeight === undefined) return
      weights.push(s.setWeight)
      expect(canary.steps[i + 1]?.pause?.duration, `a pause fills the query window after setWeight ${s.setWeight}`).toBeDefined()
      const analysis = canary.steps[i + 2]?.analysis
      expect(analysis, `analysis after setWeight ${s.setWeight}`).toBeDefined()
      checkAnalysisRef(docs, analysis)
    })
    expect(weights).toEqual([1, 5, 25, 50])
  })

  it('zerodrop-health is the same in blue-green and canary, and gates on the fleet defaults (error rate <= 2 %, p99 <= 300 ms)', () => {
    const a = find(loadFolder('blue-green'), 'AnalysisTemplate', 'zerodrop-health')
    const b = find(loadFolder('canary'), 'AnalysisTemplate', 'zerodrop-health')
    expect(a).toEqual(b)
    const byName = Object.fromEntries(a.spec.metrics.map((m: any) => [m.name, m]))
    expect(byName['error-rate']).toMatchObject({ successCondition: 'result[0] <= 0.02', failureCondition: 'result[0] > 0.02' })
    expect(byName['p99-latency']).toMatchObject({ successCondition: 'result[0] <= 0.3', failureCondition: 'result[0] > 0.3' })
    for (const m of a.spec.metrics) {
      expect(m.failureLimit, m.name).toBeTypeOf('number')
      expect(m.inconclusiveLimit, m.name).toBeTypeOf('number')
      expect(m.provider.prometheus.query, `${m.name} selects the canary revision only`).toContain('rollouts_pod_template_hash="{{args.canary-hash}}"')
    }
    expect(byName['error-rate'].provider.prometheus.query).toContain('or vector(0)')
  })
})

function checkAnalysisRef(docs: ReturnType<typeof loadFolder>, ref: any) {
  const passed = new Map<string, any>((ref.args ?? []).map((a: any) => [a.name, a]))
  for (const t of ref.templates) {
    const tpl = find(docs, 'AnalysisTemplate', t.templateName)
    for (const arg of tpl.spec.args ?? []) {
      if (arg.value === undefined && arg.valueFrom === undefined) {
        expect(passed.has(arg.name), `${t.templateName} needs arg ${arg.name}`).toBe(true)
      }
    }
  }
  if (passed.has('canary-hash')) expect(passed.get('canary-hash').valueFrom).toEqual({ podTemplateHashValue: 'Latest' })
}
