// Fleet: the router's throughput relative to hitting one instance directly (l4 and l7), and a
// rolling deploy's duration relative to the theoretical minimum from probes, surge and drain delay.
import { BENCH_DIR, ROOT, SERVER_CPU, startChild } from './proc.mjs'
import { median, pairedRatio } from './stats.mjs'

export const DEMO = `${ROOT}demo/dist/server.js`
/** The router and the deploy are not pinned: they may use either CPU. */
export const ANY_CPU = '0,1'

async function routerThroughput(o, loadgen, log) {
  const demo = startChild(`${BENCH_DIR}servers/demo.mjs`, { cpu: SERVER_CPU, env: { FRAMEWORK: 'fastify', APP_VERSION: 'v1' } })
  const routers = {}
  try {
    const info = await demo.ready
    for (const mode of ['l4', 'l7']) {
      routers[mode] = startChild(`${BENCH_DIR}lib/router-child.mjs`, { cpu: ANY_CPU, args: [mode, String(info.port)] })
      routers[mode].port = (await routers[mode].ready).port
    }
    const urls = {
      direct: `http://127.0.0.1:${info.port}/`,
      l4: `http://127.0.0.1:${routers.l4.port}/`,
      l7: `http://127.0.0.1:${routers.l7.port}/`,
    }
    for (const u of Object.values(urls)) await loadgen.call('saturate', { url: u, connections: o.connections, seconds: o.warmupSeconds })
    const samples = { direct: [], l4: [], l7: [] }
    const bad = { direct: 0, l4: 0, l7: 0 }
    for (let round = 0; round < o.fleetRounds; round++) {
      const order = round % 2 === 0 ? ['direct', 'l4', 'l7'] : ['l7', 'l4', 'direct']
      for (const k of order) {
        const r = await loadgen.call('saturate', { url: urls[k], connections: o.connections, seconds: o.throughputSeconds })
        samples[k].push(r.rps)
        bad[k] += r.non2xx + r.errors + r.timeouts
      }
      log(`fleet router round ${round + 1}/${o.fleetRounds}: direct ${Math.round(samples.direct.at(-1))}/s, l4 ${Math.round(samples.l4.at(-1))}/s, l7 ${Math.round(samples.l7.at(-1))}/s`)
    }
    const routerStats = {}
    for (const mode of ['l4', 'l7']) routerStats[mode] = await routers[mode].call('stats')
    return {
      service: 'demo (Fastify + zerodrop, GET /)',
      direct: median(samples.direct),
      l4: { rps: median(samples.l4), ...pairedRatio(samples.l4, samples.direct) },
      l7: { rps: median(samples.l7), ...pairedRatio(samples.l7, samples.direct) },
      failedRequests: bad,
      samples,
      routerStats,
    }
  } finally {
    await Promise.all([demo.stop(), ...Object.values(routers).map((r) => r.stop())])
  }
}

/** Spawn to first 200 on /readyz, polled every 5 ms: the fastest an instance can become ready. */
async function startupMs() {
  const s = startChild(`${BENCH_DIR}lib/startup-child.mjs`, { cpu: ANY_CPU, args: [DEMO] })
  try {
    await s.ready
    return await s.call('measure', { runs: 3 }, 60_000)
  } finally {
    await s.stop()
  }
}

/**
 * One rolling deploy (rolling-child.mjs) with `settings`; returns the report and, from its events,
 * how long each new instance took from created to seen ready and each old one from SIGTERM to exit.
 */
export async function rollout(settings, timeoutMs = 120_000) {
  const child = startChild(`${BENCH_DIR}lib/rolling-child.mjs`, { cpu: ANY_CPU, args: [JSON.stringify(settings)] })
  try {
    await child.ready
    const msg = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`rolling deploy did not finish within ${timeoutMs / 1000} s`)), timeoutMs)
      child.child.on('message', (m) => {
        if (m.report || m.error) {
          clearTimeout(timer)
          resolve(m)
        }
      })
    })
    if (msg.error) throw new Error(`rolling deploy failed: ${msg.error}`)
    const r = msg.report
    const ev = r.events
    const readyAfter = []
    // the rollout's own new instances, in creation order: the stop-check may surge one more after it
    const created = ev.filter((x) => x.revision === 'v2' && x.event === 'created').sort((a, b) => a.t - b.t).slice(0, settings.replicas)
    for (const e of created) {
      const ready = ev.find((x) => x.instance === e.instance && x.event === 'ready')
      if (ready) readyAfter.push(ready.t - e.t)
    }
    const drains = []
    for (const e of ev.filter((x) => x.revision === 'v1' && x.event === 'sigterm')) {
      const done = ev.find((x) => x.instance === e.instance && (x.event === 'terminated' || x.event === 'killed'))
      if (done) drains.push(done.t - e.t)
    }
    return { report: r, readyAfter, drains }
  } finally {
    await child.stop()
  }
}

async function rollingDeploy(o, log) {
  const settings = { demo: DEMO, replicas: o.rolling.replicas, maxSurge: o.rolling.maxSurge, periodMs: o.rolling.periodMs, endpointDelayMs: o.rolling.endpointDelayMs, drainDelayMs: o.rolling.drainDelayMs }
  const up = await startupMs()
  const { report: r, readyAfter, drains } = await rollout(settings)
  // Theoretical minimum: the new revision comes up in ceil(replicas / maxSurge) waves
  // (maxUnavailable 0); a wave cannot be shorter than the time a new instance takes to be seen
  // ready through its probes; the last wave's old instances then drain for the drain delay (the
  // endpoint lag runs during the drain and costs nothing on top). The startup is taken from this
  // deploy's own instances (created -> seen ready, median), so a busy machine slows both sides
  // alike and the ratio is what the rollout machinery adds. The model with the standalone
  // startup rounded up to the probe period is kept for reference.
  const waves = Math.ceil(settings.replicas / settings.maxSurge)
  const seenReadyMs = median(readyAfter)
  const minimumMs = waves * seenReadyMs + settings.drainDelayMs
  const modelMinimumMs = waves * Math.ceil(up.medianMs / settings.periodMs) * settings.periodMs + settings.drainDelayMs
  log(`fleet rolling: ${r.verdict}, dropped ${r.dropped}, rollout ${r.timing.rolloutDurationMs} ms, minimum ${Math.round(minimumMs)} ms (${waves} waves of ${Math.round(seenReadyMs)} ms + ${settings.drainDelayMs} ms drain; standalone startup ${Math.round(up.medianMs)} ms)`)
  return {
    description: `${settings.replicas}→${settings.replicas}, maxSurge ${settings.maxSurge}, maxUnavailable 0, probe period ${settings.periodMs} ms, endpoint lag ${settings.endpointDelayMs} ms, drain delay ${settings.drainDelayMs} ms, l4, under load`,
    settings,
    verdict: r.verdict,
    dropped: r.dropped,
    durationMs: r.timing.rolloutDurationMs,
    minimumMs,
    ratio: r.timing.rolloutDurationMs / minimumMs,
    modelMinimumMs,
    startupMs: up,
    waves,
    newInstanceReadyAfterMs: readyAfter,
    oldInstanceDrainMs: drains,
    steps: r.steps,
  }
}

export async function runFleet(o, loadgen, log) {
  const out = { measured: true }
  out.router = await routerThroughput(o, loadgen, log)
  out.rolling = await rollingDeploy(o, log)
  out.notes = 'Router: the demo service (Fastify + zerodrop, `GET /` does a little work) pinned to CPU 0, autocannon to CPU 1, the router in its own process on either CPU — on two cores it competes with both, where kube-proxy\'s iptables rules cost almost nothing. ' +
    `Rolling: theoretical minimum = ceil(replicas / maxSurge) waves × the time a new instance took to be seen ready through its ${o.rolling.periodMs} ms probes in this deploy (${out.rolling.newInstanceReadyAfterMs.join(', ')} ms; median used) + the ${o.rolling.drainDelayMs} ms drain delay of the last old instance; old instances took ${out.rolling.oldInstanceDrainMs.join(', ')} ms from SIGTERM to exit. ` +
    `With the demo's standalone startup (${Math.round(out.rolling.startupMs.medianMs)} ms, spawn to first 200 on \`/readyz\`, measured just before) rounded up to the probe period the model gives ${Math.round(out.rolling.modelMinimumMs)} ms; on a busy machine the two startups differ.`
  return out
}
