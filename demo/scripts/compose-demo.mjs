#!/usr/bin/env node
// A blue-green switch under load with docker-compose.yml, scripted:
//   1. blue (zerodrop-demo:v1), green (zerodrop-demo:v2) beside it, and the router (pool: blue)
//      come up; load starts through the router: exact keep-alive clients from the host (count
//      every request) and the compose `load` service (the fleet's load generator + exact clients, in a container);
//   2. green is checked directly on its own port (preview);
//   3. the router switches all new connections to green at once (POST /switch?to=green);
//   4. after a short scale-down delay blue gets `docker stop` (SIGTERM): it drains its pinned
//      keep-alive connections with `Connection: close`, the clients reconnect to green;
//   5. the load ends, the counts are printed, everything is torn down (also on failure or Ctrl-C).
// Zero drops = the exact client saw no lost, refused, timed-out or non-2xx request AND the
// router's own per-request accounting saw no failure.
//
//   npm run compose:demo                  # needs a Docker engine and the images (built if missing)
//   node demo/scripts/compose-demo.mjs [--json] [--naive-blue] [--keep]
//     --naive-blue  negative control: blue exits at once on SIGTERM (NAIVE=1): must drop
//     --json        print the result as JSON (tests use it)
//     --keep        leave the containers running
import { execFile } from 'node:child_process'
import http from 'node:http'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { startExactLoad } from '@zerodrop/fleet'

const exec = promisify(execFile)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const args = new Set(process.argv.slice(2))
const JSON_OUT = args.has('--json')
const NAIVE_BLUE = args.has('--naive-blue')
const KEEP = args.has('--keep')
for (const a of args) {
  if (!['--json', '--naive-blue', '--keep'].includes(a)) {
    console.error(`compose-demo: unknown option '${a}'; expected --json, --naive-blue or --keep`)
    process.exit(64)
  }
}

const log = (msg, fields = {}) => process.stderr.write(`compose-demo: ${msg}${Object.keys(fields).length ? ' ' + JSON.stringify(fields) : ''}\n`)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

function request(port, path, method = 'GET', timeoutMs = 3000) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, version: res.headers['x-app-version'] }))
      res.on('error', () => resolve({ status: 0, body }))
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve({ status: 0, body: '' }))
    req.end()
  })
}

async function waitFor(what, fn, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await fn()) return
    if (Date.now() > deadline) throw new Error(`expected ${what} within ${timeoutMs} ms, it did not happen`)
    await sleep(150)
  }
}

async function composeCommand() {
  try {
    await exec('docker', ['compose', 'version'], { timeout: 15_000 })
    return ['docker', 'compose']
  } catch {
    return ['docker-compose']
  }
}

const ports = {
  ROUTER_PORT: process.env.ROUTER_PORT ?? String(await freePort()),
  ADMIN_PORT: process.env.ADMIN_PORT ?? String(await freePort()),
  BLUE_PORT: process.env.BLUE_PORT ?? String(await freePort()),
  GREEN_PORT: process.env.GREEN_PORT ?? String(await freePort()),
}
const project = process.env.ZERODROP_COMPOSE_PROJECT || `zerodrop-demo-${process.pid}`
const composeEnv = {
  ...process.env,
  ...ports,
  COMPOSE_PROFILES: 'load',
  DRAIN_DELAY_MS: process.env.DRAIN_DELAY_MS ?? '2000',
  SHUTDOWN_TIMEOUT_MS: process.env.SHUTDOWN_TIMEOUT_MS ?? '10000',
  BLUE_NAIVE: NAIVE_BLUE ? '1' : '',
  LOAD_CONNECTIONS: process.env.LOAD_CONNECTIONS ?? '8',
  LOAD_RATE: process.env.LOAD_RATE ?? '150',
}
const [bin, ...pre] = await composeCommand()
async function compose(...a) {
  const { stdout } = await exec(bin, [...pre, '-p', project, '-f', `${ROOT}docker-compose.yml`, '--project-directory', ROOT, ...a], {
    env: composeEnv,
    cwd: ROOT,
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  })
  return stdout.trim()
}

async function containerOf(service) {
  const { stdout } = await exec('docker', ['ps', '-a', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`], { timeout: 30_000 })
  const id = stdout.trim().split('\n')[0]
  if (!id) throw new Error(`expected a container for compose service '${service}' in project ${project}, found none`)
  return id
}

async function ensureImages() {
  for (const image of ['zerodrop-demo:v1', 'zerodrop-demo:v2']) {
    try {
      await exec('docker', ['image', 'inspect', image], { timeout: 15_000 })
    } catch {
      log('image missing, building', { image })
      await exec('bash', [`${ROOT}demo/scripts/build-images.sh`], { cwd: ROOT, timeout: 900_000, maxBuffer: 64 * 1024 * 1024 })
      return
    }
  }
}

let tornDown = false
async function teardown() {
  if (tornDown || KEEP) return
  tornDown = true
  log('tearing down', { project })
  await compose('down', '--volumes', '--remove-orphans', '--timeout', '5').catch((err) => log('teardown failed', { error: String(err.message) }))
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    log('signal received, tearing down', { signal: sig })
    void teardown().then(() => process.exit(130))
  })
}

async function main() {
  await ensureImages()
  log('starting blue (v1), green (v2) beside it, and the router (pool: blue)', { project, compose: [bin, ...pre].join(' '), ...ports, naiveBlue: NAIVE_BLUE })
  const t0 = performance.now()
  const at = () => Math.round(performance.now() - t0)
  // one `up`: compose starts the router once blue is healthy, and the load once the router is
  await compose('up', '-d', 'blue', 'green', 'router', 'load')
  await waitFor('the router admin API to answer', async () => (await request(ports.ADMIN_PORT, '/readyz')).status === 200)
  await waitFor('v1 through the router', async () => (await request(ports.ROUTER_PORT, '/')).version === 'v1')
  log('blue serves through the router; the load service runs', { atMs: at() })

  const exactLoad = startExactLoad({
    url: `http://127.0.0.1:${ports.ROUTER_PORT}/`,
    saturating: 2,
    paced: 4,
    pacedIntervalMs: 50,
    durationMs: 180_000,
    timeoutMs: 15_000,
  })
  log('exact clients from the host started', { atMs: at() })
  await sleep(2500) // blue under load for a while before the switch

  await waitFor('green ready on its own port (preview)', async () => (await request(ports.GREEN_PORT, '/readyz')).status === 200)
  const preview = await request(ports.GREEN_PORT, '/')
  if (preview.version !== 'v2') throw new Error(`expected the green preview to answer v2, instead got ${preview.status} ${preview.version}`)
  log('green ready beside blue (preview answered v2)', { atMs: at() })

  const sw = await request(ports.ADMIN_PORT, '/switch?to=green', 'POST')
  if (sw.status !== 200) throw new Error(`expected the switch to answer 200, instead got ${sw.status}: ${sw.body}`)
  const switchAt = at()
  log('switched: new connections go to green', { atMs: switchAt, ...JSON.parse(sw.body) })
  await sleep(1000) // scale-down delay: blue keeps serving the connections pinned to it

  // `docker stop` on the service's container is what `compose stop blue` does (SIGTERM, SIGKILL
  // after stop_grace_period); called directly it times the stop without compose's own start-up.
  const blueId = await containerOf('blue')
  const stopStart = performance.now()
  await exec('docker', ['stop', '-t', '30', blueId], { timeout: 60_000 })
  const blueStopMs = Math.round(performance.now() - stopStart)
  const blueExit = Number((await exec('docker', ['inspect', '-f', '{{.State.ExitCode}}', blueId])).stdout.trim())
  log('blue stopped', { atMs: at(), stopMs: blueStopMs, exitCode: blueExit })
  await sleep(1000)

  const loadId = await containerOf('load')
  await exec('docker', ['stop', '-t', '20', loadId], { timeout: 60_000 })
  const exact = await exactLoad.stop()
  const loadOut = (await exec('docker', ['logs', loadId], { maxBuffer: 16 * 1024 * 1024 })).stdout
  const loadLine = loadOut.split('\n').find((l) => l.trim().startsWith('{'))
  const service = loadLine ? JSON.parse(loadLine) : undefined
  const stats = JSON.parse((await request(ports.ADMIN_PORT, '/stats')).body)
  log('load stopped', { atMs: at() })

  const routerFailures = stats.total.failures
  const routerDropped = routerFailures.refused + routerFailures.reset + routerFailures.lost + routerFailures.timeout + stats.total.responses['5xx']
  const exactDropped = exact.lost + exact.refused + exact.timeout + exact.non2xx
  const serviceExact = service?.exact
  const serviceDropped = serviceExact ? serviceExact.lost + serviceExact.refused + serviceExact.timeout + serviceExact.non2xx : undefined
  return {
    zeroDrop: exactDropped === 0 && routerDropped === 0 && serviceDropped === 0,
    project,
    naiveBlue: NAIVE_BLUE,
    exact: {
      sent: exact.sent,
      ok: exact.ok,
      lost: exact.lost,
      refused: exact.refused,
      timeout: exact.timeout,
      non2xx: exact.non2xx,
      connectionClose: exact.connectionClose,
      byVersion: exact.byVersion,
      dropped: exactDropped,
    },
    router: {
      requests: stats.total.requests,
      responses: stats.total.responses,
      failures: routerFailures,
      noEndpoint: stats.total.noEndpoint,
      byRevision: Object.fromEntries(Object.entries(stats.byRevision).map(([k, v]) => [k, { requests: v.requests, '2xx': v.responses['2xx'], failures: v.failures }])),
      dropped: routerDropped,
    },
    loadService: service && {
      generator: service.generator,
      autocannon: service.autocannon,
      exact: serviceExact && { ...serviceExact, failures: serviceExact.failures.length, dropped: serviceDropped },
    },
    timings: { switchAtMs: switchAt, blueStopMs, blueExitCode: blueExit, lastVersion: exact.records.at(-1)?.version },
  }
}

let code = 1
try {
  const r = await main()
  if (JSON_OUT) {
    process.stdout.write(JSON.stringify(r) + '\n')
  } else {
    const e = r.exact
    console.log(`\nblue-green switch under load (docker-compose${r.naiveBlue ? ', NAIVE blue: negative control' : ''})`)
    console.log(`  exact client : sent ${e.sent}, ok ${e.ok}, lost ${e.lost}, refused ${e.refused}, timeout ${e.timeout}, non-2xx ${e.non2xx}  by version ${JSON.stringify(e.byVersion)}`)
    console.log(`  router       : requests ${r.router.requests}, 2xx ${r.router.responses['2xx']}, failures ${JSON.stringify(r.router.failures)}`)
    const lg = r.loadService?.generator
    if (lg) console.log(`  load service : generator sent ${lg.sent}, ok ${lg.ok}, non-2xx ${lg.non2xx}, lost ${lg.lost}, reset ${lg.reset}, refused ${lg.refused}, timeout ${lg.timeout}, p99 ${lg.latencyMs.p99} ms`)
    const se = r.loadService?.exact
    if (se) console.log(`  load service : exact clients sent ${se.sent}, ok ${se.ok}, dropped ${se.dropped}`)
    console.log(`  blue stop    : ${r.timings.blueStopMs} ms, exit code ${r.timings.blueExitCode}`)
    console.log(`  result       : ${r.zeroDrop ? 'ZERO DROPPED' : `DROPPED ${e.dropped} (exact) / ${r.router.dropped} (router)`}\n`)
  }
  code = r.zeroDrop ? 0 : 1
} catch (err) {
  log('failed', { error: err instanceof Error ? err.message : String(err) })
  code = 2
} finally {
  await teardown()
}
process.exit(code)
