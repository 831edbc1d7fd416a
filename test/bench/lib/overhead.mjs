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
  // Every sample starts hot: the server just served a short burst, whether it is the baseline
  // (measured every other sample) or a variant (idle while the others were measured). Without
  // this the A/A control read 1.14 (1.06–1.22): the cold server paid for its caches.
  await loadgen.call('saturate', { url, connections: 10, seconds: o.cpuWarmSeconds })
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
      const samples = Object.fromEntries(names.map((n) => [n, { rps: [], rpsPairBase: [], usPerReq: [], userUsPerReq: [], cpuPairBase: [], userPairBase: [], serverCpuShare: [], achievedRps: [], bad: 0 }]))
      // Max req/s: each round measures every server, baseline first; every other round reversed.
      for (let round = 0; round < o.rounds; round++) {
        const order = round % 2 === 0 ? names : [...names].reverse()
        const got = {}
        for (const name of order) {
          const s = servers[name]
          const t = await throughput(s.proc, loadgen, s.url, o)
          got[name] = t
          samples[name].serverCpuShare.push(t.serverCpuShare)
          samples[name].bad += t.bad
        }
        for (const name of names) {
          samples[name].rps.push(got[name].rps)
          samples[name].rpsPairBase.push(got[g.baseline].rps)
        }
        log(`overhead ${g.name}: req/s round ${round + 1}/${o.rounds} ` + names.map((n) => `${n} ${Math.round(got[n].rps)}`).join(', '))
      }
      // CPU per request: A B A C A … — every variant measured between two baseline samples and
      // paired with their mean, so drift over a few seconds cancels; variant order reversed every other round.
      for (let round = 0; round < o.cpuRounds; round++) {
        const variants = round % 2 === 0 ? g.variants : [...g.variants].reverse()
        const base = servers[g.baseline]
        let before = await cpuPerRequest(base.proc, loadgen, base.url, rate, o)
        const b = samples[g.baseline]
        b.usPerReq.push(before.usPerReq)
        b.userUsPerReq.push(before.userUsPerReq)
        b.achievedRps.push(before.achievedRps)
        const line = []
        for (const name of variants) {
          const s = servers[name]
          const c = await cpuPerRequest(s.proc, loadgen, s.url, rate, o)
          const after = await cpuPerRequest(base.proc, loadgen, base.url, rate, o)
          const x = samples[name]
          x.usPerReq.push(c.usPerReq)
          x.userUsPerReq.push(c.userUsPerReq)
          x.cpuPairBase.push((before.usPerReq + after.usPerReq) / 2)
          x.userPairBase.push((before.userUsPerReq + after.userUsPerReq) / 2)
          x.achievedRps.push(c.achievedRps)
          x.bad += c.bad
          b.usPerReq.push(after.usPerReq)
          b.userUsPerReq.push(after.userUsPerReq)
          b.achievedRps.push(after.achievedRps)
          b.bad += after.bad
          line.push(`${name} ${c.usPerReq.toFixed(1)}us (base ${((before.usPerReq + after.usPerReq) / 2).toFixed(1)})`)
          before = after
        }
        log(`overhead ${g.name}: CPU round ${round + 1}/${o.cpuRounds} ${line.join(', ')}`)
      }
      const rows = names.map((name) => {
        const x = samples[name]
        return {
          server: name,
          label: LABELS[name],
          baseline: name === g.baseline,
          control: name === g.control,
          rps: median(x.rps),
          rpsRatio: pairedRatio(x.rps, x.rpsPairBase),
          usPerReq: median(x.usPerReq),
          cpuRatio: pairedRatio(x.usPerReq, x.cpuPairBase),
          userUsPerReq: median(x.userUsPerReq),
          userCpuRatio: pairedRatio(x.userUsPerReq, x.userPairBase),
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
