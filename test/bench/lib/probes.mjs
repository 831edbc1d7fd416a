// Readiness probe latency while the app route runs at a share of its capacity, with a
// readiness check that takes CHECK_MS: a probe should be answered from the cached result,
// not wait for the check nor queue behind the traffic.
import { BENCH_DIR, SERVER_CPU, startChild } from './proc.mjs'
import { LABELS } from './configs.mjs'

export async function runProbes(o, loadgen, log) {
  const rows = []
  for (const name of o.probeConfigs) {
    const s = startChild(`${BENCH_DIR}servers/${name}.mjs`, { cpu: SERVER_CPU, env: { CHECK_MS: String(o.probeCheckMs) } })
    try {
      const info = await s.ready
      const url = `http://127.0.0.1:${info.port}/`
      const probeUrl = `http://127.0.0.1:${info.probe.port}${info.probe.path}`
      await loadgen.call('saturate', { url, connections: o.connections, seconds: o.warmupSeconds })
      const cap = await loadgen.call('saturate', { url, connections: o.connections, seconds: o.throughputSeconds })
      const rate = Math.max(100, Math.round(cap.rps * o.probeLoadShare))
      const idle = await loadgen.call('probeUnderLoad', { url, rate: 0, seconds: 2.5, probeUrl })
      const r = await loadgen.call('probeUnderLoad', { url, rate, seconds: o.probeSeconds, probeUrl })
      log(`probes ${name}: capacity ${Math.round(cap.rps)} req/s, load ${rate} req/s (achieved ${Math.round(r.load.rps)}), /readyz p50 ${r.p50Ms.toFixed(2)} ms p99 ${r.p99Ms.toFixed(2)} ms over ${r.probes} probes; idle p99 ${idle.p99Ms.toFixed(2)} ms`)
      rows.push({
        server: name,
        label: LABELS[name],
        probe: info.probe.path,
        probeOnOwnPort: info.probe.port !== info.port,
        checkMs: o.probeCheckMs,
        capacity: cap.rps,
        loadRate: rate,
        achievedRate: r.load.rps,
        probes: r.probes,
        statuses: r.statuses,
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        maxMs: r.maxMs,
        idleP50Ms: idle.p50Ms,
        idleP99Ms: idle.p99Ms,
      })
    } finally {
      await s.stop()
    }
  }
  return rows
}
