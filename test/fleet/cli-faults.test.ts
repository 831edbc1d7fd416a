import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { killRecorded } from '../helpers/process.js'
import { groupAlive } from '@zerodrop/fleet'

// The `zerodrop` CLI under faults, as a CI job meets them: killed outright, interrupted, pointed
// at outputs it cannot write. Every instance records `$$ $PORT` (sh is its group leader) so the
// test can check — and, on failure, kill — exactly the processes and ports of its own deploy.

const CLI = fileURLToPath(new URL('../../packages/fleet/bin/zerodrop.js', import.meta.url))
const DEMO = fileURLToPath(new URL('../../demo/dist/server.js', import.meta.url))

let dir: string
let pidFile: string
const children = new Set<ChildProcess>()

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-cli-faults-'))
  pidFile = path.join(dir, 'pids')
})

function recorded(): Array<{ pgid: number; port: number }> {
  if (!fs.existsSync(pidFile)) return []
  return fs.readFileSync(pidFile, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [pgid, port] = l.split(' ').map(Number)
    return { pgid: pgid!, port: port! }
  })
}

afterEach(() => {
  killRecorded(recorded().map((r) => r.pgid), children)
  fs.rmSync(dir, { recursive: true, force: true })
})

interface Started {
  readonly child: ChildProcess
  stderr(): string
  stdout(): string
  waitFor(re: RegExp, ms?: number): Promise<RegExpExecArray>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function start(args: string[]): Started {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: dir } })
  children.add(child)
  let out = ''
  let err = ''
  const waiters = new Set<() => void>()
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
    for (const w of waiters) w()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  return {
    child,
    stderr: () => err,
    stdout: () => out,
    exited,
    waitFor: (re, ms = 60_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(err)
          if (m) {
            waiters.delete(check)
            clearTimeout(t)
            resolve(m)
          }
        }
        const t = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`stderr never matched ${String(re)} within ${ms} ms:\n${err}`))
        }, ms)
        waiters.add(check)
        void exited.then(() => setTimeout(() => {
          if (!re.test(err)) {
            waiters.delete(check)
            clearTimeout(t)
            reject(new Error(`the CLI exited before stderr matched ${String(re)}:\n${err}`))
          }
        }, 50))
        check()
      }),
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

async function leftovers(routerPort: number): Promise<string[]> {
  const left: string[] = []
  for (const { pgid, port } of recorded()) {
    if (groupAlive(pgid)) left.push(`process group ${pgid}`)
    if (!(await portIsFree(port))) left.push(`instance port ${port}`)
  }
  if (!(await portIsFree(routerPort))) left.push(`router port ${routerPort}`)
  return left
}

const demo = (env: string): string => `echo $$ $PORT >> ${pidFile}; DRAIN_DELAY_MS=1000 SHUTDOWN_TIMEOUT_MS=3000 ${env} exec node ${DEMO}`
const fast = ['--probe-period-ms', '200', '--lead-ms', '500', '--tail-ms', '500', '--endpoint-delay-ms', '500']

describe('zerodrop CLI killed outright', () => {
  it('SIGKILL mid-rollout: the parent-death watch stops every instance within the grace period + 5 s, ports freed', { timeout: 90_000 }, async () => {
    const graceS = 4
    // v2 ignores SIGTERM: the watch must also SIGKILL once the grace period is over
    const run = start([
      'deploy', '--from', demo('APP_VERSION=v1'), '--to', demo('APP_VERSION=v2 IGNORE_SIGTERM=1'),
      '--replicas', '2', '--max-surge', '1', '--max-unavailable', '0', '--min-ready-seconds', '3',
      '--termination-grace-period-seconds', String(graceS), ...fast,
    ])
    const m = await run.waitFor(/router l4 listening on 127\.0\.0\.1:(\d+)/)
    const routerPort = Number(m[1])
    await run.waitFor(/scale up v2/)
    await run.waitFor(/scale up v2 to 2|scale down v1/)
    expect(recorded().length, 'instances of both revisions running').toBeGreaterThanOrEqual(3)
    run.child.kill('SIGKILL')
    const killedAt = Date.now()
    await run.exited
    let left = await leftovers(routerPort)
    while (left.length > 0 && Date.now() - killedAt < (graceS + 5) * 1000) {
      await new Promise((r) => setTimeout(r, 100))
      left = await leftovers(routerPort)
    }
    const cleanupMs = Date.now() - killedAt
    console.log(`sigkill cleanup: ${recorded().length} instances, every process group and port gone ${cleanupMs} ms after SIGKILL of the CLI (grace ${graceS} s)`)
    expect(left).toEqual([])
    expect(cleanupMs).toBeLessThanOrEqual((graceS + 5) * 1000)
  })
})

describe('zerodrop CLI outputs and signals', () => {
  it.each([
    ['--json', (d: string) => path.join(d, 'no-such-folder', 'report.json'), /--json: expected a file in an existing folder, instead the folder .*no-such-folder of '.*report\.json' does not exist/],
    ['--junit', (d: string) => d, /--junit: expected a file to write, instead '.*' is a folder/],
  ])('%s that cannot be written: exit 64 before anything starts', async (flag, target, message) => {
    const run = start(['deploy', '--from', demo('APP_VERSION=v1'), '--to', demo('APP_VERSION=v2'), flag, target(dir), ...fast])
    const { code } = await run.exited
    expect(code).toBe(64)
    expect(run.stderr()).toMatch(message)
    expect(recorded(), 'no instance was started').toEqual([])
  })

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s mid-rollout: the load stops, every instance drains (exit 0, not SIGKILLed), the report so far is written, exit %i', { timeout: 90_000 }, async (signal, exitCode) => {
    const json = path.join(dir, 'report.json')
    const run = start(['deploy', '--from', demo('APP_VERSION=v1'), '--to', demo('APP_VERSION=v2'), '--replicas', '2', '--json', json, ...fast])
    const m = await run.waitFor(/router l4 listening on 127\.0\.0\.1:(\d+)/)
    await run.waitFor(/scale up v2/)
    run.child.kill(signal)
    const { code } = await run.exited
    expect(code).toBe(exitCode)
    expect(run.stderr()).toMatch(/every instance stopped after its drain/)
    expect(run.stderr()).not.toMatch(/\n\s+at /)
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as { verdict: string; exitCode: number; partial: boolean; reason: string; instances: Array<{ id: string; termination?: { killed: boolean; code: number | null } }>; accounting: { requests: number } }
    expect(report).toMatchObject({ verdict: 'interrupted', exitCode, partial: true, reason: `interrupted by ${signal}` })
    expect(report.accounting.requests).toBeGreaterThan(0)
    expect(report.instances.length).toBeGreaterThanOrEqual(3)
    // the serving v1 instances drained and exited 0; a v2 still starting may die of the SIGTERM itself, but none was SIGKILLed
    for (const i of report.instances) expect(i.termination, `${i.id} stopped by SIGTERM`).toMatchObject({ killed: false })
    for (const i of report.instances.filter((x) => x.id.startsWith('v1'))) expect(i.termination, `${i.id} drained`).toMatchObject({ code: 0 })
    expect(run.stdout()).toMatch(/verdict {3}INTERRUPTED \(interrupted by SIG/)
    expect(await leftovers(Number(m[1]))).toEqual([])
  })
})
