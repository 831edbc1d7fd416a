// The Markdown table and the verdicts on the issue's targets.
import { round } from './stats.mjs'

const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a')
const ratio = (r) => (Number.isFinite(r.ratio) ? `${r.ratio.toFixed(3)} (${fmt(r.lo, 3)}–${fmt(r.hi, 3)})` : 'n/a')

function row(cells) {
  return `| ${cells.join(' | ')} |`
}

function find(groups, server) {
  for (const g of groups) for (const r of g.rows) if (r.server === server) return r
  return undefined
}

/** Each target of issue 7: the figure, the limit, met or not. Undefined figures are "not measured". */
export function targets(results) {
  const out = []
  const o = results.overhead ?? []
  const add = (name, value, limit, met, unit = '') => out.push({ name, value, limit, met: value === undefined || !Number.isFinite(value) ? null : met, unit })
  const zd = find(o, 'fastify-zerodrop')
  const zdm = find(o, 'fastify-zerodrop-metrics')
  if (zd) add('Fastify + zerodrop (probes, drain) CPU/request vs bare', zd.cpuRatio.ratio, '≤ 1.03', zd.cpuRatio.ratio <= 1.03, '×')
  if (zdm) add('Fastify + zerodrop with metrics CPU/request vs bare', zdm.cpuRatio.ratio, '≤ 1.08', zdm.cpuRatio.ratio <= 1.08, '×')
  for (const peer of ['fastify-terminus', 'fastify-lightship']) {
    const p = find(o, peer)
    if (zd && p) add(`Fastify + zerodrop (probes, drain) CPU/request below ${p.label}`, zd.cpuRatio.ratio, `< ${fmt(p.cpuRatio.ratio, 3)}`, zd.cpuRatio.ratio < p.cpuRatio.ratio, '×')
  }
  const fm = find(o, 'fastify-metrics')
  if (zdm && fm) add('Fastify + zerodrop with metrics CPU/request below Fastify + fastify-metrics', zdm.cpuRatio.ratio, `< ${fmt(fm.cpuRatio.ratio, 3)}`, zdm.cpuRatio.ratio < fm.cpuRatio.ratio, '×')
  const ezd = find(o, 'express-zerodrop-metrics')
  const epb = find(o, 'express-prom-bundle')
  if (ezd && epb) {
    add('Express + zerodrop with metrics CPU/request below express-prom-bundle', ezd.cpuRatio.ratio, `< ${fmt(epb.cpuRatio.ratio, 3)}`, ezd.cpuRatio.ratio < epb.cpuRatio.ratio, '×')
    add('Express + zerodrop with metrics req/s above express-prom-bundle', ezd.rpsRatio.ratio, `> ${fmt(epb.rpsRatio.ratio, 3)}`, ezd.rpsRatio.ratio > epb.rpsRatio.ratio, '×')
  }
  for (const p of results.probes ?? []) {
    if (p.server.includes('zerodrop')) add(`/readyz p99 at ${Math.round(results.options.probeLoadShare * 100)} % load, ${p.checkMs} ms check (${p.label})`, p.p99Ms, '≤ 2 ms', p.p99Ms <= 2, ' ms')
  }
  for (const d of results.drain ?? []) {
    if (d.server.includes('zerodrop')) {
      const ms = d.scenarios.clients.medianMs
      add(`drain exit with ${d.scenarios.clients.clients} idle keep-alive clients (${d.label})`, ms, `≤ ${d.delayMs + 50} ms`, ms <= d.delayMs + 50 && d.scenarios.clients.exitCodes.every((c) => c === 0), ' ms')
    }
  }
  const f = results.fleet
  if (f?.measured) {
    if (f.router?.l4) add('router l4 throughput vs direct', f.router.l4.ratio, '≥ 0.8', f.router.l4.ratio >= 0.8, '×')
    if (f.rolling) add('rolling deploy duration vs theoretical minimum', f.rolling.ratio, '≤ 1.2', f.rolling.ratio <= 1.2, '×')
  } else {
    out.push({ name: 'router l4 throughput vs direct', value: undefined, limit: '≥ 0.8', met: null })
    out.push({ name: 'rolling deploy duration vs theoretical minimum', value: undefined, limit: '≤ 1.2', met: null })
  }
  return out
}

export function markdown(results) {
  const { machine, options } = results
  const L = []
  L.push(`Run ${results.startedAt} (${options.mode} mode, ${Math.round(results.durationS)} s) on ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}; ` +
    `${machine.pinned ? 'server pinned to CPU 0, load generator to CPU 1 (taskset)' : 'not pinned (no taskset)'}; load average before ${machine.loadBefore.join(' ')}, after ${machine.loadAfter.join(' ')}.`)
  L.push('')
  if (results.overhead) {
    L.push(`### Overhead per request`)
    L.push('')
    L.push(`App route \`GET /\` → \`{"hello":"world"}\` (the worst case for overhead). Max req/s: ${options.connections} keep-alive connections, ${options.throughputSeconds} s per sample, ${options.rounds} rounds, each ratio paired with the bare server in the same round. ` +
      `CPU/request: server CPU time (user + system, \`process.cpuUsage()\` over IPC) / responses at a fixed rate per group (paced: 20 staggered autocannon instances), ${options.cpuSeconds} s per sample, ${options.cpuRounds} rounds of A B A C A …, each ratio paired with the mean of the two bare samples around it. ` +
      `Ratios are geometric means of the pairwise ratios with a 95 % t-interval in brackets; lower CPU is better. User-space CPU leaves out the kernel's share (socket writes and reads, the same for every configuration and the noisiest part on a shared machine). ` +
      `The A/A control is the bare server in a second process: its distance from 1 is the noise floor of this run.`)
    L.push('')
    L.push(row(['configuration', 'req/s (median)', 'req/s vs bare', 'CPU µs/request (median)', 'CPU/request vs bare', 'user-space CPU/request vs bare', 'server CPU at max']))
    L.push(row(['---', '---:', '---:', '---:', '---:', '---:', '---:']))
    for (const g of results.overhead) {
      for (const r of g.rows) {
        L.push(row([
          r.baseline ? `**${r.label}**` : r.control ? `*${r.label}*` : r.label,
          fmt(r.rps),
          r.baseline ? '1' : ratio(r.rpsRatio),
          fmt(r.usPerReq, 1),
          r.baseline ? '1' : ratio(r.cpuRatio),
          r.baseline ? '1' : ratio(r.userCpuRatio),
          `${fmt(r.serverCpuShareAtMax * 100)} %`,
        ]))
      }
    }
    L.push('')
    L.push(`CPU rates: ${results.overhead.map((g) => `${g.name} ${g.cpuRate} req/s (achieved ${fmt(g.achievedCpuRate)})`).join(', ')}. "server CPU at max" well below 100 % means the server was not the bottleneck (load generator or a noisy neighbour).`)
    L.push('')
  }
  if (results.probes) {
    L.push(`### Readiness probe latency under load`)
    L.push('')
    L.push(`A new connection per probe (like the kubelet), every 20 ms, while \`GET /\` runs at ${Math.round(options.probeLoadShare * 100)} % of the server's measured capacity; the readiness check takes ${options.probeCheckMs} ms.`)
    L.push('')
    L.push(row(['configuration', 'probe', 'load (req/s)', 'probes', 'p50 (ms)', 'p99 (ms)', 'max (ms)', 'idle p99 (ms)']))
    L.push(row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:']))
    for (const p of results.probes) {
      L.push(row([p.label, `\`${p.probe}\`${p.probeOnOwnPort ? ' (own port, no check)' : ''}`, fmt(p.achievedRate), String(p.probes), fmt(p.p50Ms, 2), fmt(p.p99Ms, 2), fmt(p.maxMs, 1), fmt(p.idleP99Ms, 2)]))
    }
    L.push('')
  }
  if (results.drain) {
    L.push(`### Drain: SIGTERM to exit`)
    L.push('')
    L.push(`Median of ${options.drainReps} runs each; drain delay ${options.drainDelayMs} ms where the library has one.`)
    L.push('')
    L.push(row(['configuration', 'idle server (ms)', `${options.idleClients} idle keep-alive clients (ms)`, 'over the delay (ms)', 'exit codes']))
    L.push(row(['---', '---:', '---:', '---:', '---']))
    for (const d of results.drain) {
      const c = d.scenarios.clients
      L.push(row([d.label, fmt(d.scenarios.idle.medianMs), fmt(c.medianMs), fmt(d.overDelayMs), [...d.scenarios.idle.exitCodes, ...c.exitCodes].join(' ')]))
    }
    L.push('')
  }
  L.push(`### Fleet`)
  L.push('')
  const f = results.fleet
  if (f?.measured) {
    L.push(row(['measure', 'value', 'reference', 'ratio']))
    L.push(row(['---', '---:', '---:', '---:']))
    if (f.router) {
      L.push(row(['direct to one instance', `${fmt(f.router.direct)} req/s`, '', '1']))
      for (const m of ['l4', 'l7']) if (f.router[m]) L.push(row([`through the router (${m})`, `${fmt(f.router[m].rps)} req/s`, 'direct', ratio(f.router[m])]))
    }
    if (f.rolling) L.push(row([`rolling deploy ${f.rolling.description}: ${f.rolling.verdict}, ${f.rolling.dropped} dropped`, `${fmt(f.rolling.durationMs)} ms`, `${fmt(f.rolling.minimumMs)} ms (theoretical minimum)`, fmt(f.rolling.ratio, 3)]))
    L.push('')
    if (f.notes) L.push(f.notes, '')
  } else {
    L.push(`Not measured yet${f?.reason ? `: ${f.reason}` : ''}.`)
    L.push('')
  }
  L.push(`### Targets`)
  L.push('')
  L.push(row(['target', 'measured', 'limit', 'met']))
  L.push(row(['---', '---:', '---', '---']))
  for (const t of targets(results)) {
    L.push(row([t.name, t.value === undefined ? 'not measured' : `${fmt(t.value, t.unit === '×' ? 3 : 2)}${t.unit === '×' ? '' : t.unit}`, t.limit, t.met === null ? '—' : t.met ? 'yes' : '**no**']))
  }
  L.push('')
  return L.join('\n')
}

export { round }
