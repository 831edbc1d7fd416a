/**
 * Reads a k8s/ strategy folder (a Deployment, or an Argo Rollouts Rollout with its
 * AnalysisTemplates) into plain fleet options, so a local run exercises the configuration that
 * ships. Every field the fleet does not use is reported — `unsupported` when it is a
 * known Kubernetes field the fleet does not model, `unknown` when the loader does not know it at
 * all (a typo, or a newer API field) — never silently dropped.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { parseArgoDuration } from '../core/durations.js'
import { ManifestError } from '../core/errors.js'
import type { ProbeOptions, ProbesOptions, RollingOptions } from '../options/deploy.js'

export type ManifestStrategy = 'rolling' | 'blue-green' | 'canary'

export interface ManifestIssue {
  /** `unsupported`: a known field the fleet does not model; `unknown`: a field the loader does not know. */
  readonly severity: 'unsupported' | 'unknown'
  readonly file: string
  /** `Kind/name` of the document. */
  readonly object: string
  /** Dotted path in the document; `*` stands for list indexes collapsed into one report. */
  readonly path: string
  readonly message: string
}

/** An Argo Rollouts analysis reference: which templates, with which args. */
export interface AnalysisRef {
  readonly templates: readonly string[]
  /** Literal args; valueFrom args are listed in `resolvedArgs` with what the fleet substitutes. */
  readonly args: Readonly<Record<string, string>>
  /** Args Argo resolves at run time, e.g. `canary-hash` from `podTemplateHashValue: Latest`. */
  readonly resolvedArgs: Readonly<Record<string, string>>
}

export type CanaryStep =
  | { readonly setWeight: number }
  /** `durationMs` undefined: pause until promoted by hand (Argo's `pause: {}`). */
  | { readonly pause: { readonly durationMs: number | undefined } }
  | { readonly analysis: AnalysisRef }

/** One Prometheus metric of an AnalysisTemplate, with its bound read from its conditions. */
export interface AnalysisMetric {
  readonly template: string
  readonly name: string
  readonly query: string
  readonly intervalMs: number | undefined
  readonly count: number | undefined
  readonly failureLimit: number
  readonly inconclusiveLimit: number
  readonly consecutiveErrorLimit: number
  readonly successCondition: string | undefined
  readonly failureCondition: string | undefined
  /** `result[0] <= X` in successCondition: the highest passing value. */
  readonly max: number | undefined
}

/** The gate the fleet's analysis applies, in its own terms (`--max-error-rate`, `--max-p99-ms`, ...). */
export interface AnalysisOptions {
  readonly maxErrorRate: number | undefined
  readonly maxP99Ms: number | undefined
  readonly intervalMs: number | undefined
  readonly count: number | undefined
  readonly failureLimit: number | undefined
  readonly inconclusiveLimit: number | undefined
  readonly minSamples: number | undefined
  /** Every Prometheus metric as written, for a run against a real Prometheus. */
  readonly metrics: readonly AnalysisMetric[]
}

export interface BlueGreenManifestOptions {
  readonly activeService: string
  readonly previewService: string
  readonly autoPromotionEnabled: boolean
  readonly scaleDownDelaySeconds: number
  readonly prePromotionAnalysis: AnalysisRef | undefined
  readonly postPromotionAnalysis: AnalysisRef | undefined
  readonly minReadySeconds: number
  readonly progressDeadlineSeconds: number
  readonly progressDeadlineAbort: boolean
}

export interface CanaryManifestOptions {
  readonly steps: readonly CanaryStep[]
  /** The ladder of setWeight values, e.g. [1, 5, 25, 50]; promotion to 100 follows the last step. */
  readonly weights: readonly number[]
  /** `true` when a traffic router makes a weight an exact share of requests (the fleet's `l7`). */
  readonly exactWeights: boolean
  readonly trafficRouting: string | undefined
  readonly stableService: string | undefined
  readonly canaryService: string | undefined
  readonly abortScaleDownDelaySeconds: number | undefined
  readonly minReadySeconds: number
  readonly progressDeadlineSeconds: number
  readonly progressDeadlineAbort: boolean
}

/** Plain options, named like the fleet's DeployOptions where the fleet has the field. */
export interface ManifestOptions {
  readonly strategy: ManifestStrategy
  readonly name: string
  readonly replicas: number
  readonly terminationGracePeriodSeconds: number
  readonly probes: ProbesOptions
  /** The container's env (PORT and HOST left out: the fleet sets them per instance). */
  readonly env: Readonly<Record<string, string>>
  /** The container port the probes and Services target. */
  readonly containerPort: number | undefined
  readonly image: string | undefined
  /** Seconds of a native preStop `sleep`, 0 without one. */
  readonly preStopSleepSeconds: number
  readonly rolling: RollingOptions | undefined
  readonly blueGreen: BlueGreenManifestOptions | undefined
  readonly canary: CanaryManifestOptions | undefined
  readonly analysis: AnalysisOptions | undefined
}

export interface LoadedManifests {
  readonly options: ManifestOptions
  readonly issues: readonly ManifestIssue[]
  /** Files read, relative to the folder. */
  readonly files: readonly string[]
}

interface Doc {
  readonly file: string
  readonly obj: Record<string, any>
}

// ---- reading ----------------------------------------------------------------------------------

function readFolder(dir: string): Doc[] {
  let entries: string[]
  try {
    if (!statSync(dir).isDirectory()) throw new ManifestError(`expected a folder of Kubernetes manifests, instead got the file '${dir}'`)
    entries = readdirSync(dir)
  } catch (err) {
    if (err instanceof ManifestError) throw err
    throw new ManifestError(`cannot read the manifest folder '${dir}': ${(err as Error).message}`, { cause: err })
  }
  const files = entries.filter((f) => /\.ya?ml$/.test(f) && !/^kustomization\.ya?ml$/.test(f)).sort()
  if (files.length === 0) throw new ManifestError(`expected .yaml manifests in '${dir}', found none`)
  const docs: Doc[] = []
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8')
    for (const [i, doc] of parseAllDocuments(text, { uniqueKeys: true }).entries()) {
      if (doc.errors.length > 0) {
        throw new ManifestError(`${f} document ${i}: not valid YAML: ${doc.errors[0]!.message}`, { file: f })
      }
      const obj = doc.toJS() as unknown
      if (obj === null || obj === undefined) continue
      if (typeof obj !== 'object' || Array.isArray(obj) || typeof (obj as any).kind !== 'string') {
        throw new ManifestError(`${f} document ${i}: expected a Kubernetes object with 'kind', instead got ${JSON.stringify(obj).slice(0, 80)}`, { file: f })
      }
      docs.push({ file: f, obj: obj as Record<string, any> })
    }
  }
  return docs
}

// ---- field accounting: every leaf is used, unsupported (with a reason) or unknown ---------------

type Rule = readonly [pattern: string, status: 'used' | string]

const CLUSTER_ONLY = 'cluster-only: the fleet runs processes on one machine'
const POD_RULES: Rule[] = [
  ['metadata.labels', 'used'],
  ['metadata.annotations', 'scrape annotations: the fleet scrapes /metrics of each instance itself'],
  ['spec.terminationGracePeriodSeconds', 'used'],
  ['spec.containers.*.name', 'used'],
  ['spec.containers.*.image', 'the fleet runs the --from/--to commands, not images'],
  ['spec.containers.*.imagePullPolicy', CLUSTER_ONLY],
  ['spec.containers.*.ports.*.name', 'used'],
  ['spec.containers.*.ports.*.containerPort', 'used'],
  ['spec.containers.*.ports.*.protocol', 'used'],
  ['spec.containers.*.env.*.name', 'used'],
  ['spec.containers.*.env.*.value', 'used'],
  ['spec.containers.*.startupProbe', 'used'],
  ['spec.containers.*.readinessProbe', 'used'],
  ['spec.containers.*.livenessProbe', 'used'],
  ['spec.containers.*.lifecycle.preStop.sleep.seconds', 'used'],
  ['spec.containers.*.resources', 'resource requests and limits are not enforced on local processes'],
  ['spec.containers.*.securityContext', 'security context is not applied to local processes'],
  ['spec.containers.*.volumeMounts', CLUSTER_ONLY],
  ['spec.securityContext', 'security context is not applied to local processes'],
  ['spec.automountServiceAccountToken', CLUSTER_ONLY],
  ['spec.enableServiceLinks', CLUSTER_ONLY],
  ['spec.volumes', CLUSTER_ONLY],
]

const PROBE_FIELDS = new Set(['httpGet', 'initialDelaySeconds', 'periodSeconds', 'timeoutSeconds', 'successThreshold', 'failureThreshold'])

const WORKLOAD_COMMON: Rule[] = [
  ['apiVersion', 'used'],
  ['kind', 'used'],
  ['metadata.name', 'used'],
  ['metadata.namespace', 'used'],
  ['metadata.labels', 'used'],
  ['spec.replicas', 'used'],
  ['spec.selector', 'used'],
  ['spec.minReadySeconds', 'used'],
  ['spec.progressDeadlineSeconds', 'used'],
  ['spec.revisionHistoryLimit', 'the fleet keeps no revision history'],
  ...POD_RULES.map(([p, s]) => [`spec.template.${p}`, s] as const),
]

const RULES: Record<string, Rule[]> = {
  Deployment: [
    ...WORKLOAD_COMMON,
    ['spec.strategy.type', 'used'],
    ['spec.strategy.rollingUpdate.maxSurge', 'used'],
    ['spec.strategy.rollingUpdate.maxUnavailable', 'used'],
  ],
  Rollout: [
    ...WORKLOAD_COMMON,
    ['spec.progressDeadlineAbort', 'used'],
    ['spec.strategy.blueGreen.activeService', 'used'],
    ['spec.strategy.blueGreen.previewService', 'used'],
    ['spec.strategy.blueGreen.autoPromotionEnabled', 'used'],
    ['spec.strategy.blueGreen.scaleDownDelaySeconds', 'used'],
    ['spec.strategy.blueGreen.prePromotionAnalysis', 'used'],
    ['spec.strategy.blueGreen.postPromotionAnalysis', 'used'],
    ['spec.strategy.canary.stableService', 'used'],
    ['spec.strategy.canary.canaryService', 'used'],
    ['spec.strategy.canary.steps', 'used'],
    ['spec.strategy.canary.abortScaleDownDelaySeconds', 'used'],
    ['spec.strategy.canary.trafficRouting', 'used'],
  ],
  AnalysisTemplate: [
    ['apiVersion', 'used'],
    ['kind', 'used'],
    ['metadata.name', 'used'],
    ['metadata.namespace', 'used'],
    ['metadata.labels', 'used'],
    ['spec.args', 'used'],
    ['spec.metrics.*.name', 'used'],
    ['spec.metrics.*.interval', 'used'],
    ['spec.metrics.*.count', 'used'],
    ['spec.metrics.*.successCondition', 'used'],
    ['spec.metrics.*.failureCondition', 'used'],
    ['spec.metrics.*.failureLimit', 'used'],
    ['spec.metrics.*.inconclusiveLimit', 'used'],
    ['spec.metrics.*.consecutiveErrorLimit', 'used'],
    ['spec.metrics.*.provider.prometheus', 'used'],
    ['spec.metrics.*.provider.job', "a Job metric: the fleet's own analysis drives synthetic load on the preview instead"],
  ],
  Service: [['', 'the fleet router stands in for Services (stable/canary, active/preview)']],
  PodDisruptionBudget: [['', 'no voluntary disruptions (node drains) happen on one machine']],
  HTTPRoute: [['', "the fleet's l7 router stands in for the Gateway API route and its weights"]],
  ServiceMonitor: [['', 'the fleet scrapes each instance itself, or a Prometheus given by URL']],
  ConfigMap: [['', 'not read by the fleet']],
}

function matches(pattern: string, path: string[]): boolean {
  if (pattern === '') return true
  const p = pattern.split('.')
  if (p.length > path.length) return false
  return p.every((seg, i) => seg === '*' || seg === path[i])
}

function account(doc: Doc, issues: ManifestIssue[]): void {
  const rules = RULES[doc.obj.kind as string]
  const object = `${doc.obj.kind}/${doc.obj.metadata?.name ?? '?'}`
  if (rules === undefined) {
    issues.push({ severity: 'unknown', file: doc.file, object, path: '', message: `kind ${doc.obj.kind} is not known to the fleet; ignored` })
    return
  }
  const seen = new Set<string>()
  const report = (severity: ManifestIssue['severity'], path: string, message: string) => {
    const key = `${severity} ${path}`
    if (seen.has(key)) return
    seen.add(key)
    issues.push({ severity, file: doc.file, object, path, message })
  }
  const walk = (value: unknown, path: string[]) => {
    // The walk descends one segment at a time, so the first rule as long as the path is the one.
    const rule = rules.find(([pattern]) => (pattern === '' ? 0 : pattern.split('.').length) === path.length && matches(pattern, path))
    if (rule !== undefined) {
      const [pattern, status] = rule
      if (status !== 'used') report('unsupported', pattern === '' ? '' : pattern, status)
      else if (/Probe$/.test(path[path.length - 1] ?? '') && value && typeof value === 'object') checkProbe(value as Record<string, unknown>, path)
      return
    }
    if (value !== null && typeof value === 'object') {
      const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value)
      if (entries.length > 0) {
        for (const [k, v] of entries) walk(v, [...path, k])
        return
      }
    }
    report('unknown', collapse(path), 'not a field the fleet knows; it is ignored — check the spelling')
  }
  const checkProbe = (probe: Record<string, unknown>, path: string[]) => {
    for (const [k, v] of Object.entries(probe)) {
      if (!PROBE_FIELDS.has(k)) report('unsupported', `${collapse(path)}.${k}`, `probe field ${k} is not modelled; the fleet polls httpGet probes only`)
      else if (k === 'httpGet') {
        for (const hk of Object.keys(v as object)) {
          if (hk !== 'path' && hk !== 'port') report('unsupported', `${collapse(path)}.httpGet.${hk}`, `httpGet.${hk} is not modelled`)
        }
      }
    }
  }
  walk(doc.obj, [])
}

const collapse = (path: string[]) => path.map((p) => (/^\d+$/.test(p) ? '*' : p)).join('.')

// ---- conversions ---------------------------------------------------------------------------------

/** Argo Rollouts durations (core/durations), as a ManifestError naming the file and field. */
function manifestDuration(value: unknown, where: string): number {
  try {
    return parseArgoDuration(value, where)
  } catch (err) {
    throw new ManifestError((err as Error).message, { cause: err })
  }
}

function probeOptions(probe: any, defaultPath: string): ProbeOptions | undefined {
  if (probe === undefined) return { enabled: false }
  const path = probe.httpGet?.path
  const out: ProbeOptions = {
    path: typeof path === 'string' ? path : defaultPath,
    ...(probe.initialDelaySeconds !== undefined && { initialDelayMs: probe.initialDelaySeconds * 1000 }),
    // Kubernetes defaults, so an omitted field means what it means in a cluster.
    periodMs: (probe.periodSeconds ?? 10) * 1000,
    timeoutMs: (probe.timeoutSeconds ?? 1) * 1000,
    successThreshold: probe.successThreshold ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
  }
  return out
}

function analysisRef(ref: any, where: string): AnalysisRef | undefined {
  if (ref === undefined) return undefined
  const templates = (ref.templates ?? []).map((t: any) => {
    if (t.clusterScope) throw new ManifestError(`${where}: ClusterAnalysisTemplate '${t.templateName}' is not in the folder; expected an AnalysisTemplate`)
    return String(t.templateName)
  })
  const args: Record<string, string> = {}
  const resolvedArgs: Record<string, string> = {}
  for (const a of ref.args ?? []) {
    if (typeof a.value === 'string') args[a.name] = a.value
    else if (a.valueFrom?.podTemplateHashValue !== undefined) resolvedArgs[a.name] = `podTemplateHashValue:${a.valueFrom.podTemplateHashValue}`
    else if (a.valueFrom?.fieldRef?.fieldPath !== undefined) resolvedArgs[a.name] = `fieldRef:${a.valueFrom.fieldRef.fieldPath}`
    else resolvedArgs[a.name] = 'valueFrom'
  }
  return { templates, args, resolvedArgs }
}

function conditionMax(condition: unknown): number | undefined {
  if (typeof condition !== 'string') return undefined
  const m = /^\s*result\[0\]\s*<=?\s*([0-9.]+)\s*$/.exec(condition)
  return m ? Number(m[1]) : undefined
}

function analysisOptions(docs: Doc[], refs: (AnalysisRef | undefined)[], issues: ManifestIssue[]): AnalysisOptions | undefined {
  const names = new Set(refs.flatMap((r) => r?.templates ?? []))
  if (names.size === 0) return undefined
  const metrics: AnalysisMetric[] = []
  let minSamples: number | undefined
  for (const name of names) {
    const tpl = docs.find((d) => d.obj.kind === 'AnalysisTemplate' && d.obj.metadata?.name === name)
    if (tpl === undefined) {
      throw new ManifestError(`the Rollout references AnalysisTemplate '${name}', which is not in the folder; expected one of: ${docs.filter((d) => d.obj.kind === 'AnalysisTemplate').map((d) => d.obj.metadata?.name).join(', ') || 'none'}`)
    }
    for (const a of tpl.obj.spec?.args ?? []) if (a.name === 'min-samples' && a.value !== undefined) minSamples = Number(a.value)
    for (const m of tpl.obj.spec?.metrics ?? []) {
      if (m.provider?.prometheus === undefined) continue
      metrics.push({
        template: name,
        name: String(m.name),
        query: String(m.provider.prometheus.query),
        intervalMs: m.interval === undefined ? undefined : manifestDuration(m.interval, `${tpl.file} ${name}.${m.name}.interval`),
        count: m.count,
        failureLimit: m.failureLimit ?? 0,
        inconclusiveLimit: m.inconclusiveLimit ?? 0,
        consecutiveErrorLimit: m.consecutiveErrorLimit ?? 4,
        successCondition: m.successCondition,
        failureCondition: m.failureCondition,
        max: conditionMax(m.successCondition),
      })
    }
  }
  const errorRate = metrics.find((m) => /error/.test(m.name))
  const p99 = metrics.find((m) => /p99|latency/.test(m.name))
  for (const m of metrics) {
    if (m.max === undefined) {
      issues.push({ severity: 'unsupported', file: '', object: `AnalysisTemplate/${m.template}`, path: `metrics.${m.name}.successCondition`, message: `only 'result[0] <= X' conditions map onto the fleet's bounds; got ${JSON.stringify(m.successCondition)}` })
    }
  }
  const first = errorRate ?? metrics[0]
  return {
    maxErrorRate: errorRate?.max,
    maxP99Ms: p99?.max === undefined ? undefined : Math.round(p99.max * 1000),
    intervalMs: first?.intervalMs,
    count: first?.count,
    failureLimit: first?.failureLimit,
    inconclusiveLimit: first?.inconclusiveLimit,
    minSamples,
    metrics,
  }
}

// ---- entry point ---------------------------------------------------------------------------------

/** Load a k8s/ strategy folder (e.g. `k8s/canary`) into fleet options plus every field it does not use. */
export function loadManifests(dir: string): LoadedManifests {
  const docs = readFolder(dir)
  const workloads = docs.filter((d) => d.obj.kind === 'Deployment' || d.obj.kind === 'Rollout')
  if (workloads.length !== 1) {
    throw new ManifestError(
      `expected exactly one Deployment or Rollout in '${dir}', found ${workloads.length}${workloads.length ? `: ${workloads.map((w) => w.file).join(', ')}` : ''}; pass one strategy folder such as k8s/rolling, k8s/blue-green or k8s/canary`,
    )
  }
  const w = workloads[0]!
  const spec = w.obj.spec ?? {}
  const where = `${w.file} ${w.obj.kind}/${w.obj.metadata?.name}`
  const issues: ManifestIssue[] = []
  for (const d of docs) account(d, issues)

  const containers = spec.template?.spec?.containers ?? []
  if (containers.length !== 1) throw new ManifestError(`${where}: expected one container in the pod template, found ${containers.length}`, { file: w.file })
  const c = containers[0]
  const env: Record<string, string> = {}
  for (const e of c.env ?? []) {
    if (e.value === undefined) continue
    if (e.name === 'PORT' || e.name === 'HOST') continue
    env[e.name] = String(e.value)
  }
  const preStop = c.lifecycle?.preStop
  if (preStop !== undefined && preStop.sleep === undefined) {
    issues.push({ severity: 'unsupported', file: w.file, object: `${w.obj.kind}/${w.obj.metadata?.name}`, path: 'spec.template.spec.containers.*.lifecycle.preStop', message: 'only the native sleep preStop action is modelled' })
  }

  const base = {
    name: String(w.obj.metadata?.name),
    replicas: spec.replicas ?? 1,
    terminationGracePeriodSeconds: spec.template?.spec?.terminationGracePeriodSeconds ?? 30,
    probes: {
      startup: probeOptions(c.startupProbe, '/startupz'),
      readiness: probeOptions(c.readinessProbe, '/readyz'),
      liveness: probeOptions(c.livenessProbe, '/livez'),
    },
    env,
    containerPort: c.ports?.[0]?.containerPort,
    image: c.image,
    preStopSleepSeconds: preStop?.sleep?.seconds ?? 0,
  }
  const minReadySeconds = spec.minReadySeconds ?? 0
  const progressDeadlineSeconds = spec.progressDeadlineSeconds ?? 600

  if (w.obj.kind === 'Deployment') {
    const s = spec.strategy ?? {}
    if (s.type !== undefined && s.type !== 'RollingUpdate') throw new ManifestError(`${where}: strategy ${s.type} is not supported; expected RollingUpdate`, { file: w.file })
    return {
      options: {
        strategy: 'rolling',
        ...base,
        // Kubernetes' defaults when omitted.
        rolling: { maxSurge: s.rollingUpdate?.maxSurge ?? '25%', maxUnavailable: s.rollingUpdate?.maxUnavailable ?? '25%', minReadySeconds, progressDeadlineSeconds },
        blueGreen: undefined,
        canary: undefined,
        analysis: undefined,
      },
      issues,
      files: [...new Set(docs.map((d) => d.file))],
    }
  }

  const progressDeadlineAbort = spec.progressDeadlineAbort ?? false
  const bg = spec.strategy?.blueGreen
  const canary = spec.strategy?.canary
  if ((bg === undefined) === (canary === undefined)) throw new ManifestError(`${where}: expected exactly one of spec.strategy.blueGreen and spec.strategy.canary`, { file: w.file })

  if (bg !== undefined) {
    const pre = analysisRef(bg.prePromotionAnalysis, `${where} prePromotionAnalysis`)
    const post = analysisRef(bg.postPromotionAnalysis, `${where} postPromotionAnalysis`)
    return {
      options: {
        strategy: 'blue-green',
        ...base,
        rolling: undefined,
        blueGreen: {
          activeService: bg.activeService,
          previewService: bg.previewService,
          autoPromotionEnabled: bg.autoPromotionEnabled ?? true,
          // Argo's default.
          scaleDownDelaySeconds: bg.scaleDownDelaySeconds ?? 30,
          prePromotionAnalysis: pre,
          postPromotionAnalysis: post,
          minReadySeconds,
          progressDeadlineSeconds,
          progressDeadlineAbort,
        },
        canary: undefined,
        analysis: analysisOptions(docs, [pre, post], issues),
      },
      issues,
      files: [...new Set(docs.map((d) => d.file))],
    }
  }

  const steps: CanaryStep[] = (canary.steps ?? []).map((s: any, i: number): CanaryStep => {
    const at = `${where} steps[${i}]`
    if (s.setWeight !== undefined) return { setWeight: Number(s.setWeight) }
    if (s.pause !== undefined) return { pause: { durationMs: s.pause.duration === undefined ? undefined : manifestDuration(s.pause.duration, `${at}.pause.duration`) } }
    if (s.analysis !== undefined) return { analysis: analysisRef(s.analysis, at)! }
    throw new ManifestError(`${at}: expected setWeight, pause or analysis, instead got ${Object.keys(s).join(', ')} (not modelled by the fleet)`, { file: w.file })
  })
  const routers = Object.keys(canary.trafficRouting ?? {})
  const plugins = Object.keys(canary.trafficRouting?.plugins ?? {})
  return {
    options: {
      strategy: 'canary',
      ...base,
      rolling: undefined,
      blueGreen: undefined,
      canary: {
        steps,
        weights: steps.flatMap((s) => ('setWeight' in s ? [s.setWeight] : [])),
        exactWeights: routers.length > 0,
        trafficRouting: plugins[0] ?? routers[0],
        stableService: canary.stableService,
        canaryService: canary.canaryService,
        abortScaleDownDelaySeconds: canary.abortScaleDownDelaySeconds,
        minReadySeconds,
        progressDeadlineSeconds,
        progressDeadlineAbort,
      },
      analysis: analysisOptions(docs, steps.flatMap((s) => ('analysis' in s ? [s.analysis] : [])), issues),
    },
    issues,
    files: [...new Set(docs.map((d) => d.file))],
  }
}

/** Issues as lines for a CLI: `unsupported k8s/canary/pdb.yaml PodDisruptionBudget/x: reason`. */
export function formatManifestIssues(issues: readonly ManifestIssue[], dir?: string): string[] {
  return issues.map((i) => {
    const file = dir === undefined ? i.file : join(relative(process.cwd(), dir), i.file)
    return `${i.severity} ${file} ${i.object}${i.path ? ` ${i.path}` : ''}: ${i.message}`
  })
}
