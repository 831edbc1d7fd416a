// Real child processes for the k8s/ tests: demo instances and a Prometheus, on loopback only,
// stopped by PID.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { DEMO, freePort, waitFor } from '../helpers/process.js'

export { freePort, waitFor }
export const demoEntry = DEMO

export interface Proc {
  readonly name: string
  readonly child: ChildProcess
  readonly output: () => string
  /** SIGTERM, wait for the exit (bounded), SIGKILL if it did not come; resolves to the exit code. */
  stop(timeoutMs?: number): Promise<number | null>
}

export function startProcess(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Proc {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const keep = (b: Buffer) => {
    out += b.toString()
    if (out.length > 200_000) out = out.slice(-100_000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode)
    child.once('exit', (code) => resolve(code))
  })
  return {
    name,
    child,
    output: () => out,
    async stop(timeoutMs = 35_000) {
      // Once only: a second SIGTERM during the drain forces an immediate exit (docs/architecture.md, drain contract step 6).
      if (!child.killed && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref())
      const res = await Promise.race([exited, timer])
      if (res === 'timeout') {
        child.kill('SIGKILL')
        return exited
      }
      return res
    },
  }
}

export interface Demo extends Proc {
  readonly port: number
  readonly url: string
}

/** A demo instance on 127.0.0.1 with the given env (PORT and HOST are set here), ready when /readyz says so. */
export async function startDemo(name: string, env: Record<string, string>): Promise<Demo> {
  if (!existsSync(demoEntry)) {
    throw new Error(`expected the built demo at ${demoEntry}; run 'npx tsc -b' first (npm test does)`)
  }
  const port = await freePort()
  const proc = startProcess(name, process.execPath, [demoEntry], {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    ...env,
    PORT: String(port),
    HOST: '127.0.0.1',
  })
  const url = `http://127.0.0.1:${port}`
  try {
    await waitFor(`demo ${name} on ${url} to be ready`, 20_000, async () => {
      if (proc.child.exitCode !== null) throw new Error(`demo ${name} exited with ${proc.child.exitCode}: ${proc.output()}`)
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      return res.status === 200 ? true : undefined
    })
  } catch (err) {
    await proc.stop(5000)
    throw err
  }
  return { ...proc, port, url }
}

export interface LoadResult {
  sent: number
  byStatus: Record<number, number>
  failed: number
}

/** A bounded request loop (count and time) against one loopback URL. */
/**
 * `requests` GETs from `concurrency` workers. With `spreadMs`, the n-th request is not sent before
 * `n / requests * spreadMs` after the start, so the load spans that long: a Prometheus scraping
 * every second then sees each counter grow across several scrapes. (A series first appears at the
 * first scrape after its first request; what it counted before that is invisible to rate() and
 * increase(), so a burst shorter than one scrape interval reads as no traffic at all.)
 */
export async function drive(url: string, requests: number, concurrency: number, timeoutMs = 30_000, spreadMs = 0): Promise<LoadResult> {
  const start = Date.now()
  const deadline = start + timeoutMs
  const result: LoadResult = { sent: 0, byStatus: {}, failed: 0 }
  async function worker() {
    while (result.sent < requests && Date.now() < deadline) {
      const notBefore = start + (result.sent / requests) * spreadMs
      result.sent++
      if (Date.now() < notBefore) await new Promise((resolve) => setTimeout(resolve, notBefore - Date.now()))
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
        await res.arrayBuffer()
        result.byStatus[res.status] = (result.byStatus[res.status] ?? 0) + 1
      } catch {
        result.failed++
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  if (result.sent < requests) throw new Error(`load on ${url} sent ${result.sent} of ${requests} requests in ${timeoutMs} ms`)
  return result
}
