import { execFile } from 'node:child_process'
import { afterEach, expect, it } from 'vitest'
import { describeWithDocker, docker } from './docker.js'
import { ROOT } from '../helpers/process.js'

// Issue 6: docker-compose.yml comes up with the locally built images, a scripted blue-green
// switch under load (demo/scripts/compose-demo.mjs, what `npm run compose:demo` runs) drops
// nothing, and everything is torn down. Negative control: the same switch with a blue that
// exits at once on SIGTERM (NAIVE=1) drops the requests pinned to it.

interface ComposeResult {
  zeroDrop: boolean
  project: string
  exact: { sent: number; ok: number; lost: number; refused: number; timeout: number; non2xx: number; byVersion: Record<string, number>; dropped: number }
  router: { requests: number; dropped: number; byRevision: Record<string, { requests: number }> }
  loadService?: { exact?: { sent: number; dropped: number }; autocannon?: { responses: number } }
  timings: { blueStopMs: number; blueExitCode: number; lastVersion?: string }
}

const projects: string[] = []

function runDemo(flags: string[]): Promise<{ code: number; result: ComposeResult | undefined; stderr: string }> {
  const project = `zerodrop-test-${process.pid}-${projects.length}`
  projects.push(project)
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [`${ROOT}demo/scripts/compose-demo.mjs`, '--json', ...flags],
      { cwd: ROOT, env: { ...process.env, ZERODROP_COMPOSE_PROJECT: project }, timeout: 150_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const line = stdout.split('\n').find((l) => l.startsWith('{'))
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0
        resolve({ code, result: line ? (JSON.parse(line) as ComposeResult) : undefined, stderr })
      },
    )
  })
}

async function leftovers(project: string): Promise<string> {
  return docker(['ps', '-a', '-q', '--filter', `label=com.docker.compose.project=${project}`])
}

describeWithDocker('docker-compose.yml: blue-green switch under load', () => {
  afterEach(async () => {
    // the script tears down itself; this is for a run that was killed half-way
    for (const project of projects.splice(0)) {
      const ids = (await leftovers(project)).split('\n').filter(Boolean)
      if (ids.length > 0) await docker(['rm', '-f', '-v', ...ids]).catch(() => undefined)
      await docker(['network', 'rm', `${project}_default`]).catch(() => undefined)
    }
  })

  it('switches blue (v1) to green (v2) under keep-alive load with zero dropped, then tears everything down', async () => {
    const { code, result, stderr } = await runDemo([])
    console.log(`container figure ${JSON.stringify({ variant: 'compose blue-green', ...result?.exact, router: result?.router.dropped, blueStopMs: result?.timings.blueStopMs })}`)
    expect(result, stderr).toBeDefined()
    const r = result!
    const ctx = `\n${JSON.stringify(r)}\n${stderr}`
    // real load on both sides of the switch (the rate depends on how busy the machine is)
    expect(r.exact.sent, ctx).toBeGreaterThan(100)
    expect(r.exact.dropped, `exact client drops${ctx}`).toBe(0)
    expect(r.router.dropped, `router-counted drops${ctx}`).toBe(0)
    expect(r.loadService?.exact?.dropped, `load service drops${ctx}`).toBe(0)
    expect(r.exact.byVersion.v1, ctx).toBeGreaterThan(20)
    expect(r.exact.byVersion.v2, ctx).toBeGreaterThan(20)
    expect(r.timings.lastVersion, 'after the switch and blue stop, only green answers').toBe('v2')
    expect(r.timings.blueExitCode, 'blue drained and exited 0').toBe(0)
    expect(r.zeroDrop).toBe(true)
    expect(code).toBe(0)
    expect(await leftovers(r.project), 'containers left after the run').toBe('')
  }, 180_000)

  it('negative control: the same switch with a blue that exits at once on SIGTERM (NAIVE=1) drops requests', async () => {
    const { code, result, stderr } = await runDemo(['--naive-blue'])
    console.log(`container figure ${JSON.stringify({ variant: 'compose blue-green, naive blue', ...result?.exact, router: result?.router.dropped })}`)
    expect(result, stderr).toBeDefined()
    const r = result!
    const ctx = `\n${JSON.stringify(r)}\n${stderr}`
    expect(r.exact.sent, ctx).toBeGreaterThan(100)
    expect(r.exact.dropped + r.router.dropped, `drops${ctx}`).toBeGreaterThan(0)
    expect(r.zeroDrop).toBe(false)
    expect(code, 'compose:demo exits 1 when something was dropped').toBe(1)
    expect(await leftovers(r.project), 'containers left after the run').toBe('')
  }, 180_000)
})
