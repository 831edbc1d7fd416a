import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { CLI, DEMO, killRecorded } from '../helpers/process.js'
import { describeWith, sqliteMissing } from '../helpers/tools.js'

// The data check through the CLI, as a user runs it, on the demo's /items (the embedded SQLite,
// one file shared by both revisions): a release that loses the field on insert answers every
// write 2xx — the drop count sees nothing — and the check must catch it (exit 5); the same
// rollout to a release that keeps the field must verify every write (exit 0), and a next step
// given that report (--recheck-writes) must find its writes again, unless they are not there.

let dir: string
const children = new Set<ChildProcess>()

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-data-check-test-'))
})

afterEach(() => {
  const pids = path.join(dir, 'pids')
  killRecorded(fs.existsSync(pids) ? fs.readFileSync(pids, 'utf8').split('\n').filter(Boolean).map(Number) : [], children)
  fs.rmSync(dir, { recursive: true, force: true })
})

function cli(args: string[], timeoutMs = 90_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: dir } })
    children.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`zerodrop did not exit within ${timeoutMs} ms\n${stderr}`))
    }, timeoutMs)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

const WRITE = 'POST /items {"name":"{{seq}}"} => GET /items/{{.id}} .name'

async function rollout(from: string, to: string, opts: { db?: string; recheck?: string } = {}): Promise<{ code: number | null; out: string; report: Record<string, any>; junit: string; json: string }> {
  const db = `file:${path.join(dir, opts.db ?? 'items.sqlite')}`
  const command = (version: string): string =>
    `echo $$ >> ${path.join(dir, 'pids')}; DATABASE_URL='${db}' ITEMS_VERSION=${version} APP_VERSION=${version} DRAIN_DELAY_MS=300 SHUTDOWN_TIMEOUT_MS=5000 DB_BUSY_TIMEOUT_MS=500 exec node ${DEMO}`
  const name = `${from}-${to}-${opts.db ?? 'items'}`
  const json = path.join(dir, `${name}.json`)
  const junit = path.join(dir, `${name}.xml`)
  const r = await cli([
    'deploy', '--from', command(from), '--to', command(to), '--replicas', '2', '--max-surge', '1', '--max-unavailable', '0',
    '--endpoint-delay-ms', '300', '--probe-period-ms', '200', '--termination-grace-period-seconds', '10', '--no-stop-check',
    '--connections', '4', '--rate', '60', '--lead-ms', '800', '--tail-ms', '800', '--exact-clients', '0',
    '--request', '2* GET /items?limit=5', '--request', WRITE, '--json', json, '--junit', junit, '--quiet',
    ...(opts.recheck === undefined ? [] : ['--recheck-writes', opts.recheck]),
  ])
  const out = `${r.stdout}\n${r.stderr}`
  expect(fs.existsSync(json), out).toBe(true)
  return { code: r.code, out, report: JSON.parse(fs.readFileSync(json, 'utf8')), junit: fs.readFileSync(junit, 'utf8'), json }
}

describeWith('sqlite', await sqliteMissing(), 'zerodrop deploy: the data check (--request … => GET …) through the CLI', () => {
  it('control: a release that loses the field on insert drops nothing, but its writes do not read back: exit 5', async () => {
    const { code, out, report, junit } = await rollout('v1', 'lossy')
    const d = report.dataCheck
    expect(report.dropped, out).toBe(0)
    expect(d.writes, out).toBeGreaterThan(10)
    expect(d.lostWrites, out).toBeGreaterThan(0)
    // v1's writes survive (the lossy release reads the old column too): the check tells them apart
    expect(d.writesVerified, out).toBeGreaterThan(0)
    expect(d.writesVerified + d.lostWrites + d.changedWrites + d.unverifiedWrites).toBe(d.writes)
    expect(d.problems[0], out).toMatchObject({ kind: 'lost', status: 200, got: null, request: WRITE })
    expect(report.exitCode).toBe(5)
    expect(code, out).toBe(5)
    expect(out).toMatch(/data check WRITES LOST: \d+ checked writes answered 2xx/)
    expect(out).toMatch(/PROMOTED BUT WRITES LOST/)
    expect(junit).toMatch(/<failure message="[^"]*lost[^"]*" type="lost-writes"/)
  }, 120_000)

  it("releases that keep the field: every write verified, the next step's too with the earlier ones re-read (exit 0); the same re-read on a database without them: exit 5", async () => {
    const expand = await rollout('v1', 'expand')
    const d = expand.report.dataCheck
    expect(expand.report.dropped, expand.out).toBe(0)
    expect(d.writes, expand.out).toBeGreaterThan(10)
    expect({ verified: d.writesVerified, lost: d.lostWrites, changed: d.changedWrites, unverified: d.unverifiedWrites }, expand.out).toEqual({ verified: d.writes, lost: 0, changed: 0, unverified: 0 })
    expect(d.kept).toHaveLength(d.writes)
    // the read-back is not part of the load: the router's count is the load's
    expect(expand.report.accounting.requests, expand.out).toBe(expand.report.load.generator.sent)
    expect(expand.code, expand.out).toBe(0)

    const migrate = await rollout('expand', 'migrate', { recheck: expand.json })
    const m = migrate.report.dataCheck
    expect(m.earlier, migrate.out).toEqual({ writes: d.writes, writesVerified: d.writes, lostWrites: 0, changedWrites: 0, unverifiedWrites: 0 })
    expect(m.writesVerified, migrate.out).toBe(m.writes)
    expect(m.kept).toHaveLength(m.writes + d.writes)
    expect(migrate.code, migrate.out).toBe(0)

    // control: a database that does not hold the earlier step's rows (a fresh file) must fail the re-read
    const elsewhere = await rollout('v1', 'expand', { db: 'other.sqlite', recheck: expand.json })
    const e = elsewhere.report.dataCheck
    expect(elsewhere.report.dropped, elsewhere.out).toBe(0)
    expect(e.writesVerified, elsewhere.out).toBe(e.writes)
    expect(e.earlier.writes).toBe(d.writes)
    expect(e.earlier.writesVerified, elsewhere.out).toBe(0)
    expect(e.earlier.lostWrites + e.earlier.changedWrites, elsewhere.out).toBe(d.writes)
    expect(e.problems[0], elsewhere.out).toMatchObject({ earlier: true })
    expect(elsewhere.code, elsewhere.out).toBe(5)
  }, 180_000)
})

it('a --request read-back clause it cannot use is a usage error naming the flag and the entry', async () => {
  const bad = 'POST /items {"name":"x"} => GET /items/{{.id}} .name'
  const r = await cli(['deploy', '--from', 'node a.js', '--to', 'node b.js', '--request', bad], 20_000)
  expect(r.code, r.stderr).toBe(64)
  expect(r.stderr).toContain('--request: expected a checked write with {{seq}} in its path or body')
  expect(r.stderr).toContain(`instead got '${bad}'`)
}, 30_000)
