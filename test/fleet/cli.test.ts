import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CLI, DEMO, freePort, portIsFree, killRecorded } from '../helpers/process.js'
import { groupAlive } from '@zerodrop/fleet'

// The `zerodrop` bin as a user runs it: a child process, its exit code, its stderr.

let dir: string
let pidFile: string
const children = new Set<ChildProcess>()

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-cli-test-'))
  pidFile = path.join(dir, 'pids')
})

/** Process groups the commands under test recorded (`echo $$` in the command: sh is the group leader). */
function recordedGroups(): number[] {
  if (!fs.existsSync(pidFile)) return []
  return fs.readFileSync(pidFile, 'utf8').split('\n').filter(Boolean).map(Number)
}

afterEach(() => {
  // on failure too: kill whatever the commands under test started, then the CLI itself
  killRecorded(recordedGroups(), children)
  fs.rmSync(dir, { recursive: true, force: true })
})

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

function cli(args: string[], opts: { onStderr?: (text: string, child: ChildProcess) => void; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: dir } })
    children.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString()
      opts.onStderr?.(stderr, child)
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`zerodrop ${args.join(' ')} did not exit within ${opts.timeoutMs ?? 60_000} ms\n${stderr}`))
    }, opts.timeoutMs ?? 60_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

function expectNoneAlive(groups: number[]): void {
  for (const g of groups) expect(groupAlive(g), `process group ${g}`).toBe(false)
}

const recorded = (cmd: string): string => `echo $$ >> ${pidFile}; ${cmd}`
const demo = (env: string): string => recorded(`DRAIN_DELAY_MS=1500 ${env} exec node ${DEMO}`)
const fast = ['--probe-period-ms', '200', '--lead-ms', '500', '--tail-ms', '500', '--quiet']

describe('zerodrop CLI', () => {
  it('--help documents every flag and the exit codes', async () => {
    const r = await cli(['--help'])
    expect(r.code).toBe(0)
    for (const flag of [
      '--strategy', '--from', '--to', '--replicas', '--connections', '--rate', '--reconnect-rate', '--router', '--port',
      '--endpoint-delay-ms', '--max-surge', '--max-unavailable', '--min-ready-seconds', '--progress-deadline-seconds',
      '--termination-grace-period-seconds', '--probe-period-ms', '--probe-timeout-ms', '--probe-failure-threshold',
      '--method', '--path', '--header', '--body', '--json', '--help',
    ]) {
      expect(r.stdout).toContain(flag)
    }
    expect(r.stdout).toMatch(/64\s+bad usage/)
  })

  it.each([
    [['deploy', '--from', 'node x.js'], /--to: expected the command of the revision to deploy, instead got nothing/],
    [['deploy', '--from', 'a', '--to', 'b', '--strategy', 'yolo'], /--strategy: expected one of rolling.*instead got 'yolo'/],
    [['deploy', '--from', 'a', '--to', 'b', '--no-such-flag'], /unknown flag '--no-such-flag'/],
    [['deploy', '--from', 'a', '--to', 'b', '--rate', '-5'], /--rate: expected a number ≥ 1, instead got -5/],
    [['deploy', '--from', 'a', '--to', 'b', '--replicas', 'three'], /--replicas: expected an integer ≥ 1, instead got 'three'/],
    [['deploy', '--from', 'a', '--to', 'b', '--router', 'l5'], /--router: expected one of l4, l7, instead got 'l5'/],
    [['deploy', '--from', 'a', '--to', 'b', '--max-surge', '0', '--max-unavailable', '0%'], /--max-surge\/--max-unavailable: expected at most one of them to be 0/],
    [['ship'], /expected the command 'deploy' or 'verify', instead got 'ship'/],
  ])('bad usage %j: exit 64 with a clear message', async (args, message) => {
    const r = await cli(args)
    expect(r.code).toBe(64)
    expect(r.stderr).toMatch(message)
    expect(r.stdout).toBe('')
  })

  it('a --from command that exits at once: exit 64 naming --from, with its log, nothing left running', async () => {
    const port = await freePort()
    const r = await cli(['deploy', '--from', recorded('echo boom >&2; exit 3'), '--to', demo('APP_VERSION=v2'), '--port', String(port), ...fast])
    expect(r.code).toBe(64)
    expect(r.stderr).toMatch(/--from: expected a command that starts a server on \$PORT, instead .* exited at once \(code 3/)
    expect(r.stderr).toContain('boom')
    expect(recordedGroups().length).toBeGreaterThan(0)
    expectNoneAlive(recordedGroups())
    expect(await portIsFree(port)).toBe(true)
  })

  it('a --to command that exits at once: exit 64 naming --to, the running fleet stopped', { timeout: 60_000 }, async () => {
    const port = await freePort()
    const r = await cli(['deploy', '--from', demo('APP_VERSION=v1'), '--to', demo('CRASH_ON_START=1 APP_VERSION=v2'), '--port', String(port), ...fast])
    expect(r.code).toBe(64)
    expect(r.stderr).toMatch(/--to: expected a command that starts a server on \$PORT, instead .* exited at once \(code 1/)
    expect(recordedGroups().length).toBe(4)
    expectNoneAlive(recordedGroups())
    expect(await portIsFree(port)).toBe(true)
  })

  it('a --port that cannot be bound: exit 64 naming --port, nothing started', async () => {
    const blocker = net.createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()))
    const port = (blocker.address() as net.AddressInfo).port
    try {
      const r = await cli(['deploy', '--from', demo('APP_VERSION=v1'), '--to', demo('APP_VERSION=v2'), '--port', String(port), ...fast])
      expect(r.code).toBe(64)
      expect(r.stderr).toMatch(new RegExp(`--port: expected a port the router can listen on at 127.0.0.1, instead got ${port}, which cannot be bound \\(EADDRINUSE\\)`))
      expect(recordedGroups()).toEqual([])
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()))
    }
  })

  it('a command that binds a port in use instead of $PORT: exit 64 saying so, nothing left running', { timeout: 60_000 }, async () => {
    const blocker = net.createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()))
    const port = (blocker.address() as net.AddressInfo).port
    try {
      const r = await cli(['deploy', '--from', demo(`PORT=${port}`), '--to', demo('APP_VERSION=v2'), ...fast])
      expect(r.code).toBe(64)
      expect(r.stderr).toMatch(/--from: expected .* to listen on the port in \$PORT \(\d+\) on 127.0.0.1, instead it exited because a port could not be bound \(EADDRINUSE\); does it ignore \$PORT\?/)
      expectNoneAlive(recordedGroups())
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()))
    }
  })

  it('a --path the running revision does not answer with 2xx: exit 64 before the rollout', { timeout: 60_000 }, async () => {
    const r = await cli(['deploy', '--from', demo('APP_VERSION=v1'), '--to', demo('APP_VERSION=v2'), '--path', '/no-such-route', '--replicas', '1', ...fast])
    expect(r.code).toBe(64)
    expect(r.stderr).toMatch(/--path: expected v1 to answer GET \/no-such-route with 2xx before the rollout starts, instead got '\d+ × 4xx in \d+ requests'/)
    expect(recordedGroups().length).toBe(1)
    expectNoneAlive(recordedGroups())
  })

  it('SIGINT during a deploy stops every instance and exits 130', { timeout: 60_000 }, async () => {
    let sent = false
    const r = await cli(['deploy', '--from', demo('APP_VERSION=v1'), '--to', demo('APP_VERSION=v2'), '--probe-period-ms', '200', '--lead-ms', '500'], {
      onStderr: (text, child) => {
        if (!sent && /rollout: scale up v2/.test(text)) {
          sent = true
          child.kill('SIGINT')
        }
      },
    })
    expect(sent).toBe(true)
    expect(r.code).toBe(130)
    expect(r.stderr).toMatch(/interrupted .* every instance stopped/)
    expect(recordedGroups().length).toBeGreaterThanOrEqual(4)
    expectNoneAlive(recordedGroups())
  })

  it('a good deploy: exit 0, the report on stdout and in --json', { timeout: 90_000 }, async () => {
    const json = path.join(dir, 'report.json')
    const r = await cli(['deploy', '--from', demo('APP_VERSION=v1'), '--to', demo('APP_VERSION=v2'), '--replicas', '2', '--router', 'l7', '--json', json, ...fast])
    expect(r.code, r.stderr + r.stdout).toBe(0)
    expect(r.stdout).toMatch(/verdict\s+PROMOTED; 0 dropped/)
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as { exitCode: number; dropped: number; verdict: string; bothRevisionsServed: boolean }
    expect(report).toMatchObject({ exitCode: 0, dropped: 0, verdict: 'promoted', bothRevisionsServed: true })
    expectNoneAlive(recordedGroups())
  })
})
