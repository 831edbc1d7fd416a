// What a library costs per request: max req/s at fixed connections and server CPU time per
// request at a fixed rate below saturation, each variant measured back to back with its baseline.
import { BENCH_DIR, SERVER_CPU, startChild } from './proc.mjs'
import { LABELS } from './configs.mjs'
import { median, pairedRatio } from './stats.mjs'

async function cpuUs(server) {
  const c = await server.call('cpu', undefined, 10_000)
  return { total: c.userUs + c.systemUs, user: c.userUs }
}

async function throughput(server, loadgen, url, o, seconds = o.throughputSeconds) {
  const c0 = (await cpuUs(server)).total
  const r = await loadgen.call('saturate', { url, connections: o.connections, seconds })
  const cpu = (await cpuUs(server)).total - c0
  return { rps: r.rps, ok: r.ok, bad: r.non2xx + r.errors + r.timeouts, p99Ms: r.p99Ms, serverCpuShare: cpu / 1e6 / r.durationS }
}

async function cpuPerRequest(server, loadgen, url, rate, o) {
  const c0 = await cpuUs(server)
  const r = await loadgen.call('paced', { url, rate, seconds: o.cpuSeconds })
  const c1 = await cpuUs(server)
  const cpu = c1.total - c0.total
  return { usPerReq: r.ok > 0 ? cpu / r.ok : NaN, userUsPerReq: r.ok > 0 ? (c1.user - c0.user) / r.ok : NaN, ok: r.ok, bad: r.non2xx + r.errors + r.timeouts, achievedRps: r.rps }
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
      // Warm-up (JIT, connection pools). The CPU rate is fixed per group, not derived from a
      // capacity measured on a noisy machine: every configuration then does the same work.
      let capacity = NaN
      for (const name of names) {
        const w = await throughput(servers[name].proc, loadgen, servers[name].url, o, o.warmupSeconds)
        if (name === g.baseline) capacity = w.rps
      }
      const rate = g.cpuRate
      log(`overhead ${g.name}: baseline warm-up ~${Math.round(capacity)} req/s, CPU per request measured at ${rate} req/s`)
      const samples = Object.fromEntries(names.map((n) => [n, { rps: [], usPerReq: [], userUsPerReq: [], serverCpuShare: [], achievedRps: [], bad: 0 }]))
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
          x.userUsPerReq.push(c.userUsPerReq)
          x.achievedRps.push(c.achievedRps)
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
          userUsPerReq: median(x.userUsPerReq),
          userCpuRatio: pairedRatio(x.userUsPerReq, samples[g.baseline].userUsPerReq),
          serverCpuShareAtMax: median(x.serverCpuShare),
          failedRequests: x.bad,
          samples: x,
        }
      })
      const achieved = median(Object.values(samples).flatMap((x) => x.achievedRps))
      groups.push({ name: g.name, baseline: g.baseline, warmupCapacity: capacity, cpuRate: rate, achievedCpuRate: achieved, connections: o.connections, rows })
    } finally {
      await Promise.all(Object.values(servers).map((s) => s.proc.stop()))
    }
  }
  return groups
}
