// How cost grows: a server's drain time and memory against the idle keep-alive connections it
// holds; the router's memory per connection and CPU per request against its open connections;
// a rolling deploy's duration against the replicas, and the fleet's own CPU per request.
import { BENCH_DIR, LOAD_CPU, SERVER_CPU, TASKSET, pinProcess, startChild } from './proc.mjs'
import { ANY_CPU, DEMO, rollout } from './fleet.mjs'
import { median, pairedRatio } from './stats.mjs'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Memory the process still references: read after two full collections (--expose-gc). */
const GC = ['--expose-gc']

/** Opening thousands of connections takes a while on a busy machine: bound it generously. */
const openTimeoutMs = (n) => 30_000 + n * 10

function perConnection(before, after, n) {
  return { rssBytes: (after.rss - before.rss) / n, heapBytes: (after.heapUsed - before.heapUsed) / n, externalBytes: (after.external - before.external) / n }
}

async function drainOnce(server, n, g, loadgen) {
  const s = startChild(`${BENCH_DIR}servers/${server}.mjs`, { cpu: SERVER_CPU, nodeArgs: GC, env: { DRAIN_DELAY_MS: String(g.drainDelayMs) } })
  try {
    const info = await s.ready
    const url = `http://127.0.0.1:${info.port}/`
    // the connection path (accept, first request, keep-alive bookkeeping) compiled before the baseline
    await loadgen.call('openIdle', { url, n: 10 })
    await loadgen.call('closeIdle')
    await sleep(200)
    const before = await s.call('memory')
    const opened = await loadgen.call('openIdle', { url, n, batch: g.batch }, openTimeoutMs(n))
    const after = await s.call('memory')
    const t0 = performance.now()
    s.child.kill('SIGTERM')
    const exit = await Promise.race([s.exited, sleep(g.drainDelayMs + 30_000).then(() => undefined)])
    // the client may not have read every FIN yet when the server exits (bare Fastify: within ms)
    await loadgen.call('idleClosedCount', { n: opened.idle })
    const { closedByServer } = await loadgen.call('closeIdle')
    return {
      connections: n,
      opened: opened.idle,
      closedByServer,
      drainMs: exit === undefined ? NaN : exit.at - t0,
      exitCode: exit === undefined ? null : exit.code,
      memoryBefore: before,
      memoryAfter: after,
      perConnection: perConnection(before, after, n),
      gc: after.gc,
    }
  } finally {
    await s.stop()
  }
}

async function drainGrowth(g, loadgen, log) {
  const rows = []
  for (const server of g.drainServers) {
    for (const n of g.drainConnections) {
      const runs = []
      for (let i = 0; i < g.drainReps; i++) runs.push(await drainOnce(server, n, g, loadgen))
      const row = {
        server,
        connections: n,
        runs,
        drainMs: median(runs.map((r) => r.drainMs)),
        overDelayMs: median(runs.map((r) => r.drainMs)) - (server.includes('zerodrop') ? g.drainDelayMs : 0),
        rssBytesPerConnection: median(runs.map((r) => r.perConnection.rssBytes)),
        heapBytesPerConnection: median(runs.map((r) => r.perConnection.heapBytes)),
        rssMiB: median(runs.map((r) => r.memoryAfter.rss / 2 ** 20)),
        heapMiB: median(runs.map((r) => r.memoryAfter.heapUsed / 2 ** 20)),
        exitCodes: runs.map((r) => r.exitCode),
        closedAll: runs.every((r) => r.opened === n && r.closedByServer === n),
      }
      log(`growth drain ${server} ${n} connections: SIGTERM → exit ${row.drainMs.toFixed(0)} ms (exit ${row.exitCodes.join('/')}), ${Math.round(row.rssBytesPerConnection)} B RSS / ${Math.round(row.heapBytesPerConnection)} B heap per connection, closed by server ${runs.map((r) => r.closedByServer).join('/')}`)
      rows.push(row)
    }
  }
  return rows
}

async function routerOnce(mode, n, backendPort, g, loadgen) {
  const r = startChild(`${BENCH_DIR}lib/router-child.mjs`, { cpu: ANY_CPU, nodeArgs: GC, args: [mode, String(backendPort)] })
  try {
    const { port } = await r.ready
    const url = `http://127.0.0.1:${port}/`
    await loadgen.call('openIdle', { url, n: 10 })
    await loadgen.call('pacedIdle', { rate: g.routerRate, seconds: 1 })
    await loadgen.call('closeIdle')
    for (let i = 0; i < 100 && (await r.call('stats')).openConnections > 0; i++) await sleep(20)
    const before = await r.call('memory')
    const opened = await loadgen.call('openIdle', { url, n, batch: g.batch }, openTimeoutMs(n))
    const open = (await r.call('stats')).openConnections
    const after = await r.call('memory')
    const samples = []
    for (let i = 0; i < g.routerSamples; i++) {
      const c0 = await r.call('cpu')
      const l = await loadgen.call('pacedIdle', { rate: g.routerRate, seconds: g.routerSeconds }, 60_000)
      const c1 = await r.call('cpu')
      samples.push({ usPerReq: (c1.userUs + c1.systemUs - c0.userUs - c0.systemUs) / l.ok, ok: l.ok, failed: l.failed, newSockets: l.newSockets, rps: l.ok / l.durationS, p50Ms: l.p50Ms, p99Ms: l.p99Ms })
    }
    await loadgen.call('closeIdle')
    return { mode, connections: n, opened: opened.idle, routerOpenConnections: open, memoryBefore: before, memoryAfter: after, perConnection: perConnection(before, after, n), samples }
  } finally {
    await r.stop()
  }
}

async function routerGrowth(g, loadgen, log) {
  const backend = startChild(`${BENCH_DIR}lib/growth-backend.mjs`, { cpu: SERVER_CPU })
  const rows = []
  try {
    const { port } = await backend.ready
    for (const mode of g.routerModes) {
      for (const n of g.routerConnections) {
        const x = await routerOnce(mode, n, port, g, loadgen)
        const row = {
          ...x,
          usPerReq: median(x.samples.map((s) => s.usPerReq)),
          rssBytesPerConnection: x.perConnection.rssBytes,
          heapBytesPerConnection: x.perConnection.heapBytes,
          failed: x.samples.reduce((a, s) => a + s.failed, 0),
          newSockets: x.samples.reduce((a, s) => a + s.newSockets, 0),
          p99Ms: median(x.samples.map((s) => s.p99Ms)),
        }
        log(`growth router ${mode} ${n} connections (${x.routerOpenConnections} open at the router): ${row.usPerReq.toFixed(1)} µs CPU/request at ${g.routerRate} req/s, ${Math.round(row.rssBytesPerConnection)} B RSS / ${Math.round(row.heapBytesPerConnection)} B heap per connection, ${row.failed} failed, ${row.newSockets} new sockets`)
        rows.push(row)
      }
      const base = rows.find((r) => r.mode === mode && r.connections === g.routerConnections[0])
      for (const r of rows) if (r.mode === mode) r.cpuVsFewest = r.usPerReq / base.usPerReq
    }
  } finally {
    await backend.stop()
  }
  return rows
}

/**
 * With maxUnavailable 0 the controller keeps `surge` new instances starting: each one seen ready
 * lets an old instance go and the next new one start. So every new instance after the first
 * `surge` follows the one whose readiness let it start (the latest seen ready before it was
 * created), and the rollout cannot end before the longest such chain of startups, each as long as
 * that instance took to be seen ready in this deploy; the last old instance's drain comes on top.
 * What the rollout takes beyond that is the machinery's own time (for 2 replicas and surge 1,
 * fleet.mjs's formula).
 */
function longestChainMs(events, replicas) {
  const created = events.filter((e) => e.revision === 'v2' && e.event === 'created').sort((a, b) => a.t - b.t).slice(0, replicas)
  const readyAt = new Map(events.filter((e) => e.revision === 'v2' && e.event === 'ready').map((e) => [e.instance, e.t]))
  const chain = new Map()
  const used = new Set()
  let longest = 0
  for (const c of created) {
    let pred
    for (const [id, t] of readyAt) {
      if (t <= c.t && chain.has(id) && !used.has(id) && (pred === undefined || t > readyAt.get(pred))) pred = id
    }
    if (pred !== undefined) used.add(pred)
    const startup = (readyAt.get(c.instance) ?? NaN) - c.t
    const total = startup + (pred === undefined ? 0 : chain.get(pred))
    chain.set(c.instance, total)
    longest = Math.max(longest, total)
  }
  return longest
}

async function rolloutGrowth(g, log) {
  const rows = []
  for (const replicas of g.replicas) {
    const settings = { demo: DEMO, replicas, maxSurge: g.maxSurge, periodMs: g.periodMs, endpointDelayMs: g.endpointDelayMs, drainDelayMs: g.drainDelayMs }
    const { report: r, readyAfter, drains } = await rollout(settings, 60_000 + replicas * 10_000)
    // surge = maxSurge as the Deployment controller resolves it (rounded up); waves × median is
    // fleet.mjs's figure, kept for reference (it overstates a partial last wave).
    const surge = r.rolling.maxSurge
    const waves = Math.ceil(replicas / surge)
    const seenReadyMs = median(readyAfter)
    const minimumMs = longestChainMs(r.events, replicas) + g.drainDelayMs
    const waveMinimumMs = waves * seenReadyMs + g.drainDelayMs
    const cpuUs = r.cpu.userUs + r.cpu.systemUs
    const row = {
      replicas,
      maxSurge: g.maxSurge,
      surge,
      waves,
      verdict: r.verdict,
      dropped: r.dropped,
      durationMs: r.timing.rolloutDurationMs,
      minimumMs,
      ratio: r.timing.rolloutDurationMs / minimumMs,
      waveMinimumMs,
      seenReadyMs,
      newInstanceReadyAfterMs: readyAfter,
      oldInstanceDrainMs: drains,
      totalMs: r.timing.totalMs,
      load: r.load,
      fleetCpuUs: cpuUs,
      fleetCpuUsPerRequest: cpuUs / r.load.requests,
      fleetCpuShare: cpuUs / 1000 / r.timing.totalMs,
    }
    log(`growth rollout ${replicas} replicas (surge ${surge}, ${waves} waves): ${r.verdict}, dropped ${r.dropped}, ${row.durationMs} ms vs minimum ${Math.round(minimumMs)} ms (${row.ratio.toFixed(2)} ×); fleet CPU ${row.fleetCpuUsPerRequest.toFixed(0)} µs/request over ${r.load.requests} requests at ${r.load.rate} req/s`)
    rows.push(row)
  }
  return rows
}

/**
 * Max throughput through each router with the router alone on one CPU, as a ratio to direct. Two
 * cores cannot give the instance, the router and autocannon one each: the instance and autocannon
 * share CPU 0 in every sample (direct too), the router has CPU 1 to itself, so a ratio below 1 is
 * what the router costs when it is not competing for a core.
 */
async function pinnedThroughput(o, g, loadgen, log) {
  if (!TASKSET) return { measured: false, reason: 'taskset not available' }
  const demo = startChild(`${BENCH_DIR}servers/demo.mjs`, { cpu: SERVER_CPU, env: { FRAMEWORK: 'fastify', APP_VERSION: 'v1' } })
  const routers = {}
  pinProcess(loadgen.pid, SERVER_CPU)
  try {
    const info = await demo.ready
    for (const mode of ['l4', 'l7']) {
      routers[mode] = startChild(`${BENCH_DIR}lib/router-child.mjs`, { cpu: LOAD_CPU, args: [mode, String(info.port)] })
      routers[mode].port = (await routers[mode].ready).port
    }
    const urls = { direct: `http://127.0.0.1:${info.port}/`, l4: `http://127.0.0.1:${routers.l4.port}/`, l7: `http://127.0.0.1:${routers.l7.port}/` }
    for (const u of Object.values(urls)) await loadgen.call('saturate', { url: u, connections: o.connections, seconds: o.warmupSeconds })
    const samples = { direct: [], l4: [], l7: [] }
    // CPU seconds per second of each process during a sample: on a busy machine a pinned process
    // gets only a share of its core, so requests per CPU-second is the figure the neighbours
    // do not move, beside the req/s they do
    const routerCpu = { l4: [], l7: [] }
    const instanceCpu = { direct: [], l4: [], l7: [] }
    const bad = { direct: 0, l4: 0, l7: 0 }
    const cpuS = (a, b) => (b.userUs + b.systemUs - a.userUs - a.systemUs) / 1e6
    for (let round = 0; round < g.pinnedRounds; round++) {
      for (const k of round % 2 === 0 ? ['direct', 'l4', 'l7'] : ['l7', 'l4', 'direct']) {
        const c0 = k === 'direct' ? undefined : await routers[k].call('cpu')
        const i0 = await demo.call('cpu')
        const r = await loadgen.call('saturate', { url: urls[k], connections: o.connections, seconds: o.throughputSeconds })
        const i1 = await demo.call('cpu')
        instanceCpu[k].push(cpuS(i0, i1) / r.durationS)
        if (c0) routerCpu[k].push(cpuS(c0, await routers[k].call('cpu')) / r.durationS)
        samples[k].push(r.rps)
        bad[k] += r.non2xx + r.errors + r.timeouts
      }
      log(`growth pinned router round ${round + 1}/${g.pinnedRounds}: direct ${Math.round(samples.direct.at(-1))}/s, l4 ${Math.round(samples.l4.at(-1))}/s, l7 ${Math.round(samples.l7.at(-1))}/s`)
    }
    return {
      measured: true,
      connections: o.connections,
      seconds: o.throughputSeconds,
      direct: median(samples.direct),
      directInstanceCpuShare: median(instanceCpu.direct),
      directPerCpuSecond: median(samples.direct.map((x, i) => x / instanceCpu.direct[i])),
      ...Object.fromEntries(['l4', 'l7'].map((m) => [m, {
        rps: median(samples[m]),
        routerCpuShare: median(routerCpu[m]),
        instanceCpuShare: median(instanceCpu[m]),
        routerPerCpuSecond: median(samples[m].map((x, i) => x / routerCpu[m][i])),
        ...pairedRatio(samples[m], samples.direct),
      }])),
      instanceCpu,
      routerCpu,
      failedRequests: bad,
      samples,
    }
  } finally {
    pinProcess(loadgen.pid, LOAD_CPU)
    await Promise.all([demo.stop(), ...Object.values(routers).map((r) => r.stop())])
  }
}

export async function runGrowth(o, loadgen, log) {
  const g = o.growth
  const t0 = performance.now()
  const out = { measured: true, settings: g, durationsS: {} }
  let t = performance.now()
  out.drain = await drainGrowth(g, loadgen, log)
  out.durationsS.drain = (performance.now() - t) / 1000
  t = performance.now()
  out.router = await routerGrowth(g, loadgen, log)
  out.durationsS.router = (performance.now() - t) / 1000
  t = performance.now()
  out.rollout = await rolloutGrowth(g, log)
  out.durationsS.rollout = (performance.now() - t) / 1000
  t = performance.now()
  out.pinned = g.pinnedRounds > 0 ? await pinnedThroughput(o, g, loadgen, log) : { measured: false, reason: 'not part of the smoke mode' }
  out.durationsS.pinned = (performance.now() - t) / 1000
  out.durationsS.total = (performance.now() - t0) / 1000
  return out
}
