// What a library costs per request: max req/s at fixed connections and server CPU time per
// request at a fixed rate below saturation, each variant measured back to back with its baseline.
import { BENCH_DIR, SERVER_CPU, startChild } from './proc.mjs'
import { LABELS } from './configs.mjs'
import { median, pairedRatio } from './stats.mjs'

async function cpuUs(server) {
  const c = await server.call('cpu', undefined, 10_000)
  return c.userUs + c.systemUs
}

async function throughput(server, loadgen, url, o, seconds = o.throughputSeconds) {
  const c0 = await cpuUs(server)
  const r = await loadgen.call('saturate', { url, connections: o.connections, seconds })
  const cpu = (await cpuUs(server)) - c0
  return { rps: r.rps, ok: r.ok, bad: r.non2xx + r.errors + r.timeouts, p99Ms: r.p99Ms, serverCpuShare: cpu / 1e6 / r.durationS }
}

async function cpuPerRequest(server, loadgen, url, rate, o) {
  const c0 = await cpuUs(server)
  const r = await loadgen.call('paced', { url, rate, seconds: o.cpuSeconds })
  const cpu = (await cpuUs(server)) - c0
  return { usPerReq: r.ok > 0 ? cpu / r.ok : NaN, ok: r.ok, bad: r.non2xx + r.errors + r.timeouts, achievedRps: r.rps }
}

export async function runOverhead(o, loadgen, log) {
  const groups = []
  for (const g of o.groups) {
    const names = [g.baseline, ...g.variants]
    log(`overhead ${g.name}: starting ${names.join(', ')} on CPU ${SERVER_CPU}`)
    const servers = {}
    try {
      for (const name of names) {
        const s = startChild(`${BENCH_DIR}servers/${name}.mjs`, { cpu: SERVER_CPU })
        const info = await s.ready
        servers[name] = { proc: s, url: `http://127.0.0.1:${info.port}/` }
      }
      // Warm-up (JIT, connection pools), and the baseline's capacity fixes the group's CPU rate.
      let capacity = NaN
      for (const name of names) {
        const w = await throughput(servers[name].proc, loadgen, servers[name].url, o, o.warmupSeconds)
        if (name === g.baseline) capacity = w.rps
      }
      const rate = Math.max(200, Math.round((capacity * o.cpuRateShare) / 100) * 100)
      log(`overhead ${g.name}: baseline capacity ~${Math.round(capacity)} req/s, CPU per request measured at ${rate} req/s`)
      const samples = Object.fromEntries(names.map((n) => [n, { rps: [], usPerReq: [], serverCpuShare: [], bad: 0 }]))
      for (let round = 0; round < o.rounds; round++) {
        // Baseline first, then the variants; every other round reversed, so slow drift cancels.
        const order = round % 2 === 0 ? names : [...names].reverse()
        for (const name of order) {
          const s = servers[name]
          const t = await throughput(s.proc, loadgen, s.url, o)
          const c = await cpuPerRequest(s.proc, loadgen, s.url, rate, o)
          const x = samples[name]
          x.rps.push(t.rps)
          x.serverCpuShare.push(t.serverCpuShare)
          x.usPerReq.push(c.usPerReq)
          x.bad += t.bad + c.bad
        }
        log(`overhead ${g.name}: round ${round + 1}/${o.rounds} ` + names.map((n) => `${n} ${Math.round(samples[n].rps.at(-1))}/s ${samples[n].usPerReq.at(-1).toFixed(1)}us`).join(', '))
      }
      const rows = names.map((name) => {
        const x = samples[name]
        return {
          server: name,
          label: LABELS[name],
          baseline: name === g.baseline,
          rps: median(x.rps),
          rpsRatio: pairedRatio(x.rps, samples[g.baseline].rps),
          usPerReq: median(x.usPerReq),
          cpuRatio: pairedRatio(x.usPerReq, samples[g.baseline].usPerReq),
          serverCpuShareAtMax: median(x.serverCpuShare),
          failedRequests: x.bad,
          samples: x,
        }
      })
      groups.push({ name: g.name, baseline: g.baseline, capacity, cpuRate: rate, connections: o.connections, rows })
    } finally {
      await Promise.all(Object.values(servers).map((s) => s.proc.stop()))
    }
  }
  return groups
}
