// The benchmark harness's smoke mode (~10 s): every section's machinery runs once against
// real servers, real autocannon and real signals. It checks the harness produces well-formed
// results; the figures themselves mean nothing at these durations and are not asserted.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const RUN = path.join(ROOT, 'test/bench/run.mjs')

let child: ChildProcess | undefined
let outDir: string | undefined
afterEach(async () => {
  const c = child
  child = undefined
  if (c && c.exitCode === null && c.signalCode === null) {
    const exited = new Promise((r) => c.once('exit', r))
    c.kill('SIGTERM') // run.mjs stops its own children by PID, then exits
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
  if (outDir) fs.rmSync(outDir, { recursive: true, force: true })
  outDir = undefined
})

function runSmoke(dir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [RUN, '--smoke', '--out', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    child = c
    let stdout = ''
    let stderr = ''
    c.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
    c.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
    c.once('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

const finitePositive = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x > 0

interface Ratio { n: number; ratio: number; lo: number; hi: number; ratios: number[] }

describe('bench smoke mode', () => {
  it('produces a Markdown table and JSON with finite medians, pairwise ratios and intervals', async () => {
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-bench-smoke-'))
    const { code, stdout, stderr } = await runSmoke(outDir)
    expect(code, `bench --smoke failed:\n${stderr}`).toBe(0)

    const json = JSON.parse(fs.readFileSync(path.join(outDir, 'smoke.json'), 'utf8'))
    const md = fs.readFileSync(path.join(outDir, 'smoke.md'), 'utf8')
    expect(stdout).toContain('## zerodrop benchmarks')

    // Overhead: a baseline and a variant, each with medians, and the variant's ratios
    // computed from back-to-back pairs, with an interval around them.
    expect(json.overhead).toHaveLength(1)
    const group = json.overhead[0]
    const rows = group.rows as Array<{ server: string; baseline: boolean; rps: number; usPerReq: number; rpsRatio: Ratio; cpuRatio: Ratio; samples: { rps: number[]; usPerReq: number[]; cpuPairBase: number[] }; failedRequests: number }>
    expect(rows.map((r) => r.server)).toEqual(['fastify-bare', 'fastify-zerodrop'])
    // A B A per CPU round: the baseline is sampled before and after every variant.
    expect(rows[0]!.samples.usPerReq).toHaveLength(json.options.cpuRounds * 2)
    expect(rows[1]!.samples.usPerReq).toHaveLength(json.options.cpuRounds)
    for (const r of rows) {
      expect(r.samples.rps).toHaveLength(json.options.rounds)
      expect(finitePositive(r.rps), `req/s of ${r.server}`).toBe(true)
      expect(finitePositive(r.usPerReq), `CPU per request of ${r.server}`).toBe(true)
      expect(r.failedRequests, `${r.server} answered every request with 2xx`).toBe(0)
    }
    const variant = rows[1]!
    for (const [ratio, n] of [[variant.rpsRatio, json.options.rounds], [variant.cpuRatio, json.options.cpuRounds]] as const) {
      expect(ratio.n).toBe(n)
      expect(finitePositive(ratio.ratio)).toBe(true)
      expect(finitePositive(ratio.lo) && finitePositive(ratio.hi)).toBe(true)
      expect(ratio.lo).toBeLessThanOrEqual(ratio.ratio)
      expect(ratio.hi).toBeGreaterThanOrEqual(ratio.ratio)
    }
    // The ratio really is pair by pair: recompute it from the samples (each variant sample over
    // the mean of the baseline samples taken right before and right after it).
    const base = rows[0]!.samples.usPerReq
    variant.samples.cpuPairBase.forEach((b, i) => expect(b).toBeCloseTo((base[2 * i]! + base[2 * i + 1]!) / 2, 9))
    const pairs = variant.samples.usPerReq.map((v, i) => v / variant.samples.cpuPairBase[i]!).sort((a, b) => a - b)
    const mid = pairs.length >> 1
    const med = pairs.length % 2 ? pairs[mid]! : (pairs[mid - 1]! + pairs[mid]!) / 2
    expect(variant.cpuRatio.ratio).toBeCloseTo(med, 9)
    expect(variant.cpuRatio.lo).toBeCloseTo(pairs[0]!, 9)
    expect(variant.cpuRatio.hi).toBeCloseTo(pairs.at(-1)!, 9)

    // Probe latency: probes answered 200 under load, percentiles finite and ordered.
    expect(json.probes).toHaveLength(1)
    const probe = json.probes[0]
    expect(probe.probes).toBeGreaterThanOrEqual(5)
    expect(Object.keys(probe.statuses)).toEqual(['200'])
    expect(finitePositive(probe.p50Ms) && finitePositive(probe.p99Ms)).toBe(true)
    expect(probe.p99Ms).toBeGreaterThanOrEqual(probe.p50Ms)

    // The probe's relative figure: the app route measured by the same client at the same moments.
    expect(probe.app.requests).toBe(probe.probes)
    expect(Object.keys(probe.app.statuses)).toEqual(['200'])
    expect(probe.p99VsApp).toBeCloseTo(probe.p99Ms / probe.app.p99Ms, 9)

    // Drain: a real SIGTERM, a real exit, idle keep-alive sockets closed by the server.
    const drain = json.drain[0]
    for (const key of ['idle', 'clients']) {
      const s = drain.scenarios[key]
      expect(finitePositive(s.medianMs)).toBe(true)
      expect(s.exitCodes).toEqual(s.runs.map(() => 0))
    }
    // A draining server waits its delay before it exits.
    expect(drain.scenarios.idle.medianMs).toBeGreaterThanOrEqual(json.options.drainDelayMs)
    const withClients = drain.scenarios.clients.runs[0]
    expect(withClients.opened).toBe(json.options.idleClients)
    expect(withClients.closedByServer).toBe(json.options.idleClients)

    // How cost grows: every idle connection was opened and then closed by the draining server,
    // which exited 0 after its delay; the router held the connections it was given and served the
    // paced load over them (no request needed a new socket), without a failure.
    const growth = json.growth
    expect(growth.drain).toHaveLength(json.options.growth.drainConnections.length)
    for (const d of growth.drain) {
      expect(d.closedAll, `${d.connections} idle connections opened and closed by the server`).toBe(true)
      expect(d.exitCodes).toEqual(d.runs.map(() => 0))
      expect(d.drainMs).toBeGreaterThanOrEqual(json.options.growth.drainDelayMs)
      expect(d.runs[0].gc, 'memory read after a full collection').toBe(true)
    }
    expect(growth.router).toHaveLength(json.options.growth.routerConnections.length)
    for (const r of growth.router) {
      expect(r.opened).toBe(r.connections)
      expect(r.routerOpenConnections).toBe(r.connections)
      expect(r.failed).toBe(0)
      expect(r.newSockets).toBe(0)
      expect(finitePositive(r.usPerReq), `router CPU per request at ${r.connections} connections`).toBe(true)
    }

    // The Markdown carries the same tables, with ratios and intervals.
    expect(md).toMatch(/\| configuration \| req\/s \(median\) \| req\/s vs bare \|/)
    expect(md).toMatch(/\| Fastify \+ zerodrop \(probes, drain\) \| \d+ \| \d+\.\d{3} \(\d+\.\d{3}–\d+\.\d{3}\) \|/)
    expect(md).toContain('### Readiness probe latency under load')
    expect(md).toContain('### Drain: SIGTERM to exit')
    expect(md).toContain('### How cost grows')
    expect(md).toContain('### Targets')
    expect(json.targets.length).toBeGreaterThan(0)
  }, 180_000)
})
