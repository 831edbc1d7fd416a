import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expect, it } from 'vitest'
import { ROOT } from '../helpers/process.js'
import { describeWith, POSTGRES_URL, postgresMissing, sqliteMissing } from '../helpers/tools.js'

// `npm run demo:expand-contract` as a user runs it (the built demo, a child process), on the
// embedded SQLite and on PostgreSQL: the breaking deploy must drop (the negative control), each
// expand/migrate/contract step must drop nothing and lose no write (the deploy's own data check,
// each step also re-reading the earlier steps' writes); and a release that loses the field on
// insert must be caught by the data check alone (its rollout drops nothing; zerodrop exits 5).

interface Outcome {
  breaking: { dropped: number; lostWrites: number; exitCode: number }
  steps: Array<{ name: string; dropped: number; non2xx: number; writesVerified: number; lostWrites: number }>
  lostWrites: number
}

async function scenario(env: NodeJS.ProcessEnv, extra: string[] = []): Promise<{ code: number | null; outcome: unknown; output: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zd-ec-test-'))
  const json = path.join(dir, 'outcome.json')
  const child = spawn(process.execPath, [`${ROOT}demo/scripts/expand-contract.mjs`, '--json', json, '--quiet', ...extra], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => { output += d })
  child.stderr.on('data', (d) => { output += d })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  const outcome = fs.existsSync(json) ? JSON.parse(fs.readFileSync(json, 'utf8')) : undefined
  fs.rmSync(dir, { recursive: true, force: true })
  return { code, outcome, output }
}

function expectExpandContract(r: { code: number | null; outcome: unknown; output: string }): void {
  const o = r.outcome as Outcome
  expect(o, r.output).toBeDefined()
  expect(o.breaking.dropped, r.output).toBeGreaterThan(0)
  expect(o.breaking.exitCode).toBe(1)
  expect(o.steps.map((s) => s.name)).toEqual(['expand', 'migrate', 'contract'])
  for (const s of o.steps) {
    expect({ step: s.name, dropped: s.dropped, non2xx: s.non2xx, lostWrites: s.lostWrites }, r.output).toEqual({ step: s.name, dropped: 0, non2xx: 0, lostWrites: 0 })
    expect(s.writesVerified, `${s.name}: writes verified\n${r.output}`).toBeGreaterThan(20)
  }
  expect(o.lostWrites).toBe(0)
  expect(r.code, r.output).toBe(0)
}

describeWith('sqlite', await sqliteMissing(), 'demo:expand-contract on the embedded SQLite (better-sqlite3, WAL, several processes)', () => {
  it('breaking deploy drops; expand, migrate, contract drop nothing and every write reads back', async () => {
    expectExpandContract(await scenario({ DATABASE_URL: '' }))
  }, 240_000)

  it('control: a release that drops the field on insert is caught by the data check, not by the drop count', async () => {
    const r = await scenario({ DATABASE_URL: '' }, ['--control', 'lossy'])
    const o = r.outcome as { dropped: number; writes: number; lostWrites: number; exitCode: number }
    expect(o.dropped, r.output).toBe(0)
    // the deploy's own data check fails it: exit 5 (writes lost), not 1 (dropped)
    expect(o.exitCode, r.output).toBe(5)
    expect(o.lostWrites, r.output).toBeGreaterThan(0)
    expect(r.code, r.output).toBe(0)
  }, 120_000)
})

describeWith('postgres', await postgresMissing(), 'demo:expand-contract on PostgreSQL (a fresh database per scenario)', () => {
  it('breaking deploy drops; expand, migrate, contract drop nothing and every write reads back', async () => {
    expectExpandContract(await scenario({ DATABASE_URL: POSTGRES_URL }))
  }, 240_000)
})
