// Every document in k8s/ parses and validates against the published schemas: the Kubernetes
// OpenAPI schemas (kubernetes-models), the Argo Rollouts CRDs (@kubernetes-models/argo-rollouts),
// the Gateway API CRDs and the Prometheus Operator CRDs — no hand-written approximation of any.
//
// Two checks per document, because the models' runtime validators (Ajv) check types, enums and
// required fields but let unknown fields through, while `kubectl apply` (server-side field
// validation is Strict since Kubernetes 1.27) rejects them and a CRD's structural schema silently
// prunes them — a typo such as `progresDeadlineAbort` would ship as "not set". So the same
// documents are also type-checked by the TypeScript compiler against the interfaces generated from
// those schemas, where an unknown field is an excess-property error.
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import ts from 'typescript'
import { parseAllDocuments } from 'yaml'
import { describe, expect, it } from 'vitest'
import { allFolders, k8sDir, loadFolder, repoRoot, type LoadedDoc } from './manifests.js'

const require = createRequire(import.meta.url)

/** The package and module that hold the model of an apiVersion/kind. */
function modelModule(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion]
  if (group === '') return `kubernetes-models/${version}/${kind}`
  if (group === 'argoproj.io') return `@kubernetes-models/argo-rollouts/${group}/${version}/${kind}`
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`
  if (group === 'gateway.networking.k8s.io') return `@kubernetes-models/gateway-api/${group}/${version}/${kind}`
  // Built-in groups: apps/v1 -> kubernetes-models/apps/v1, policy/v1 -> kubernetes-models/policy/v1
  return `kubernetes-models/${group}/${version}/${kind}`
}

const allDocs: LoadedDoc[] = allFolders.flatMap((f) => loadFolder(f))

describe('k8s/ documents', () => {
  it('every folder has documents, each with apiVersion, kind, name and the zerodrop namespace', () => {
    for (const folder of allFolders) expect(loadFolder(folder).length, `k8s/${folder}`).toBeGreaterThan(0)
    for (const { file, index, object } of allDocs) {
      const where = `${file} document ${index}`
      expect(typeof object.apiVersion, where).toBe('string')
      expect(typeof object.kind, where).toBe('string')
      expect(typeof object.metadata?.name, where).toBe('string')
      expect(object.metadata.namespace, where).toBe('zerodrop')
    }
  })

  it.each(allDocs.map((d) => [`${d.file}#${d.index} ${d.object.kind}/${d.object.metadata.name}`, d] as const))(
    'validates against its published schema: %s',
    (_name, { file, index, object }) => {
      const mod = require(modelModule(object.apiVersion, object.kind)) as Record<string, any>
      const Model = mod[object.kind]
      expect(Model, `${file} document ${index}: no model for ${object.apiVersion} ${object.kind}`).toBeTypeOf('function')
      expect(Model.apiVersion, `${file} document ${index}`).toBe(object.apiVersion)
      const model = new Model(structuredClone(object))
      expect(() => model.validate(), `${file} document ${index} (${object.kind}/${object.metadata.name})`).not.toThrow()
    },
  )

  it('has no field the schemas do not know (excess-property check against the generated interfaces)', () => {
    const fileName = join(repoRoot, 'test/k8s/__strict_fields__.ts')
    const lines: string[] = []
    const locations: string[] = []
    allDocs.forEach(({ file, index, object }, i) => {
      const mod = modelModule(object.apiVersion, object.kind)
      lines.push(`import type { I${object.kind} as T${i} } from '${mod}'`)
      locations.push(`${file} document ${index}`)
    })
    allDocs.forEach(({ object }, i) => {
      lines.push(`// ${locations[i]}`)
      lines.push(`export const doc${i}: T${i} = ${JSON.stringify(object, null, 2)}`)
    })
    const source = lines.join('\n')
    const options: ts.CompilerOptions = {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: [],
    }
    const host = ts.createCompilerHost(options)
    const getSourceFile = host.getSourceFile.bind(host)
    host.getSourceFile = (name, languageVersion, ...rest) =>
      name === fileName ? ts.createSourceFile(name, source, languageVersion, true) : getSourceFile(name, languageVersion, ...rest)
    const fileExists = host.fileExists.bind(host)
    host.fileExists = (name) => name === fileName || fileExists(name)
    const program = ts.createProgram([fileName], options, host)
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n')
      if (d.file?.fileName !== fileName || d.start === undefined) return message
      // Name the manifest and the field path, not the generated line.
      const { line } = d.file.getLineAndCharacterOfPosition(d.start)
      const before = source.split('\n').slice(0, line + 1)
      const doc = [...before].reverse().find((l) => l.startsWith('// k8s/')) ?? '(unknown document)'
      return `${doc.slice(3)}: ${before[line]!.trim()} -> ${message}`
    })
    expect(diagnostics, 'fields unknown to the schemas (a cluster would reject or prune them)').toEqual([])
  })

  it('the strict check is not vacuous: it reports a misspelt field and a wrong type', () => {
    const source = [
      'import type { IRollout } from \'@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/Rollout\'',
      'import type { IDeployment } from \'kubernetes-models/apps/v1/Deployment\'',
      'export const r: IRollout = { apiVersion: \'argoproj.io/v1alpha1\', kind: \'Rollout\', spec: { progresDeadlineAbort: true } }',
      'export const d: IDeployment = { apiVersion: \'apps/v1\', kind: \'Deployment\', spec: { selector: {}, template: { spec: { containers: [{ name: \'c\', readinessProbe: { httpGet: { port: 3000, paht: \'/readyz\' } } }] } } } }',
      'export const e: IDeployment = { apiVersion: \'apps/v1\', kind: \'Deployment\', spec: { selector: {}, minReadySeconds: \'10\', template: {} } }',
    ].join('\n')
    const fileName = join(repoRoot, 'test/k8s/__strict_control__.ts')
    const options: ts.CompilerOptions = { strict: true, noEmit: true, skipLibCheck: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, types: [] }
    const host = ts.createCompilerHost(options)
    const getSourceFile = host.getSourceFile.bind(host)
    host.getSourceFile = (name, v, ...rest) => (name === fileName ? ts.createSourceFile(name, source, v, true) : getSourceFile(name, v, ...rest))
    const fileExists = host.fileExists.bind(host)
    host.fileExists = (name) => name === fileName || fileExists(name)
    const messages = ts.getPreEmitDiagnostics(ts.createProgram([fileName], options, host)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '))
    expect(messages.some((m) => m.includes('progresDeadlineAbort'))).toBe(true)
    expect(messages.some((m) => m.includes('paht'))).toBe(true)
    expect(messages.some((m) => m.includes("'string' is not assignable to type 'number'"))).toBe(true)
  })

  it('the runtime validators are not vacuous: a wrong type is rejected', () => {
    const { Rollout } = require('@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/Rollout')
    const bad = new Rollout({ metadata: { name: 'x' }, spec: { strategy: { canary: { steps: [{ setWeight: 'five' }] } } } })
    expect(() => bad.validate()).toThrow(/setWeight/)
  })

  it.each(allFolders)('kustomize builds k8s/%s into exactly the documents of its files', (folder) => {
    let built: string
    try {
      built = execFileSync('kubectl', ['kustomize', join(k8sDir, folder)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: string }
      if (e.code === 'ENOENT' && process.env.CI !== 'true') {
        console.warn(`\n!!! SKIPPED: kubectl is not installed, so 'kubectl kustomize k8s/${folder}' was not checked !!!\n`)
        return
      }
      throw new Error(`kubectl kustomize k8s/${folder} failed: ${e.stderr ?? e.message}`)
    }
    const key = (o: any) => `${o.apiVersion} ${o.kind} ${o.metadata.namespace}/${o.metadata.name}`
    const fromKustomize = parseAllDocuments(built).map((d) => (d as any).toJS()).sort((a, b) => key(a).localeCompare(key(b)))
    const fromFiles = loadFolder(folder).map((d) => d.object).sort((a, b) => key(a).localeCompare(key(b)))
    expect(fromKustomize).toEqual(fromFiles)
  })
})
