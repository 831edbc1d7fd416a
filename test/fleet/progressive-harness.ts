import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { expect } from 'vitest'
import { deploy, formatReport, groupAlive, killAllInstancesSync, liveProcessGroups, type DeployOptions, type Report } from '@zerodrop/fleet'

// Shared by bluegreen.test.ts, canary.test.ts and prometheus.test.ts: the demo service on a real
// fleet — real processes, real routers, real paced keep-alive load — at a fixed rate of about half of
// what this 2-core machine sustains, with a short minimum measurement time.

import { CLI, DEMO } from '../helpers/process.js'

export { DEMO }

export function revision(env: string, version: string): string {
  return `DRAIN_DELAY_MS=1500 SHUTDOWN_TIMEOUT_MS=5000 APP_VERSION=${version} ${env} exec node ${DEMO}`
}

export const reports: Report[] = []

export async function run(env: { from?: string; to?: string }, options: Partial<DeployOptions>): Promise<Report> {
  const report = await deploy({
    from: revision(env.from ?? '', 'v1'),
    to: revision(env.to ?? '', 'v2'),
    replicas: 3,
    router: 'l7',
    endpointDelayMs: 1000,
    terminationGracePeriodSeconds: 15,
    rolling: { progressDeadlineSeconds: 60 },
    probes: { common: { periodMs: 200, timeoutMs: 1000 } },
    load: { rate: 150, connections: 20, leadMs: 1000, tailMs: 1000 },
    ...options,
    // the sequential gate, with a short minimum time (the defaults' 10 s is for real releases)
    analysis: { minMeasurementMs: 2000, minSamples: 15, ...options.analysis },
  })
  reports.push(report)
  return report
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

/** Every instance's process group and the routers' ports are gone once deploy() settles. */
export async function expectNothingLeft(report: Report): Promise<void> {
  expect(liveProcessGroups()).toEqual([])
  for (const i of report.instances) for (const pid of i.pids) expect(groupAlive(pid), `process group ${pid} of ${i.id}`).toBe(false)
  expect(await portIsFree(report.parameters.routerPort)).toBe(true)
  if (report.progressive?.preview) expect(await portIsFree(report.progressive.preview.port)).toBe(true)
}

/** The accounting balances: every request the router forwarded settled one way or another. */
export function expectBalanced(r: Report): void {
  const a = r.accounting
  expect(a.ok + a.non2xx + a.lost + a.reset + a.refused + a.timeout + a.aborted + a.unaccounted).toBe(a.requests)
  expect(a.crossCheck?.consistent).toBe(true)
}

export async function afterEachCleanup(failed: boolean): Promise<void> {
  const report = reports.pop()
  if (failed && report) console.log(formatReport(report))
  // on failure too: nothing the test started may outlive it
  killAllInstancesSync()
  reports.length = 0
}

export function period(r: Report, label: string) {
  const p = r.progressive?.periods.find((x) => x.label === label)
  expect(p, `period '${label}' in ${r.progressive?.periods.map((x) => x.label).join(', ')}`).toBeDefined()
  return p!
}

export interface CliRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  /** the --json report, when one was written */
  readonly report: Report | undefined
  /** the folder of the run: its `pids` file records every instance's process group */
  readonly dir: string
}

let cliDirs: string[] = []

/**
 * `zerodrop deploy --strategy canary` through the CLI, the demo as both revisions (`from` and `to`:
 * environment assignments put before it); every instance records its process group.
 */
export async function cliCanary(from: string, to: string, flags: readonly string[]): Promise<CliRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-canary-cli-'))
  cliDirs.push(dir)
  const pids = path.join(dir, 'pids')
  const json = path.join(dir, 'report.json')
  const cmd = (env: string) => `echo $$ >> ${pids}; ${env} exec node ${DEMO}`
  const args = [CLI, 'deploy', '--strategy', 'canary', '--from', cmd(from), '--to', cmd(to), ...flags, '--json', json, '--quiet']
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
  const report = fs.existsSync(json) ? (JSON.parse(fs.readFileSync(json, 'utf8')) as Report) : undefined
  return { code, stdout, stderr, report, dir }
}

/** After each CLI test, pass or fail: every process group the commands recorded is killed, the folders removed. */
export function cleanupCli(): void {
  for (const dir of cliDirs) {
    const file = path.join(dir, 'pids')
    const pids = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : []
    for (const pgid of pids) {
      try {
        process.kill(-pgid, 'SIGKILL')
      } catch {
        // gone, as it should be
      }
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
  cliDirs = []
}
