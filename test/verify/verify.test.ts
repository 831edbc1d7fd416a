import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DEMO, startFixture } from '../helpers/process.js'
import { cleanUp, rollout, runCli, ZERODROP_CLI } from './harness.js'

afterEach(cleanUp)

// A rolling restart performed by a script (not by the fleet) behind the fleet's standalone l4
// router, which here only routes: the count is verify's own, on the load side.
describe('zerodrop verify around a scripted rolling restart (standalone l4 router)', () => {
  it('Fastify + zerodrop: zero dropped, exit 0, the traffic moved from v1 to v2', async () => {
    const r = await rollout('zerodrop-l4', 'fastify')
    expect(r.json.dropped, r.stdout).toBe(0)
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.json.ok).toBe(r.json.requests)
    expect(r.json.requests).toBeGreaterThan(300)
    expect(r.versions.v1).toBeGreaterThan(0)
    expect(r.versions.v2).toBeGreaterThan(0)
    expect(r.lastVersions).toEqual(['v2'])
    expect(r.stdout).toMatch(/verdict {3}ZERO DROPPED; 0 dropped; exit 0/)
    expect(r.stdout).toContain('roll: every old instance exited')
  })

  it('naive (exits at once on SIGTERM), the negative control: dropped > 0, exit 1', async () => {
    const r = await rollout('zerodrop-l4', 'naive')
    expect(r.json.dropped, r.stdout).toBeGreaterThan(0)
    expect(r.code).toBe(1)
    expect(r.json.command.exitCode).toBe(0)
    expect(r.stdout).toMatch(/verdict {3}DROPPED; [1-9]\d* dropped; exit 1/)
  })
})

describe('zerodrop verify: exit codes around a steady service', () => {
  const fast = ['--lead-ms', '200', '--tail-ms', '200', '--quiet']

  it('64 when --url does not answer 2xx before the command starts; the command never runs', async () => {
    const f = await startFixture(DEMO)
    const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-verify-')), 'ran')
    const r = await runCli([ZERODROP_CLI, 'verify', '--url', `${f.url}/no-such-path`, ...fast, '--', 'touch', marker])
    expect(r.code).toBe(64)
    expect(r.stderr).toMatch(/--url http:\/\/127\.0\.0\.1:\d+\/no-such-path: expected a 2xx answer before the command starts, instead got 404/)
    expect(fs.existsSync(marker)).toBe(false)
  })

  it('3 when the command fails or cannot start, zero dropped; its output passes through', async () => {
    const f = await startFixture(DEMO)
    const failed = await runCli([ZERODROP_CLI, 'verify', '--url', `${f.url}/`, ...fast, '--', 'sh', '-c', 'echo from-the-command; exit 7'])
    expect(failed.code).toBe(3)
    expect(failed.stdout).toContain('from-the-command')
    expect(failed.stdout).toMatch(/command {3}exited with code 7/)
    expect(failed.stdout).toMatch(/verdict {3}ZERO DROPPED; the command failed; 0 dropped; exit 3/)
    const missing = await runCli([ZERODROP_CLI, 'verify', '--url', `${f.url}/`, ...fast, '--', 'no-such-command-zerodrop'])
    expect(missing.code).toBe(3)
    expect(missing.stdout).toContain('could not start: no-such-command-zerodrop: not found')
  })

  it('3 when --until never succeeds within --duration; 0 when it does', async () => {
    const f = await startFixture(DEMO)
    const never = await runCli([ZERODROP_CLI, 'verify', '--url', `${f.url}/`, ...fast, '--until', 'exit 1', '--until-interval-ms', '200', '--duration', '1', '--', 'true'])
    expect(never.code).toBe(3)
    expect(never.stdout).toMatch(/until never succeeded \(\d+ polls\)/)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-verify-'))
    const flag = path.join(dir, 'done')
    const eventually = await runCli([ZERODROP_CLI, 'verify', '--url', `${f.url}/`, ...fast, '--until', `test -f ${flag}`, '--until-interval-ms', '100',
      '--', 'sh', '-c', `(sleep 0.5; touch ${flag}) >/dev/null 2>&1 &`])
    expect(eventually.code, eventually.stdout).toBe(0)
    expect(eventually.stdout).toMatch(/until succeeded after ([2-9]|\d\d+) poll\(s\)/)
  })

  it('3 at --duration: the command gets SIGTERM', async () => {
    const f = await startFixture(DEMO)
    const r = await runCli([ZERODROP_CLI, 'verify', '--url', `${f.url}/`, ...fast, '--duration', '1', '--', 'sh', '-c', "trap 'echo got-sigterm; exit 0' TERM; sleep 30 & wait"])
    expect(r.code).toBe(3)
    expect(r.stdout).toContain('got-sigterm')
    expect(r.stdout).toMatch(/stopped at --duration/)
  })

  it('--expect-drops: exit 1 when the set-up showed no drop', async () => {
    const f = await startFixture(DEMO)
    const r = await runCli([ZERODROP_CLI, 'verify', '--url', `${f.url}/`, ...fast, '--expect-drops', '--', 'true'])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('NO DROPS SEEN, but --expect-drops asked for some')
  })

  it.each([['SIGINT', 130], ['SIGTERM', 143]] as const)('%s → %i: the command gets SIGTERM, the counts so far are reported', async (sig, code) => {
    const f = await startFixture(DEMO)
    const r = await runCli([ZERODROP_CLI, 'verify', '--url', `${f.url}/`, '--lead-ms', '200', '--', 'sh', '-c', "trap 'echo got-sigterm; exit 0' TERM; sleep 30 & wait"], (child) => {
      child.stderr?.on('data', (d: Buffer) => {
        if (d.toString().includes('command started')) setTimeout(() => child.kill(sig), 300)
      })
    })
    expect(r.code).toBe(code)
    expect(r.stdout).toContain('got-sigterm')
    expect(r.stdout).toMatch(new RegExp(`verdict {3}INTERRUPTED; 0 dropped; exit ${code}`))
  })
})
