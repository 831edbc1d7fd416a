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
// rollout to a release that keeps the field must verify every write (exit 0).

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

async function rollout(to: string): Promise<{ code: number | null; out: string; report: Record<string, any>; junit: string }> {
  const db = `file:${path.join(dir, 'items.sqlite')}`
  const command = (version: string): string =>
    `echo $$ >> ${path.join(dir, 'pids')}; DATABASE_URL='${db}' ITEMS_VERSION=${version} APP_VERSION=${version} DRAIN_DELAY_MS=300 SHUTDOWN_TIMEOUT_MS=5000 DB_BUSY_TIMEOUT_MS=500 exec node ${DEMO}`
  const json = path.join(dir, `${to}.json`)
  const junit = path.join(dir, `${to}.xml`)
  const r = await cli([
    'deploy', '--from', command('v1'), '--to', command(to), '--replicas', '2', '--max-surge', '1', '--max-unavailable', '0',
    '--endpoint-delay-ms', '300', '--probe-period-ms', '200', '--termination-grace-period-seconds', '10', '--no-stop-check',
    '--connections', '4', '--rate', '60', '--lead-ms', '800', '--tail-ms', '800', '--exact-clients', '0',
    '--request', '2* GET /items?limit=5', '--request', WRITE, '--json', json, '--junit', junit, '--quiet',
  ])
  const out = `${r.stdout}\n${r.stderr}`
  expect(fs.existsSync(json), out).toBe(true)
  return { code: r.code, out, report: JSON.parse(fs.readFileSync(json, 'utf8')), junit: fs.readFileSync(junit, 'utf8') }
}

describeWith('sqlite', await sqliteMissing(), 'zerodrop deploy: the data check (--request … => GET …) through the CLI', () => {
  it('control: a release that loses the field on insert drops nothing, but its writes do not read back: exit 5', async () => {
    const { code, out, report, junit } = await rollout('lossy')
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

  it('a release that keeps the field: every write verified, exit 0', async () => {
    const { code, out, report } = await rollout('expand')
    const d = report.dataCheck
    expect(report.dropped, out).toBe(0)
    expect(d.writes, out).toBeGreaterThan(10)
    expect({ verified: d.writesVerified, lost: d.lostWrites, changed: d.changedWrites, unverified: d.unverifiedWrites }, out).toEqual({ verified: d.writes, lost: 0, changed: 0, unverified: 0 })
    // the read-back is not part of the load: the router's count is the load's
    expect(report.accounting.requests, out).toBe(report.load.generator.sent)
    expect(code, out).toBe(0)
  }, 120_000)
})

it('a --request read-back clause it cannot use is a usage error naming the flag and the entry', async () => {
  const bad = 'POST /items {"name":"x"} => GET /items/{{.id}} .name'
  const r = await cli(['deploy', '--from', 'node a.js', '--to', 'node b.js', '--request', bad], 20_000)
  expect(r.code, r.stderr).toBe(64)
  expect(r.stderr).toContain('--request: expected a checked write with {{seq}} in its path or body')
  expect(r.stderr).toContain(`instead got '${bad}'`)
}, 30_000)
