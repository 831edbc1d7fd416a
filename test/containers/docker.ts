import { execFile } from 'node:child_process'
import http from 'node:http'
import { promisify } from 'node:util'
import { describeWith } from '../helpers/tools.js'
import { GenericContainer, type StartedTestContainer, type WaitStrategy } from 'testcontainers'

// Ryuk (testcontainers' reaper) is an image that cannot be pulled here: the tests remove
// every container they start themselves (`removeAll()` in afterEach), on failure too.
process.env.TESTCONTAINERS_RYUK_DISABLED = 'true'

const run = promisify(execFile)

export const IMAGES = { v1: 'zerodrop-demo:v1', v2: 'zerodrop-demo:v2' } as const
/** `.ci/run` sets it: a missing engine or image is then a failure, not a skip. */
export const REQUIRE_DOCKER = process.env.ZERODROP_REQUIRE_DOCKER === '1'

export async function docker(args: readonly string[], timeoutMs = 60_000): Promise<string> {
  const { stdout } = await run('docker', [...args], { timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 })
  return stdout.trim()
}

/** Why the container tests cannot run here, or undefined when they can. */
async function unavailableReason(): Promise<string | undefined> {
  try {
    await docker(['info', '--format', '{{.ServerVersion}}'], 10_000)
  } catch (err) {
    return `no Docker engine answers 'docker info' (${(err as Error).message.split('\n')[0]}); run .ci/docker.sh to install and start one`
  }
  for (const image of Object.values(IMAGES)) {
    try {
      await docker(['image', 'inspect', image, '--format', '{{.Id}}'], 10_000)
    } catch {
      return `image ${image} is missing; build it with demo/scripts/build-images.sh`
    }
  }
  return undefined
}

export const dockerUnavailable = await unavailableReason()

/**
 * `describe` that runs only where a Docker engine and the demo images are present. Elsewhere it
 * skips with a loud line, unless ZERODROP_REQUIRE_DOCKER=1, where the skip is a failure.
 */
export function describeWithDocker(name: string, fn: () => void): void {
  describeWith('docker', dockerUnavailable, name, fn)
}

/** GET on loopback with its own connection; resolves the status, or 0 when it failed (and why). */
export function get(port: number, path: string, timeoutMs = 15_000): Promise<{ status: number; error?: string; body: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, error: err.code ?? err.message, body }))
      res.on('aborted', () => resolve({ status: 0, error: 'ABORTED', body }))
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })))
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, error: err.code ?? err.message, body: '' }))
  })
}

/**
 * Waits until `GET /readyz` on 127.0.0.1:port answers 200, polling every 100 ms. With host
 * networking testcontainers has no port mapping to read, so its own HTTP strategy cannot be
 * used; this one also fails fast, with the logs, when the container exits first.
 */
export class ReadyzWaitStrategy implements WaitStrategy {
  #timeoutMs = 30_000
  #set = false
  constructor(private readonly port: number, private readonly path = '/readyz') {}

  async waitUntilReady(container: { id: string }): Promise<void> {
    const deadline = Date.now() + this.#timeoutMs
    let polls = 0
    for (;;) {
      const r = await get(this.port, this.path, 1000)
      if (r.status === 200) return
      if (++polls % 10 === 0) {
        const state = await docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', container.id]).catch(() => 'gone')
        if (!state.startsWith('running')) {
          const logs = await docker(['logs', '--tail', '30', container.id]).catch(() => '')
          throw new Error(`container ${container.id.slice(0, 12)} stopped (${state}) before ${this.path} answered 200 on 127.0.0.1:${this.port}:\n${logs}`)
        }
      }
      if (Date.now() > deadline) {
        throw new Error(`expected ${this.path} on 127.0.0.1:${this.port} to answer 200 within ${this.#timeoutMs} ms, last got ${r.status || r.error}`)
      }
      await new Promise((res) => setTimeout(res, 100))
    }
  }

  withStartupTimeout(ms: number): this {
    this.#timeoutMs = ms
    this.#set = true
    return this
  }

  isStartupTimeoutSet(): boolean {
    return this.#set
  }

  getStartupTimeout(): number {
    return this.#timeoutMs
  }
}

const started = new Set<string>()

/** Records each container's id as soon as it exists, so `removeAll()` finds it even if the start failed half-way. */
class TrackedContainer extends GenericContainer {
  protected override async containerCreated(id: string): Promise<void> {
    started.add(id)
  }
}

export interface DemoContainerOptions {
  readonly image?: string
  readonly port: number
  readonly env?: Record<string, string>
  /** replaces the image's entry point, e.g. `['npm']` with command `['start']` */
  readonly entrypoint?: string[]
  readonly command?: string[]
  readonly workdir?: string
}

export interface DemoContainer {
  readonly container: StartedTestContainer
  readonly id: string
  /** ms from asking testcontainers to start until /readyz answered 200 */
  readonly startToReadyMs: number
}

/** Starts the demo image on the host network (listening on 127.0.0.1:port) and waits until it is ready. */
export async function startDemoContainer(o: DemoContainerOptions): Promise<DemoContainer> {
  let c: GenericContainer = new TrackedContainer(o.image ?? IMAGES.v1)
    .withNetworkMode('host')
    .withEnvironment({ PORT: String(o.port), HOST: '127.0.0.1', ...o.env })
    .withLabels({ 'org.zerodrop.test': 'containers' })
    .withWaitStrategy(new ReadyzWaitStrategy(o.port))
    .withStartupTimeout(30_000)
  if (o.entrypoint) c = c.withEntrypoint(o.entrypoint)
  if (o.command) c = c.withCommand(o.command)
  if (o.workdir) c = c.withWorkingDir(o.workdir)
  const t0 = performance.now()
  const container = await c.start()
  const startToReadyMs = Math.round(performance.now() - t0)
  started.add(container.getId())
  return { container, id: container.getId(), startToReadyMs }
}

export interface ContainerExit {
  readonly exitCode: number
  readonly oomKilled: boolean
  readonly logs: string
}

export async function exitOf(id: string): Promise<ContainerExit> {
  const [code, oom] = (await docker(['inspect', '-f', '{{.State.ExitCode}} {{.State.OOMKilled}}', id])).split(' ')
  const { stdout, stderr } = await run('docker', ['logs', '--tail', '40', id], { maxBuffer: 8 * 1024 * 1024 })
  return { exitCode: Number(code), oomKilled: oom === 'true', logs: stdout + stderr }
}

/** Removes every container this file started (afterEach: on failure too). */
export async function removeAll(): Promise<void> {
  const ids = [...started]
  started.clear()
  if (ids.length > 0) await docker(['rm', '-f', '-v', ...ids]).catch(() => undefined)
}

export async function imageSizeMb(image: string): Promise<number> {
  return Math.round(Number(await docker(['image', 'inspect', image, '--format', '{{.Size}}'])) / 1e6)
}

/** A fact line the test run prints: the container figures (startup, stop-to-exit). */
export function figure(fields: Record<string, unknown>): void {
  console.log(`container figure ${JSON.stringify(fields)}`)
}
