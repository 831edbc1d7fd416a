// Shared helpers for the k8s/ manifest tests: read every document of a strategy folder as the
// fleet and `kubectl apply -k` would see it.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'

export const repoRoot = new URL('../..', import.meta.url).pathname
export const k8sDir = join(repoRoot, 'k8s')
export const strategyFolders = ['rolling', 'blue-green', 'canary'] as const
export const allFolders = [...strategyFolders, 'monitoring'] as const

export interface K8sObject {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
  spec?: any
  data?: Record<string, string>
  [key: string]: unknown
}

export interface LoadedDoc {
  /** path relative to the repository root, and the index of the document in its file */
  readonly file: string
  readonly index: number
  readonly object: K8sObject
}

/** Every YAML document of a folder except its kustomization.yaml, parsed strictly. */
export function loadFolder(folder: string): LoadedDoc[] {
  const dir = join(k8sDir, folder)
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort()
  const docs: LoadedDoc[] = []
  for (const f of files) {
    const file = `k8s/${folder}/${f}`
    const parsed = parseAllDocuments(readFileSync(join(dir, f), 'utf8'), { prettyErrors: true, uniqueKeys: true })
    if (!Array.isArray(parsed)) throw new Error(`${file}: expected a YAML stream, got an empty one`)
    parsed.forEach((doc, index) => {
      if (doc.errors.length > 0) throw new Error(`${file} document ${index}: ${doc.errors.map((e) => e.message).join('; ')}`)
      if (doc.warnings.length > 0) throw new Error(`${file} document ${index}: ${doc.warnings.map((e) => e.message).join('; ')}`)
      const object = doc.toJS({ maxAliasCount: 0 }) as K8sObject | null
      if (object === null) return
      docs.push({ file, index, object })
    })
  }
  return docs
}

export function find(docs: LoadedDoc[], kind: string, name?: string): K8sObject {
  const hits = docs.filter((d) => d.object.kind === kind && (name === undefined || d.object.metadata.name === name))
  if (hits.length !== 1) {
    throw new Error(`expected exactly one ${kind}${name ? ` named ${name}` : ''}, found ${hits.length}: ${hits.map((h) => h.file).join(', ')}`)
  }
  return hits[0]!.object
}

/** The workload (Deployment or Rollout) of a strategy folder. */
export function workload(folder: string): K8sObject {
  const docs = loadFolder(folder)
  const hits = docs.filter((d) => d.object.kind === 'Deployment' || d.object.kind === 'Rollout')
  if (hits.length !== 1) throw new Error(`k8s/${folder}: expected one Deployment or Rollout, found ${hits.length}`)
  return hits[0]!.object
}

export function env(container: any): Record<string, string> {
  const out: Record<string, string> = {}
  for (const e of container.env ?? []) out[e.name] = e.value
  return out
}

/** `{{args.name}}` placeholders substituted the way Argo Rollouts resolves them in an AnalysisRun. */
export function substituteArgs(text: string, args: Record<string, string>): string {
  return text.replace(/\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}/g, (_, name: string) => {
    const value = args[name]
    if (value === undefined) throw new Error(`analysis arg '${name}' has no value; expected one of ${Object.keys(args).join(', ')}`)
    return value
  })
}

/** An AnalysisTemplate's args with their defaults, overridden by `given`. */
export function templateArgs(template: K8sObject, given: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const a of template.spec.args ?? []) if (typeof a.value === 'string') out[a.name] = a.value
  return { ...out, ...given }
}

/** Metric names used in a PromQL expression (identifiers followed by `{` or `[`, minus functions). */
export function promqlMetricNames(query: string): string[] {
  const names = new Set<string>()
  for (const m of query.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/g)) names.add(m[1]!)
  return [...names].sort()
}
