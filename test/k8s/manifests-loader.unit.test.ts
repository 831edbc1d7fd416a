// packages/fleet/src/manifests/manifests.ts: a k8s/ strategy folder becomes plain fleet options, and every
// field the fleet does not use is reported.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { resolveDeployOptions } from '@zerodrop/fleet'
import { loadManifests, formatManifestIssues } from '#fleet/manifests/manifests.js'
import { parseArgoDuration } from '#fleet/core/durations.js'
import { ManifestError } from '@zerodrop/fleet'
import { env, find, k8sDir, loadFolder, workload } from './manifests.js'

const temps: string[] = []
afterEach(() => {
  for (const t of temps.splice(0)) rmSync(t, { recursive: true, force: true })
})
function copyOf(folder: string): string {
  const dir = mkdtempSync(join(tmpdir(), `zerodrop-k8s-${folder}-`))
  temps.push(dir)
  cpSync(join(k8sDir, folder), dir, { recursive: true })
  return dir
}

describe('loadManifests', () => {
  it('rolling: replicas, grace, probes in ms, env and the rolling parameters, as the manifests say', () => {
    const { options, issues } = loadManifests(join(k8sDir, 'rolling'))
    const w = workload('rolling')
    const c = w.spec.template.spec.containers[0]
    expect(options.strategy).toBe('rolling')
    expect(options.replicas).toBe(w.spec.replicas)
    expect(options.terminationGracePeriodSeconds).toBe(w.spec.template.spec.terminationGracePeriodSeconds)
    expect(options.rolling).toEqual({ maxSurge: 1, maxUnavailable: 0, minReadySeconds: w.spec.minReadySeconds, progressDeadlineSeconds: w.spec.progressDeadlineSeconds })
    expect(options.probes.readiness).toEqual({
      path: '/readyz',
      periodMs: c.readinessProbe.periodSeconds * 1000,
      timeoutMs: c.readinessProbe.timeoutSeconds * 1000,
      successThreshold: c.readinessProbe.successThreshold,
      failureThreshold: c.readinessProbe.failureThreshold,
    })
    expect(options.probes.startup).toMatchObject({ path: '/startupz', failureThreshold: c.startupProbe.failureThreshold })
    expect(options.probes.liveness).toMatchObject({ path: '/livez', periodMs: c.livenessProbe.periodSeconds * 1000 })
    const podEnv = env(c)
    expect(options.env).toEqual({ DRAIN_DELAY_MS: podEnv.DRAIN_DELAY_MS, SHUTDOWN_TIMEOUT_MS: podEnv.SHUTDOWN_TIMEOUT_MS, GRACE_PERIOD_MS: podEnv.GRACE_PERIOD_MS })
    expect(options.containerPort).toBe(3000)
    expect(issues.filter((i) => i.severity === 'unknown')).toEqual([])
    // Reported, not silently ignored: what a cluster does that the fleet does not.
    const reported = issues.map((i) => `${i.object} ${i.path}`)
    expect(reported).toContain('PodDisruptionBudget/zerodrop-demo ')
    expect(reported).toContain('Deployment/zerodrop-demo spec.template.spec.containers.*.resources')
  })

  it("the rolling folder's options are accepted by the fleet's own option resolution", () => {
    const { options } = loadManifests(join(k8sDir, 'rolling'))
    const resolved = resolveDeployOptions({
      from: { command: ['node', 'demo/dist/server.js'], env: options.env },
      to: { command: ['node', 'demo/dist/server.js'], env: options.env },
      replicas: options.replicas,
      terminationGracePeriodSeconds: options.terminationGracePeriodSeconds,
      rolling: options.rolling,
      probes: options.probes,
    })
    expect(resolved.rolling).toMatchObject({ maxSurge: 1, maxUnavailable: 0, minReadySeconds: 10 })
    expect(resolved.probes.readiness.periodMs).toBe(5000)
    expect(resolved.terminationGracePeriodSeconds).toBe(30)
  })

  it('canary: the ladder, exact weights from the traffic router, and the analysis bounds', () => {
    const { options, issues } = loadManifests(join(k8sDir, 'canary'))
    expect(options.strategy).toBe('canary')
    expect(options.canary!.weights).toEqual([1, 5, 25, 50])
    expect(options.canary!.exactWeights).toBe(true)
    expect(options.canary!.trafficRouting).toBe('argoproj-labs/gatewayAPI')
    expect(options.canary!.progressDeadlineAbort).toBe(true)
    expect(options.canary!.steps.slice(0, 3)).toEqual([
      { setWeight: 1 },
      { pause: { durationMs: 60_000 } },
      { analysis: { templates: ['zerodrop-health'], args: {}, resolvedArgs: { 'canary-hash': 'podTemplateHashValue:Latest', namespace: 'fieldRef:metadata.namespace' } } },
    ])
    expect(options.analysis).toMatchObject({ maxErrorRate: 0.02, maxP99Ms: 300, intervalMs: 60_000, count: 3, failureLimit: 0, inconclusiveLimit: 1, minSamples: 50 })
    const tpl = find(loadFolder('canary'), 'AnalysisTemplate', 'zerodrop-health')
    expect(options.analysis!.metrics.map((m) => m.query)).toEqual(tpl.spec.metrics.map((m: any) => m.provider.prometheus.query))
    expect(issues.filter((i) => i.severity === 'unknown')).toEqual([])
    expect(issues.map((i) => i.object)).toContain('HTTPRoute/zerodrop-demo')
  })

  it('blue-green: services, promotion, scale-down delay and both analyses', () => {
    const { options, issues } = loadManifests(join(k8sDir, 'blue-green'))
    expect(options.strategy).toBe('blue-green')
    expect(options.blueGreen).toMatchObject({
      activeService: 'zerodrop-demo-active',
      previewService: 'zerodrop-demo-preview',
      autoPromotionEnabled: true,
      scaleDownDelaySeconds: 60,
      progressDeadlineAbort: true,
    })
    expect(options.blueGreen!.prePromotionAnalysis!.templates).toEqual(['zerodrop-preview-load', 'zerodrop-health'])
    expect(options.blueGreen!.postPromotionAnalysis!.templates).toEqual(['zerodrop-health'])
    expect(options.analysis).toMatchObject({ maxErrorRate: 0.02, maxP99Ms: 300 })
    expect(issues.filter((i) => i.severity === 'unknown')).toEqual([])
    expect(issues.find((i) => i.path === 'spec.metrics.*.provider.job')?.severity).toBe('unsupported')
  })

  it('reports unknown fields and kinds instead of ignoring them', () => {
    const dir = copyOf('canary')
    const rollout = readFileSync(join(dir, 'rollout.yaml'), 'utf8')
      .replace('  progressDeadlineAbort: true\n', '  progressDeadlineAbort: true\n  progresDeadlineAbort: true\n')
      .replace('      abortScaleDownDelaySeconds: 30\n', '      abortScaleDownDelaySeconds: 30\n      dynamicStableScale: true\n')
    writeFileSync(join(dir, 'rollout.yaml'), rollout)
    writeFileSync(join(dir, 'extra.yaml'), 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n')
    const { issues } = loadManifests(dir)
    const unknown = issues.filter((i) => i.severity === 'unknown').map((i) => `${i.file} ${i.object} ${i.path}`)
    expect(unknown).toEqual(expect.arrayContaining([
      'rollout.yaml Rollout/zerodrop-demo spec.progresDeadlineAbort',
      'rollout.yaml Rollout/zerodrop-demo spec.strategy.canary.dynamicStableScale',
      'extra.yaml Secret/s ',
    ]))
    expect(formatManifestIssues(issues).some((l) => l.startsWith('unknown rollout.yaml Rollout/zerodrop-demo spec.progresDeadlineAbort: '))).toBe(true)
  })

  it('fails with ZD_ERR_MANIFEST and says what it expected', () => {
    const thrown = (fn: () => unknown) => {
      try {
        fn()
      } catch (err) {
        return err as ManifestError
      }
      throw new Error('expected a ManifestError')
    }
    const none = thrown(() => loadManifests(join(k8sDir, 'monitoring')))
    expect(none).toBeInstanceOf(ManifestError)
    expect(none.code).toBe('ZD_ERR_MANIFEST')
    expect(none.message).toMatch(/expected exactly one Deployment or Rollout .* found 0; pass one strategy folder/)
    expect(thrown(() => loadManifests(join(k8sDir, 'no-such-folder'))).message).toMatch(/cannot read the manifest folder/)

    const dir = copyOf('canary')
    writeFileSync(join(dir, 'rollout.yaml'), readFileSync(join(dir, 'rollout.yaml'), 'utf8').replace('duration: 1m', 'duration: soon'))
    expect(thrown(() => loadManifests(dir)).message).toMatch(/steps\[1\]\.pause\.duration: expected a duration: .* instead got 'soon'/)
    rmSync(join(dir, 'analysis-templates.yaml'))
    writeFileSync(join(dir, 'rollout.yaml'), readFileSync(join(k8sDir, 'canary/rollout.yaml'), 'utf8'))
    expect(thrown(() => loadManifests(dir)).message).toMatch(/references AnalysisTemplate 'zerodrop-health', which is not in the folder/)
  })

  it("parses Argo Rollouts durations with the fleet's one parser, 1m30s included", () => {
    expect(parseArgoDuration('1m', 'x')).toBe(60_000)
    expect(parseArgoDuration(45, 'x')).toBe(45_000)
    // the manifests' own parser refused '1m30s', which --steps and the analysis options accept
    const dir = copyOf('canary')
    writeFileSync(join(dir, 'rollout.yaml'), readFileSync(join(k8sDir, 'canary/rollout.yaml'), 'utf8').replace('duration: 1m', 'duration: 1m30s'))
    writeFileSync(join(dir, 'analysis-templates.yaml'), readFileSync(join(k8sDir, 'canary/analysis-templates.yaml'), 'utf8').replace(/interval: 1m/g, 'interval: 1m30s'))
    const m = loadManifests(dir)
    expect(JSON.stringify(m)).toContain('"durationMs":90000')
    expect(JSON.stringify(m)).toContain('"intervalMs":90000')
    writeFileSync(join(dir, 'rollout.yaml'), readFileSync(join(k8sDir, 'canary/rollout.yaml'), 'utf8').replace('duration: 1m', 'duration: -1s'))
    expect(() => loadManifests(dir)).toThrow(ManifestError)
  })
})
