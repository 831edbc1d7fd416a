// SIGTERM-to-exit, with an idle server and with idle keep-alive clients connected.
import { BENCH_DIR, SERVER_CPU, startChild } from './proc.mjs'
import { median } from './stats.mjs'

async function once(cfg, clients, o, loadgen) {
  const s = startChild(`${BENCH_DIR}servers/${cfg.server}.mjs`, { cpu: SERVER_CPU, env: { DRAIN_DELAY_MS: String(o.drainDelayMs) } })
  try {
    const info = await s.ready
    const url = `http://127.0.0.1:${info.port}/`
    let opened = 0
    if (clients > 0) opened = (await loadgen.call('openIdle', { url, n: clients })).idle
    const t0 = performance.now()
    s.child.kill('SIGTERM')
    const exit = await Promise.race([
      s.exited,
      new Promise((r) => setTimeout(() => r(undefined), o.drainDelayMs + 30_000)),
    ])
    const closed = clients > 0 ? (await loadgen.call('closeIdle')).closedByServer : 0
    if (exit === undefined) return { ms: NaN, code: null, opened, closedByServer: closed, timedOut: true }
    return { ms: exit.at - t0, code: exit.code, signal: exit.signal, opened, closedByServer: closed }
  } finally {
    await s.stop()
  }
}

export async function runDrain(o, loadgen, log) {
  const rows = []
  for (const cfg of o.drainConfigs) {
    const row = { server: cfg.server, label: cfg.label, delayMs: cfg.delay ? o.drainDelayMs : 0, scenarios: {} }
    for (const [key, clients] of [['idle', 0], ['clients', o.idleClients]]) {
      const runs = []
      for (let i = 0; i < o.drainReps; i++) runs.push(await once(cfg, clients, o, loadgen))
      row.scenarios[key] = {
        clients,
        runs,
        medianMs: median(runs.map((r) => r.ms)),
        exitCodes: runs.map((r) => r.code),
      }
    }
    row.overDelayMs = row.scenarios.clients.medianMs - row.delayMs
    log(`drain ${cfg.server}: idle ${row.scenarios.idle.medianMs.toFixed(0)} ms, ${o.idleClients} keep-alive clients ${row.scenarios.clients.medianMs.toFixed(0)} ms (exit ${row.scenarios.clients.exitCodes.join('/')})`)
    rows.push(row)
  }
  return rows
}
