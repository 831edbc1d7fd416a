import fs from 'node:fs'
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/process.js'

// The kind workflow cannot run here (no cluster): what can be checked is that GitHub would accept
// it, against the GitHub Actions workflow schema (SchemaStore's, bundled by @action-validator/core).
const { validateWorkflow } = createRequire(import.meta.url)('@action-validator/core') as {
  validateWorkflow: (src: string) => { errors: Array<{ code: string; path: string; title: string; detail?: string }> }
}
const FILE = `${ROOT}.github/workflows/verify-kind.yml`

describe('.github/workflows/verify-kind.yml', () => {
  it('is valid against the GitHub Actions workflow schema', () => {
    expect(validateWorkflow(fs.readFileSync(FILE, 'utf8')).errors).toEqual([])
  })

  it('the validator can fail: the same file with a misspelt key is rejected', () => {
    const broken = fs.readFileSync(FILE, 'utf8').replace('runs-on:', 'runs_on:')
    expect(validateWorkflow(broken).errors.length).toBeGreaterThan(0)
  })

  it('runs zerodrop verify around the rollout, and its negative control with --expect-drops', () => {
    const src = fs.readFileSync(FILE, 'utf8')
    expect(src).toMatch(/kubectl apply -k k8s\/rolling/)
    expect(src).toMatch(/npx zerodrop verify --url "\$URL"[^\n]*\n[^\n]*--until[\s\S]*?-- kubectl -n "\$NS" set image/)
    expect(src).toMatch(/zerodrop verify[^\n]*--expect-drops/)
  })
})
