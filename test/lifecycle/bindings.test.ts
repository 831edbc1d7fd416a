// Fastify listening on a name that resolves to two loopback addresses ('localhost' → 127.0.0.1
// and ::1, the default on many machines) binds a second server no plugin can reach. Here the
// name resolves that way for real: the demo runs in its own mount namespace (unshare) with an
// /etc/hosts that maps localhost to both addresses, as many distributions ship it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { DEMO, freePort, sleep, waitFor } from '../helpers/process.js'
import { describeWith } from '../helpers/tools.js'

function namespacesMissing(): string | undefined {
  const r = spawnSync('unshare', ['--mount', 'true'], { stdio: 'ignore', timeout: 10_000 })
  if (r.error) return `'unshare' is not available (${(r.error as NodeJS.ErrnoException).code}); it is part of util-linux`
  return r.status === 0 ? undefined : 'unshare --mount is not permitted here (it needs root or user namespaces)'
}

interface Demo {
  readonly child: ChildProcess
  readonly port: number
  readonly exited: Promise<number | null>
  output(): string
}

let dir = ''
const running = new Set<ChildProcess>()

/** The demo (Fastify + zerodrop) with HOST=`host`, where localhost resolves to 127.0.0.1 and ::1. */
async function startDemo(host: string, env: Record<string, string> = {}): Promise<Demo> {
  const port = await freePort()
  const script = 'mount --bind "$ZD_HOSTS" /etc/hosts && exec "$ZD_NODE" "$ZD_DEMO"'
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
    env: { ...process.env, ZD_HOSTS: join(dir, 'hosts'), ZD_NODE: process.execPath, ZD_DEMO: DEMO, PORT: String(port), HOST: host, DRAIN_DELAY_MS: '300', SHUTDOWN_TIMEOUT_MS: '5000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { running.delete(child); resolve(code) }))
  await waitFor(`demo on ${host}:${port} to listen`, 15_000, () => {
    if (child.exitCode !== null) throw new Error(`demo exited with ${child.exitCode}:\n${out}`)
    return out.includes('"msg":"listening"') ? true : undefined
  })
  return { child, port, exited, output: () => out }
}

interface Answer { status: number; error?: string; reused?: boolean; connection?: string }

function get(host: string, port: number, path: string, agent: http.Agent | false = false): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, agent, timeout: 10_000 }, (res) => {
      res.resume()
      res.on('end', () => resolve(agent ? { status: res.statusCode ?? 0, reused: req.reusedSocket, connection: String(res.headers.connection) } : { status: res.statusCode ?? 0 }))
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, error: err.code ?? err.message }))
      res.on('aborted', () => resolve({ status: 0, error: 'ABORTED' }))
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })))
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, error: err.code ?? err.message }))
  })
}

describeWith('unshare', namespacesMissing(), "Fastify on a host that resolves to two addresses ('localhost' → 127.0.0.1 and ::1)", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'zerodrop-hosts-'))
    writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost\n::1 localhost\n')
  })
  afterEach(async () => {
    for (const c of running) c.kill('SIGKILL')
    await sleep(50)
  })
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('why: the second server is not drained — during the delay its keep-alive responses do not say Connection: close, app.server\'s do', async () => {
    const demo = await startDemo('localhost')
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    try {
      // both addresses answer on one keep-alive socket each: Fastify bound two servers
      expect((await get('127.0.0.1', demo.port, '/', agent)).status).toBe(200)
      expect((await get('::1', demo.port, '/', agent)).status).toBe(200)
      demo.child.kill('SIGTERM')
      await waitFor('the drain to start', 5000, () => (demo.output().includes('"msg":"draining') ? true : undefined))
      const v4 = await get('127.0.0.1', demo.port, '/', agent)
      const v6 = await get('::1', demo.port, '/', agent)
      // app.server is whichever address the name resolved to first; the other is the second server,
      // whose client keeps a socket the server will cut without notice when it closes
      expect([v4, v6].map((a) => `${a.status} ${a.reused} ${a.connection}`).sort(), demo.output()).toEqual(['200 true close', '200 true keep-alive'])
      await demo.exited
    } finally {
      agent.destroy()
    }
  })

  it('so the lifecycle refuses it: not started, startup and readiness 503, an error naming both addresses and the fix', async () => {
    const demo = await startDemo('localhost')
    expect((await get('127.0.0.1', demo.port, '/startupz')).status).toBe(503)
    expect((await get('127.0.0.1', demo.port, '/readyz')).status).toBe(503)
    const error = demo.output().split('\n').find((l) => l.includes('fastify listens on 2 addresses'))
    expect(error, demo.output()).toBeDefined()
    const line = JSON.parse(error!) as { level: number; addresses: string[]; msg: string }
    expect(line.level).toBe(50)
    expect(line.addresses.sort()).toEqual([`127.0.0.1:${demo.port}`, `[::1]:${demo.port}`].sort())
    expect(line.msg).toContain("listen on one host — '127.0.0.1', '::' or '0.0.0.0'")
  })

  it('control: in the same namespace, HOST=127.0.0.1 binds once and is ready', async () => {
    const demo = await startDemo('127.0.0.1')
    await waitFor('the demo to be ready', 10_000, async () => ((await get('127.0.0.1', demo.port, '/readyz')).status === 200 ? true : undefined))
    expect((await get('::1', demo.port, '/')).error).toBe('ECONNREFUSED')
    expect(demo.output()).not.toContain('fastify listens on')
  })
})
