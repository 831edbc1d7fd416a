/**
 * `zerodrop deploy -f k8s/<strategy>/`: the fleet takes replicas, probes, grace period, strategy
 * parameters, canary steps and analysis thresholds from the manifests that ship, so a local run
 * exercises that configuration. Flags given on the command line win over the files.
 */
import { formatManifestIssues, loadManifests, type LoadedManifests, type ManifestIssue } from './manifests.js'
import type { DeployOptions, ProbesOptions, RollingOptions } from '../options/deploy.js'
import type { AnalysisSettings, BlueGreenOptions, CanaryOptions, CanaryStepInput } from '../options/progressive.js'

/** DeployOptions without the two revisions, which stay the caller's. */
export type ManifestDeployOptions = Omit<DeployOptions, 'from' | 'to'>

export interface FromManifests {
  readonly options: ManifestDeployOptions
  /** The container's env, for both revisions (DRAIN_DELAY_MS and friends). */
  readonly env: Readonly<Record<string, string>>
  /** Every field of the files the fleet does not use, and every liberty it takes with one. */
  readonly notes: readonly string[]
  readonly issues: readonly ManifestIssue[]
  readonly files: readonly string[]
}

export interface FromManifestsOptions {
  /**
   * Multiplies every duration read from the files that sets a pace (readiness and liveness probe
   * periods, pauses, analysis intervals, minReadySeconds, scale-down delays): 1 runs the
   * configuration at its real pace; a
   * canary ladder with 1-minute pauses and analyses takes a quarter of an hour, so a CI run may
   * use 0.05. Thresholds, counts and timeouts are never scaled: a probe timeout of 100 ms would
   * fail a healthy instance on a busy machine.
   * @default 1
   */
  readonly timeScale?: number
}

const scaleMs = (ms: number | undefined, k: number): number | undefined => (ms === undefined ? undefined : Math.max(1, Math.round(ms * k)))
const scaleS = (s: number | undefined, k: number): number | undefined => (s === undefined ? undefined : Math.round(s * k * 1000) / 1000)

/**
 * Readiness and liveness periods scale (never below 100 ms); timeouts do not (a timeout is a
 * threshold, not a pace), and neither does the startup probe: period × failureThreshold is the
 * time a process has to start, and a process does not start faster because CI is in a hurry.
 */
function probes(p: ProbesOptions, k: number): ProbesOptions {
  const one = (x: ProbesOptions['readiness']) => x && {
    ...x,
    ...(x.periodMs === undefined ? {} : { periodMs: Math.max(100, scaleMs(x.periodMs, k) ?? 0) }),
    ...(x.initialDelayMs === undefined ? {} : { initialDelayMs: scaleMs(x.initialDelayMs, k) }),
  }
  return { ...p, ...(p.readiness ? { readiness: one(p.readiness) } : {}), ...(p.liveness ? { liveness: one(p.liveness) } : {}) }
}

export function deployOptionsFromManifests(dir: string, opts: FromManifestsOptions = {}): FromManifests {
  const k = opts.timeScale ?? 1
  if (typeof k !== 'number' || !Number.isFinite(k) || k <= 0) throw new TypeError(`timeScale must be a positive number, instead got ${String(k)}`)
  const loaded: LoadedManifests = loadManifests(dir)
  const m = loaded.options
  const notes: string[] = []
  const options: { -readonly [K in keyof ManifestDeployOptions]: ManifestDeployOptions[K] } = {
    strategy: m.strategy,
    replicas: m.replicas,
    // the grace period bounds the drain the pod's env configures: scaling it would SIGKILL a correct drain
    terminationGracePeriodSeconds: m.terminationGracePeriodSeconds,
    probes: probes(m.probes, k),
  }
  if (m.preStopSleepSeconds > 0) notes.push(`preStop sleep of ${m.preStopSleepSeconds} s is not modelled: the fleet sends SIGTERM at once`)

  if (m.rolling) {
    const r: RollingOptions = { ...m.rolling, ...(m.rolling.minReadySeconds === undefined ? {} : { minReadySeconds: scaleS(m.rolling.minReadySeconds, k) }) }
    options.rolling = r
  }
  const progressive = m.blueGreen ?? m.canary
  if (progressive) {
    options.rolling = { minReadySeconds: scaleS(progressive.minReadySeconds, k), progressDeadlineSeconds: progressive.progressDeadlineSeconds }
    if (!progressive.progressDeadlineAbort) notes.push('progressDeadlineAbort is false: the fleet rolls back at the progress deadline all the same')
  }
  if (m.analysis) {
    const a = m.analysis
    const analysis: AnalysisSettings = {
      ...(a.maxErrorRate === undefined ? {} : { maxErrorRate: a.maxErrorRate }),
      ...(a.maxP99Ms === undefined ? {} : { maxP99Ms: a.maxP99Ms }),
      ...(a.intervalMs === undefined ? {} : { intervalMs: scaleMs(a.intervalMs, k) }),
      ...(a.count === undefined ? {} : { count: a.count }),
      ...(a.failureLimit === undefined ? {} : { failureLimit: a.failureLimit }),
      ...(a.inconclusiveLimit === undefined ? {} : { inconclusiveLimit: a.inconclusiveLimit }),
      ...(a.minSamples === undefined ? {} : { minSamples: a.minSamples }),
    }
    options.analysis = analysis
  }
  if (m.blueGreen) {
    const b = m.blueGreen
    const blueGreen: BlueGreenOptions = {
      scaleDownDelaySeconds: scaleS(b.scaleDownDelaySeconds, k) ?? 0,
      prePromotionAnalysis: b.prePromotionAnalysis !== undefined,
      postPromotionAnalysis: b.postPromotionAnalysis !== undefined,
    }
    options.blueGreen = blueGreen
    if (!b.autoPromotionEnabled) notes.push('autoPromotionEnabled is false: the fleet promotes once the pre-promotion analysis passes (there is nobody to run `kubectl argo rollouts promote`)')
  }
  if (m.canary) {
    const c = m.canary
    const steps: CanaryStepInput[] = []
    for (const step of c.steps) {
      if ('setWeight' in step) steps.push({ setWeight: step.setWeight })
      else if ('pause' in step) {
        if (step.pause.durationMs === undefined) {
          notes.push('an indefinite pause ({}) waits for a human in Argo; the fleet does not pause there')
          continue
        }
        steps.push({ pause: { durationMs: scaleMs(step.pause.durationMs, k) ?? 0 } })
      } else steps.push({ analysis: true })
    }
    // Argo promotes to 100 % after the last step; the fleet's ladder says so explicitly.
    if (!steps.some((s) => 'setWeight' in s && s.setWeight === 100)) steps.push({ setWeight: 100 })
    const canary: CanaryOptions = {
      steps,
      ...(c.abortScaleDownDelaySeconds === undefined ? {} : { abortScaleDownDelaySeconds: scaleS(c.abortScaleDownDelaySeconds, k) }),
    }
    options.canary = canary
    // With a traffic router a weight is an exact share of requests: the fleet's l7 router.
    options.router = c.exactWeights ? 'l7' : 'l4'
  }
  if (k !== 1) notes.push(`durations read from the files are scaled by ${k} (readiness and liveness probe periods, pauses, analysis intervals, minReadySeconds, scale-down delays; not timeouts, thresholds or the startup probe)`)
  notes.push(...formatManifestIssues(loaded.issues, dir))
  return { options, env: m.env, notes, issues: loaded.issues, files: loaded.files }
}

type Plain = Record<string, unknown>
const isPlain = (x: unknown): x is Plain => typeof x === 'object' && x !== null && !Array.isArray(x)

/** Deep merge where `over` wins; arrays and scalars in `over` replace those in `base`. */
export function mergeOptions<T extends object>(base: T, over: Partial<T>): T {
  const out: Plain = { ...(base as Plain) }
  for (const [key, value] of Object.entries(over as Plain)) {
    if (value === undefined) continue
    out[key] = isPlain(value) && isPlain(out[key]) ? mergeOptions(out[key] as Plain, value) : value
  }
  return out as T
}
