import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import type { Report } from '@zerodrop/fleet'
import { ROOT, CLI } from '../helpers/process.js'
import { describeWithDocker, docker } from './docker.js'

// Issue 6: `zerodrop deploy --runtime docker`: a rolling deploy whose instances are containers
// (host network, PORT per instance, docker stop -t <grace>), 2 replicas, under the fleet's load:
// zero dropped. Negative control in the same harness: the naive demo (NAIVE=1, exits at once on
// SIGTERM) in the same containers drops requests.

const dirs: string[] = []
// the docker runtime labels its containers with this, so cleanup never touches anyone else's
const OWNER = `zerodrop-test-${process.pid}`

function deployDocker(extra: string[]): Promise<{ code: number; report: Report | undefined; stderr: string; stdout: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-docker-runtime-'))
  dirs.push(dir)
  const json = path.join(dir, 'report.json')
  const args = [
    CLI, 'deploy',
    '--runtime', 'docker', '--image', 'zerodrop-demo:v1', '--to-image', 'zerodrop-demo:v2',
    '--replicas', '2',
    '--termination-grace-period-seconds', '20',
    '--probe-period-ms', '200',
    // 60 s for a container to come up on a busy 2-core machine (60 × 200 ms would be 12 s)
    '--startup-failure-threshold', '300',
    '--connections', '10', '--rate', '100',
    '--container-env', 'DRAIN_DELAY_MS=1500',
    '--run-dir', path.join(dir, 'run'),
    '--json', json,
    ...extra,
  ]
  return new Promise((resolve) => {
    const env = { ...process.env, ZERODROP_DOCKER_OWNER: OWNER }
    execFile(process.execPath, args, { cwd: ROOT, env, timeout: 150_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0
      const report = fs.existsSync(json) ? (JSON.parse(fs.readFileSync(json, 'utf8')) as Report) : undefined
      resolve({ code, report, stderr, stdout })
    })
  })
}

/** Containers this file's deploys started (docker runtime, labelled with OWNER) still present. */
async function runtimeContainers(): Promise<string[]> {
  return (await docker(['ps', '-a', '-q', '--filter', 'label=org.zerodrop.runtime=docker', '--filter', `label=org.zerodrop.owner=${OWNER}`])).split('\n').filter(Boolean)
}

async function settleNoContainers(): Promise<string[]> {
  // the watchdogs remove the containers of instances the fleet killed at the end (within ~250 ms)
  const deadline = Date.now() + 10_000
  let left = await runtimeContainers()
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250))
    left = await runtimeContainers()
  }
  return left
}

describeWithDocker('fleet docker runtime: zerodrop deploy --runtime docker', () => {
  afterEach(async () => {
    const left = await runtimeContainers()
    if (left.length > 0) await docker(['rm', '-f', '-v', ...left]).catch(() => undefined)
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
  })

  it('rolls 2 containers of zerodrop-demo:v1 to zerodrop-demo:v2 under load with zero dropped; each old container drains and exits 0', async () => {
    const { code, report, stderr, stdout } = await deployDocker([])
    expect(report, `${stdout}\n${stderr}`).toBeDefined()
    const r = report!
    const v1 = r.instances.filter((i) => i.revision === 'v1')
    console.log(`container figure ${JSON.stringify({
      variant: 'docker runtime rolling 2->2',
      dropped: r.dropped,
      requests: r.load.requests,
      rolloutMs: r.timing.rolloutDurationMs,
      v1StopToExitMs: v1.map((i) => i.termination?.durationMs),
    })}`)
    const ctx = `\n${stdout}\n${stderr.split('\n').slice(-15).join('\n')}`
    expect(r.parameters.from.command, 'instances ran as containers').toContain('docker-supervisor.js --image zerodrop-demo:v1')
    expect(r.load.requests, ctx).toBeGreaterThan(300)
    expect(r.dropped, `dropped${ctx}`).toBe(0)
    expect(r.bothRevisionsServed, ctx).toBe(true)
    expect(r.verdict, ctx).toBe('promoted')
    expect(code, ctx).toBe(0)
    expect(v1).toHaveLength(2)
    for (const i of v1) {
      expect(i.termination?.code, `${i.id} exit code (the container's)${ctx}`).toBe(0)
      expect(i.termination?.killed, `${i.id} needed no SIGKILL`).toBe(false)
      // it drained: at least the drain delay passed between SIGTERM and the exit
      expect(i.termination?.durationMs ?? 0).toBeGreaterThanOrEqual(1400)
    }
    expect(await settleNoContainers(), 'containers left after the deploy').toEqual([])
  }, 180_000)

  it('negative control: the same rollout of the naive demo (NAIVE=1) in containers drops requests', async () => {
    const { code, report, stderr, stdout } = await deployDocker(['--container-env', 'NAIVE=1'])
    expect(report, `${stdout}\n${stderr}`).toBeDefined()
    const r = report!
    console.log(`container figure ${JSON.stringify({ variant: 'docker runtime rolling 2->2, NAIVE=1', dropped: r.dropped, requests: r.load.requests })}`)
    expect(r.load.requests).toBeGreaterThan(300)
    expect(r.dropped, stdout).toBeGreaterThan(0)
    expect(code).toBe(1)
    expect(await settleNoContainers(), 'containers left after the deploy').toEqual([])
  }, 180_000)
})
