import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { VerifyJson } from '#fleet/verify/report.js'
import { DEMO, ROOT, freePort, killAll, sleep, startFixture } from '../helpers/process.js'

/**
 * `zerodrop verify` as the load and the judge of a rolling restart that a script performs behind
 * a balancer we did not write (HAProxy) or behind the fleet's standalone router: demo instances
 * of v1 started here, the script (fixtures/roll.mjs) starting v2, SIGTERMing v1 and taking it out
 * of the balancer 1 s later, as Kubernetes' endpoint lag does.
 */
export type Variant = 'fastify' | 'express' | 'naive' | 'stoppable'
export type Balancer = 'zerodrop-l4' | 'haproxy-http' | 'haproxy-tcp'

const VARIANTS: Readonly<Record<Variant, Record<string, string>>> = {
  fastify: { FRAMEWORK: 'fastify' },
  express: { FRAMEWORK: 'express' },
  naive: { NAIVE: '1' },
  stoppable: { NAIVE: 'stoppable' },
}
// the drain delay outlasts the 1 s endpoint lag and the health checks' 750 ms
const DRAIN = { DRAIN_DELAY_MS: '2000', SHUTDOWN_TIMEOUT_MS: '5000' }
export const ZERODROP_CLI = `${ROOT}packages/fleet/bin/zerodrop.js`
const ROLL = `${ROOT}test/verify/fixtures/roll.mjs`

const cleanups: Array<() => Promise<void> | void> = []

/** Stops everything a rollout started (afterEach), pass or fail. */
export async function cleanUp(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c()
  await killAll()
}

function killPids(file: string): void {
  if (!fs.existsSync(file)) return
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const pid = Number(line)
    if (!Number.isInteger(pid) || pid <= 0) continue
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone already
    }
  }
}

function startProcess(command: string, args: string[], env: Record<string, string>, logFile: string): { child: ChildProcess; stop: () => Promise<void> } {
  const out = fs.openSync(logFile, 'a')
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', out, out] })
  fs.closeSync(out)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exited
      }
    },
  }
}

async function until200(url: string, what: string, log: string): Promise<void> {
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
      await res.text()
      if (res.status === 200) return
    } catch {
      // not yet
    }
    await sleep(50)
  }
  throw new Error(`${what} did not answer 200 on ${url} within 15 s:\n${fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : ''}`)
}

interface Slot {
  readonly name: string
  readonly port: number
}

/** HAProxy in front of the slots; v2's slots start in maintenance. Exported for the docs' figures. */
export function haproxyConfig(mode: 'http' | 'tcp', port: number, socket: string, active: readonly Slot[], spare: readonly Slot[], check: 'readyz' | 'connect' = 'readyz'): string {
  const servers = [...active.map((s) => `  server ${s.name} 127.0.0.1:${s.port} check`), ...spare.map((s) => `  server ${s.name} 127.0.0.1:${s.port} check disabled`)]
  return [
    'global',
    `  stats socket ${socket} mode 600 level admin`,
    '  maxconn 2000',
    'defaults',
    `  mode ${mode}`,
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    ...(mode === 'http' ? ['  timeout http-keep-alive 30s', '  option http-keep-alive'] : []),
    // a retried request would hide a drop; so would sending it to another server
    '  retries 0',
    '  no option redispatch',
    'frontend fe',
    `  bind 127.0.0.1:${port}`,
    '  default_backend be',
    'backend be',
    '  balance roundrobin',
    ...(mode === 'http' ? ['  http-reuse safe'] : []),
    // an h2-only server answers no HTTP/1.1 check: a TCP connect check (the runtime API moves traffic)
    ...(check === 'readyz' ? ['  option httpchk GET /readyz'] : []),
    // every 250 ms; a healthy server on a loaded 2-core machine must fail 3 checks of 2 s in a row to go down
    '  timeout check 2s',
    '  default-server inter 250ms fall 3 rise 1',
    ...servers,
    '',
  ].join('\n')
}

export interface RolloutResult {
  readonly code: number | null
  readonly json: VerifyJson
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
  /** ok answers per version over the run */
  readonly versions: Readonly<Record<string, number>>
  /** the versions that answered in the last second with answers */
  readonly lastVersions: readonly string[]
}

/** Rolls `replicas` instances of `variant` v1 → v2 behind `balancer` while `zerodrop verify` counts. */
export async function rollout(balancer: Balancer, variant: Variant, options: { replicas?: number; verifyArgs?: string[] } = {}): Promise<RolloutResult> {
  const started = performance.now()
  const replicas = options.replicas ?? 2
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zerodrop-verify-${balancer}-${variant}-`))
  const pidsFile = path.join(dir, 'pids')
  cleanups.push(() => killPids(pidsFile))
  const env = { ...VARIANTS[variant], ...DRAIN }
  const v1 = await Promise.all(Array.from({ length: replicas }, () => startFixture(DEMO, { ...env, APP_VERSION: 'v1' })))
  const old = v1.map((f, i) => ({ name: `a${i}`, port: f.port, pid: f.child.pid! }))
  const next: Slot[] = []
  for (let i = 0; i < replicas; i++) next.push({ name: `b${i}`, port: await freePort() })
  const lbPort = await freePort()
  const log = path.join(dir, 'balancer.log')
  let driver: Record<string, unknown>
  if (balancer === 'zerodrop-l4') {
    const admin = await freePort()
    const p = startProcess(process.execPath, [`${ROOT}packages/fleet/dist/bin/router.js`], {
      ROUTER_MODE: 'l4',
      ROUTER_PORT: String(lbPort),
      ADMIN_PORT: String(admin),
      ROUTER_ENDPOINTS: [...old.map((s) => `${s.name}=v1@127.0.0.1:${s.port}`), ...next.map((s) => `${s.name}=v2@127.0.0.1:${s.port}`)].join(','),
      ROUTER_ACTIVE: old.map((s) => s.name).join(','),
    }, log)
    cleanups.push(p.stop)
    driver = { kind: 'zerodrop', admin: `http://127.0.0.1:${admin}` }
  } else {
    const socket = path.join(dir, 'haproxy.sock')
    const cfg = path.join(dir, 'haproxy.cfg')
    fs.writeFileSync(cfg, haproxyConfig(balancer === 'haproxy-http' ? 'http' : 'tcp', lbPort, socket, old, next))
    const p = startProcess('haproxy', ['-db', '-f', cfg], {}, log)
    cleanups.push(p.stop)
    driver = { kind: 'haproxy', socket, backend: 'be' }
  }
  await until200(`http://127.0.0.1:${lbPort}/`, balancer, log)

  const plan = path.join(dir, 'plan.json')
  fs.writeFileSync(plan, JSON.stringify({
    demo: DEMO,
    env: { ...env, APP_VERSION: 'v2' },
    lagMs: 1000,
    logDir: dir,
    pidsFile,
    balancer: driver,
    steps: old.map((o, i) => ({ old: { slot: o.name, pid: o.pid }, next: { slot: next[i]!.name, port: next[i]!.port } })),
  }))
  const jsonFile = path.join(dir, 'verify.json')
  const args = [ZERODROP_CLI, 'verify', '--url', `http://127.0.0.1:${lbPort}/`, '--version-header', 'x-app-version', '--lead-ms', '1000', '--tail-ms', '1000',
    '--duration', '60', '--json', jsonFile, ...(options.verifyArgs ?? []), '--', process.execPath, ROLL, plan]
  const { code, stdout, stderr } = await runCli(args)
  if (!fs.existsSync(jsonFile)) throw new Error(`zerodrop verify wrote no report (exit ${String(code)}):\n${stdout}\n${stderr}\nbalancer log:\n${fs.readFileSync(log, 'utf8')}`)
  const json = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as VerifyJson
  const versions: Record<string, number> = {}
  for (const s of json.perSecond) for (const [v, n] of Object.entries(s.byVersion)) versions[v] = (versions[v] ?? 0) + n
  const last = [...json.perSecond].reverse().find((s) => s.ok > 0)
  const ms = Math.round(performance.now() - started)
  const n2 = json.non2xx
  // the figures for the docs' table, from whichever run this is
  console.log(`verify ${balancer} ${variant}: exit ${String(code)}; ${json.requests} requests, ${json.ok} ok, non-2xx ${n2.lb} lb + ${n2.app} app, ` +
    `${json.lost} lost, ${json.reset} reset, ${json.refused} refused, ${json.timeout} timeout, ${json.refusedConnections} refused connections; ${ms} ms`)
  return { code, json, stdout, stderr, ms, versions, lastVersions: Object.keys(last?.byVersion ?? {}) }
}

export function runCli(args: string[], onStart?: (child: ChildProcess) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const kill = (): void => {
      child.kill('SIGKILL')
    }
    cleanups.push(kill)
    onStart?.(child)
    child.once('exit', (code) => resolve({ code, stdout, stderr }))
  })
}
