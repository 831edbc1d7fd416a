import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const DEMO = `${ROOT}demo/dist/server.js`
/** The `zerodrop` command as npm links it (the committed launcher of the built CLI). */
export const CLI = `${ROOT}packages/fleet/bin/zerodrop.js`

/**
 * Polls `probe` until it returns a value other than undefined or false (or resolves to one),
 * and returns it; fails after `timeoutMs` naming what it waited for and the last error.
 */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | false | Promise<T | undefined | false>, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await probe()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

/** Whether nothing listens on `port` on 127.0.0.1 (a bind there succeeds). */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

/** A free TCP port on 127.0.0.1 (bound on port 0, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** performance.now() when the process exited */
  readonly at: number
}

export interface Fixture {
  readonly port: number
  readonly url: string
  readonly child: ChildProcess
  readonly exited: Promise<Exit>
  output(): string
  /** performance.now() when the signal was sent */
  signal(sig?: NodeJS.Signals): number
  kill(): Promise<void>
}

const running = new Set<Fixture>()

/**
 * Starts `node script` with `env` on a free port and waits until `ready` holds: a path that
 * must answer 200 over plain HTTP, or a pattern the process prints (for TLS-only servers).
 */
export async function startFixture(script: string, env: Record<string, string> = {}, ready: string | RegExp = '/readyz'): Promise<Fixture> {
  const port = await freePort()
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() })))
  const fixture: Fixture = {
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    exited,
    output: () => out,
    signal(sig = 'SIGTERM') {
      const at = performance.now()
      child.kill(sig)
      return at
    },
    async kill() {
      running.delete(fixture)
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exited
      }
    },
  }
  running.add(fixture)
  const deadline = Date.now() + 15_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`fixture ${script} exited with ${child.exitCode} before it was ready:\n${out}`)
    if (ready instanceof RegExp) {
      if (ready.test(out)) return fixture
    } else {
      try {
        const res = await fetch(`${fixture.url}${ready}`, { signal: AbortSignal.timeout(1000) })
        await res.text()
        if (res.status === 200) return fixture
      } catch {
        // not listening yet
      }
    }
    if (Date.now() > deadline) {
      await fixture.kill()
      throw new Error(`fixture ${script} not ready on port ${port} within 15 s:\n${out}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Kills every fixture still running (use in afterEach, so a failing test leaves nothing behind). */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((f) => f.kill()))
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/**
 * After a CLI test, pass or fail: SIGKILL the process groups the commands under test recorded
 * (`echo $$` in a command: sh is the group leader), then every CLI child still running.
 */
export function killRecorded(groups: readonly number[], children: Set<import('node:child_process').ChildProcess>): void {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      // gone, as it should be
    }
  }
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  children.clear()
}
