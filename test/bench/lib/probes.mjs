// Readiness probe latency while the app route runs at a share of its capacity, with a
// readiness check that takes CHECK_MS: a probe should be answered from the cached result,
// not wait for the check nor queue behind the traffic. Judged against the app route's own
// latency measured the same way at the same moments (the machine's noise hits both alike).
import { BENCH_DIR, SERVER_CPU, startChild } from './proc.mjs'
import { LABELS } from './configs.mjs'
import { quantileInterval } from './stats.mjs'

/**
 * The ratio of the probe's quantile to the app route's with an interval: each quantile's
 * distribution-free interval, the probe's low end over the app's high end and the other way round.
 */
function vsApp(probe, app, p) {
  const a = quantileInterval(probe, p)
  const b = quantileInterval(app, p)
  return [a.lo / b.hi, a.hi / b.lo]
}

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
      // the app route measured by the same client at the same moments: the probe's relative figure
      const r = await loadgen.call('probeUnderLoad', { url, rate, seconds: o.probeSeconds, probeUrl, appUrl: url })
      log(`probes ${name}: capacity ${Math.round(cap.rps)} req/s, load ${rate} req/s (achieved ${Math.round(r.load.rps)}), /readyz p50 ${r.p50Ms.toFixed(2)} ms p99 ${r.p99Ms.toFixed(2)} ms over ${r.probes} probes, app route p50 ${r.app.p50Ms.toFixed(2)} ms p99 ${r.app.p99Ms.toFixed(2)} ms; idle p99 ${idle.p99Ms.toFixed(2)} ms`)
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
        app: { requests: r.app.requests, statuses: r.app.statuses, p50Ms: r.app.p50Ms, p99Ms: r.app.p99Ms, maxMs: r.app.maxMs },
        p50VsApp: r.p50Ms / r.app.p50Ms,
        p99VsApp: r.p99Ms / r.app.p99Ms,
        p99VsAppInterval: vsApp(r.sortedMs, r.app.sortedMs, 0.99),
      })
    } finally {
      await s.stop()
    }
  }
  return rows
}
