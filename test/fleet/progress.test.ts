import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeWithTool } from '../helpers/tools.js'

// The CLI on a real pseudo-terminal (util-linux `script` allocates one; its stderr is a TTY): a
// live status line redrawn in place, the event lines above it; --quiet silences both. The same
// run in a pipe is the plain event lines (the unit test covers that writer; cli.test.ts the pipe).

const CLI = fileURLToPath(new URL('../../packages/fleet/bin/zerodrop.js', import.meta.url))
const DEMO = fileURLToPath(new URL('../../demo/dist/server.js', import.meta.url))

const quote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`

let dir: string

/** Runs the CLI under `script`; returns what the terminal received and the CLI's exit code. */
function onTerminal(name: string, extra: string[]): Promise<{ code: number | null; screen: string }> {
  const env = 'DRAIN_DELAY_MS=1000 SHUTDOWN_TIMEOUT_MS=10000'
  const args = [
    CLI, 'deploy', '--replicas', '2', '--max-surge', '1', '--max-unavailable', '0', '--probe-period-ms', '250', '--rate', '200', '--connections', '20',
    '--lead-ms', '1000', '--tail-ms', '1000', '--no-stop-check', '--from', `${env} APP_VERSION=v1 exec node ${DEMO}`, '--to', `${env} APP_VERSION=v2 exec node ${DEMO}`, ...extra,
  ]
  const typescript = path.join(dir, `${name}.typescript`)
  // stdout to a file: the terminal then shows stderr alone; `stty cols` sizes the pty
  const command = `stty cols 200; ${[process.execPath, ...args].map(quote).join(' ')} > ${quote(path.join(dir, `${name}.stdout`))}`
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-q', '-f', '-e', '-c', command, typescript], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TMPDIR: dir } })
    const timer = setTimeout(() => child.kill('SIGINT'), 90_000)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, screen: fs.readFileSync(typescript, 'utf8') })
    })
  })
}

describeWithTool('script', 'live progress on a terminal', () => {
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-progress-'))
  })
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })

  it('one status line redrawn in place (phase, step, ready/available, req/s, failed so far), events above it, cleared at the end', async () => {
    const { code, screen } = await onTerminal('tty', [])
    expect(code, screen).toBe(0)
    const redraws = screen.split('\r\x1b[2K')
    const statuses = redraws.filter((s) => /^\[ *\d+\.\d s\] [a-z]+:.* \| ready\/available v1 \d\/\d v2 \d\/\d.* \| \d+ req\/s \| \d+ failed of \d+/.test(s))
    // redrawn 4 times a second while the deploy runs: count against the span the status lines
    // themselves cover (a fixed count assumed the deploy's length: 8 redraws in 2 s on a fast machine failed it)
    const at = statuses.map((s) => Number(/^\[ *(\d+\.\d) s\]/.exec(s)![1]))
    const span = at.at(-1)! - at[0]!
    expect(span, 'status lines over at least 1.5 s').toBeGreaterThanOrEqual(1.5)
    // at least 3 a second (timers may be late on a busy machine, never early)
    expect(statuses.length, `${statuses.length} redraws over ${span.toFixed(1)} s`).toBeGreaterThanOrEqual(Math.floor(span * 3))
    expect(statuses.some((s) => s.includes('rollout: scale up v2 to 1'))).toBe(true)
    expect(statuses.some((s) => / [1-9]\d+ req\/s/.test(s))).toBe(true)
    // the event lines are all there, each on its own line
    expect(screen).toMatch(/\[ *\d+\.\d s\] rollout: complete: v2 2\/2 available, v1 gone\r?\n/)
    // the last thing on the terminal before the end is a cleared line, not a stale status
    const body = screen.replace(/(\r?\n)?Script done [\s\S]*$/, '')
    expect(JSON.stringify(body.slice(-120))).toMatch(/\\u001b\[2K"$/)
    // the report went to stdout, not over the status line
    expect(fs.readFileSync(path.join(dir, 'tty.stdout'), 'utf8')).toMatch(/^zerodrop deploy: rolling/)
  })

  it('--quiet on a terminal: no status line and no event line', async () => {
    const { code, screen } = await onTerminal('quiet', ['--quiet'])
    expect(code).toBe(0)
    expect(screen).not.toContain('\x1b[2K')
    expect(screen).not.toMatch(/rollout:/)
  })
})
