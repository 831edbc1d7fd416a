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

/**
 * A configuration's instruction ratio with the run's noise floor as its interval: the A/A
 * control's distance from 1, applied on both sides (the counts themselves are deterministic;
 * what varies between processes is GC and JIT timing).
 */
/** Tier-up over before the counted window: the N1 phase's figure agrees with N2's (older runs carry no flag). */
export function isSteady(r, tolerance = 0.01) {
  return Math.abs(r.instructionsPerReqN1 / r.instructionsPerReq - 1) <= tolerance
}

export function instructionRatio(groups, server, tolerance = 0.01) {
  let aa
  let row
  for (const g of groups) {
    for (const r of g.rows) {
      if (r.control) aa = r.instructionsRatio
      if (r.server === server) row = r
    }
  }
  if (!row) return undefined
  const floor = aa === undefined ? 0 : Math.abs(aa - 1)
  // steady: false when JIT tier-up was still running in this row's (or its baseline's) counted window
  const baseline = groups.find((g) => g.rows.includes(row))?.rows.find((r) => r.baseline)
  const steady = isSteady(row, tolerance) && (baseline === undefined || isSteady(baseline, tolerance))
  // Every pairing of the two counted windows (N1, N2 − N1) of the row and of its baseline: a row
  // that is not steady still has a verdict when it holds for all of them (widened by the floor too).
  const windows = (x) => [x.instructionsPerReq, x.instructionsPerReqN1 ?? x.instructionsPerReq]
  const [rw, bw] = [windows(row), windows(baseline ?? row)]
  const loAll = (Math.min(...rw) / Math.max(...bw)) * (1 - floor)
  const hiAll = (Math.max(...rw) / Math.min(...bw)) * (1 + floor)
  return { ratio: row.instructionsRatio, lo: row.instructionsRatio * (1 - floor), hi: row.instructionsRatio * (1 + floor), steady, loAll, hiAll }
}

function proxiesTable(results, L) {
  const px = results.proxies
  const m = px.method
  const p = Object.fromEntries(px.rows.map((r) => [r.proxy, r]))
  L.push(`Router against HAProxy and nginx (Debian's): user-space instructions per proxied \`GET /\` (\`${m.tool}\`), the same bare node:http backend (not under valgrind) and the same closed-loop client over ${m.connections} keep-alive connection. HAProxy and nginx run twice, serving ${m.warmup} + ${m.n1} and ${m.warmup} + ${m.n2} requests; the figure is the difference / ${m.n2 - m.n1}. The zerodrop routers (node ${NODE_FLAGS_TEXT}) are counted between dumps after ${m.nodeWarmup} warm-up requests, like the servers above. One worker/thread each. The comparison is unfair by design: l4 is an HTTP-aware proxy (it parses every request and response to count them, the fleet's drop accounting), where HAProxy's TCP mode and nginx's stream proxy copy bytes; HAProxy and nginx are C, the routers are JavaScript.`)
  L.push('')
  L.push(row(['proxy', 'instructions/request', 'vs HAProxy TCP', 'vs HAProxy HTTP']))
  L.push(row(['---', '---:', '---:', '---:']))
  for (const r of px.rows) L.push(row([r.label, fmt(r.instructionsPerReq), fmt(r.instructionsPerReq / p['haproxy-tcp'].instructionsPerReq, 2), fmt(r.instructionsPerReq / p['haproxy-http'].instructionsPerReq, 2)]))
  L.push('')
}

const NODE_FLAGS_TEXT = '--hash-seed=1 --random-seed=1 --single-threaded'

function instructionsTable(results, L) {
  const ins = results.instructions
  const m = ins.method
  L.push(`Instructions per request (\`${m.tool}\`, node ${m.nodeFlags.join(' ')}, V8 otherwise at its defaults): closed-loop load over ${m.connections} keep-alive connection (a new one every ${m.chunk ?? m.n2} requests) from a separate process not under valgrind; ${m.settle === undefined ? `${m.warmup} warm-up requests, then the counters are dumped after N1 = ${m.n1} and N2 = ${m.n2} more` : `${m.warmup} warm-up requests while callgrind does not instrument (\`--instr-atstart=no\`, about ten times faster, so V8's tier-up can end), then \`callgrind_control -i on\`, ${m.settle} settling requests (the code retranslated with instrumentation; counted apart, not used), then the counters are dumped after N1 = ${m.n1} and N2 = ${m.n2} more`}, and the figure is (count at N2 − count at N1) / (N2 − N1).${m.gcReset ? ' After every dump the server runs two full collections (--expose-gc) and the counters are zeroed after them, so each window starts from a collected heap: scavenges stay counted, a major GC\'s cost is not billed per request.' : ''}${m.notCounted?.length ? ' TurboFan\'s compile jobs are not counted (--toggle-collect): an optimizing compilation is tier-up, a one-off cost; the optimized code, and the interpreter and baseline code that run before it, are counted.' : ''} User-space instructions only, every thread of the server (V8's compiler and GC threads too); the kernel's share is the same for every configuration and not counted. In brackets: the ratio widened by the A/A control's distance from 1 (the run's noise floor). "N1 phase" is the per-request count over the N1 phase, the check that JIT tier-up was over: a row where it differs from the figure by more than ${fmt((m.steadyTolerance ?? 0.01) * 100)} % is marked *not steady*, and a target judged on it is not resolved.`)
  for (const g of ins.groups) {
    const gm = g.method
    if (gm && (gm.warmup !== m.warmup || gm.n1 !== m.n1 || gm.n2 !== m.n2)) {
      L.push('')
      L.push(`The ${g.name} rows were counted with W = ${gm.warmup}${gm.settle === undefined ? ' (instrumented throughout)' : `, S = ${gm.settle}`}, N1 = ${gm.n1}, N2 = ${gm.n2}${gm.notCounted?.length ? ' (TurboFan\'s compile jobs not counted there either)' : ', TurboFan\'s compile jobs counted'}: their N1 phase is ${gm.n1} requests against a figure over ${gm.n2 - gm.n1}.`)
    }
  }
  L.push('')
  const cpuCol = (server) => {
    const r = find(results.overhead ?? [], server)
    return r && !r.baseline ? ratio(r.cpuRatio) : r ? '1' : 'not run'
  }
  L.push(row(['configuration', 'instructions/request', 'N1 phase', 'instructions vs bare', 'CPU time vs bare (second column)', 'req/s under callgrind']))
  L.push(row(['---', '---:', '---:', '---:', '---:', '---:']))
  for (const g of ins.groups) {
    for (const r of g.rows) {
      const ir = instructionRatio(ins.groups, r.server, m.steadyTolerance)
      L.push(row([r.baseline ? `**${r.label}**` : r.control ? `*${r.label}*` : r.label, fmt(r.instructionsPerReq), `${fmt(r.instructionsPerReqN1)}${isSteady(r, m.steadyTolerance) ? '' : ' (*not steady*)'}`, r.baseline ? '1' : r.control ? fmt(r.instructionsRatio, 3) : `${fmt(ir.ratio, 3)} (${fmt(ir.lo, 3)}–${fmt(ir.hi, 3)})`, cpuCol(r.server), fmt(r.reqPerS)]))
    }
  }
  L.push('')
}

/**
 * For every instruction target not met: the functions that grew most over bare, from the same
 * run's callgrind dumps (exclusive instructions per request; `JS:*` frames are optimised code).
 */
/** A C++ frame without its parameters and template arguments; JS frames as they are. */
function shortFn(fn) {
  let f = fn.replace(/^\?\?\?:/, '').replace(/`/g, "'").replace(/\(anonymous namespace\)::/g, '')
  if (f.startsWith('JS:')) return f
  for (let prev = ''; prev !== f;) {
    prev = f
    f = f.replace(/<[^<>]*>/g, '')
  }
  return f.replace(/\([^()]*\)$/, '').replace(/^void /, '')
}

function missedProfiles(results, L) {
  const ins = results.instructions
  if (!ins?.measured) return
  const lines = []
  for (const t of targets(results)) {
    if (!t.server || t.met === 'yes' || t.met === null) continue
    const r = find(ins.groups, t.server)
    if (!r?.profileTop?.length) continue
    const top = r.profileTop.map((d) => `+${fmt(d.variant - d.base)} \`${shortFn(d.fn)}\``).join(', ')
    lines.push(`- ${t.name} (${t.met === 'no' ? 'missed' : t.met}): ${fmt(r.instructionsPerReq - find(ins.groups, ins.groups.find((g) => g.rows.includes(r)).baseline).instructionsPerReq)} instructions per request over bare; largest increases: ${top}`)
  }
  if (lines.length === 0) return
  L.push('Where the instructions go, for every instruction target not met (callgrind, the counted phase against the bare server\'s, exclusive instructions per request; `JS:*` is optimised JavaScript, `Builtins_*` V8\'s own code):')
  L.push('')
  L.push(...lines)
  L.push('')
}

/** Each performance target: the figure, the limit, met or not. Undefined figures are "not measured". */
export function targets(results) {
  const out = []
  const o = results.overhead ?? []
  const plain = (name, value, limit, met, unit = '') => out.push({ name, value, limit, met: value === undefined || !Number.isFinite(value) ? null : met ? 'yes' : 'no', unit })
  // A ratio with an interval against a limit: met when the whole interval is within it, missed
  // when the whole interval is beyond it, otherwise the run could not tell.
  // A row that is not steady (instructionRatio) is judged on every pairing of its counted windows
  // instead of its figure's interval, or not at all.
  const span = (r) => (r.steady === false ? [r.loAll, r.hiAll] : [r.lo, r.hi])
  const unsteadyMet = (met, anyUnsteady) => (met === 'not resolved' && anyUnsteady ? 'not resolved (not steady)' : met)
  const bound = (name, r, limit, below = true) => {
    const [lo, hi] = span(r)
    let met = 'not resolved'
    if (!Number.isFinite(r.ratio)) met = null
    else if (below ? hi <= limit : lo >= limit) met = 'yes'
    else if (below ? lo > limit : hi < limit) met = 'no'
    met = unsteadyMet(met, r.steady === false)
    const detail = r.steady === false && (met === 'yes' || met === 'no') ? `not steady: holds for every pairing of the counted windows (${fmt(lo, 3)}–${fmt(hi, 3)})` : undefined
    out.push({ name, value: r.ratio, interval: [r.lo, r.hi], limit: `${below ? '≤' : '≥'} ${limit}`, met, unit: '×', ...(detail ? { detail } : {}) })
  }
  // Lower than a peer: met when the intervals do not overlap and ours is below.
  const versus = (name, ours, peer, lowerIsBetter = true) => {
    const unsteady = ours.steady === false || peer.steady === false
    // with either side unsteady, both are judged on every pairing of their windows
    const [oLo, oHi] = unsteady ? [ours.loAll, ours.hiAll] : [ours.lo, ours.hi]
    const [pLo, pHi] = unsteady ? [peer.loAll, peer.hiAll] : [peer.lo, peer.hi]
    let met = 'not resolved'
    if (!Number.isFinite(ours.ratio) || !Number.isFinite(peer.ratio)) met = null
    else if (lowerIsBetter ? oHi < pLo : oLo > pHi) met = 'yes'
    else if (lowerIsBetter ? oLo > pHi : oHi < pLo) met = 'no'
    met = unsteadyMet(met, unsteady)
    const detail = unsteady && (met === 'yes' || met === 'no') ? `not steady: holds for every pairing of the counted windows (ours ${fmt(oLo, 3)}–${fmt(oHi, 3)}, peer ${fmt(pLo, 3)}–${fmt(pHi, 3)})` : undefined
    out.push({ name, value: ours.ratio, interval: [ours.lo, ours.hi], limit: `${lowerIsBetter ? '<' : '>'} ${fmt(peer.ratio, 3)} (${fmt(peer.lo, 3)}–${fmt(peer.hi, 3)})`, met, unit: '×', ...(detail ? { detail } : {}) })
  }
  const ins = results.instructions
  if (ins?.measured) {
    const ig = ins.groups
    const r = (server) => instructionRatio(ig, server, ins.method.steadyTolerance)
    const aa = r('fastify-control')
    if (aa) plain('A/A control (bare Fastify, second process) instructions/request', aa.ratio, '0.98–1.02', aa.ratio >= 0.98 && aa.ratio <= 1.02 && aa.steady, '×')
    // the configuration a target is judged on, for its profile lines below the table
    const tag = (server) => { out.at(-1).server = server }
    if (r('fastify-zerodrop')) { bound('Fastify + zerodrop (probes, drain) instructions/request vs bare', r('fastify-zerodrop'), 1.03); tag('fastify-zerodrop') }
    if (r('fastify-zerodrop-metrics')) { bound('Fastify + zerodrop with metrics instructions/request vs bare', r('fastify-zerodrop-metrics'), 1.08); tag('fastify-zerodrop-metrics') }
    if (r('fastify-zerodrop-metrics') && r('fastify-metrics')) { versus('Fastify + zerodrop with metrics instructions/request below fastify-metrics', r('fastify-zerodrop-metrics'), r('fastify-metrics')); tag('fastify-zerodrop-metrics') }
    if (r('express-zerodrop-metrics')) { bound('Express + zerodrop with metrics instructions/request vs bare', r('express-zerodrop-metrics'), 1.05); tag('express-zerodrop-metrics') }
    if (r('express-zerodrop-metrics') && r('express-prom-bundle')) { versus('Express + zerodrop with metrics instructions/request below express-prom-bundle', r('express-zerodrop-metrics'), r('express-prom-bundle')); tag('express-zerodrop-metrics') }
    if (r('http-zerodrop')) { bound('node:http + zerodrop (probes, drain) instructions/request vs bare', r('http-zerodrop'), 1.03); tag('http-zerodrop') }
  }
  const px = results.proxies
  if (px?.measured) {
    const p = Object.fromEntries(px.rows.map((r) => [r.proxy, r]))
    plain('router l4 instructions/request vs HAProxy TCP mode (unfair by design: l4 parses HTTP to count requests)', p.l4.vsReference, '≤ 2', p.l4.vsReference <= 2, '×')
    plain('router l7 instructions/request vs HAProxy HTTP mode', p.l7.vsReference, '≤ 2', p.l7.vsReference <= 2, '×')
  }
  const zd = find(o, 'fastify-zerodrop')
  const zdm = find(o, 'fastify-zerodrop-metrics')
  if (zd) bound('Fastify + zerodrop (probes, drain) CPU/request vs bare', zd.cpuRatio, 1.03)
  if (zdm) bound('Fastify + zerodrop with metrics CPU/request vs bare', zdm.cpuRatio, 1.08)
  for (const peer of ['fastify-terminus', 'fastify-lightship']) {
    const p = find(o, peer)
    if (zd && p) versus(`Fastify + zerodrop (probes, drain) CPU/request below ${p.label}`, zd.cpuRatio, p.cpuRatio)
  }
  const fm = find(o, 'fastify-metrics')
  if (zdm && fm) versus('Fastify + zerodrop with metrics CPU/request below Fastify + fastify-metrics', zdm.cpuRatio, fm.cpuRatio)
  const ezd = find(o, 'express-zerodrop-metrics')
  const epb = find(o, 'express-prom-bundle')
  if (ezd && epb) {
    versus('Express + zerodrop with metrics CPU/request below express-prom-bundle', ezd.cpuRatio, epb.cpuRatio)
    versus('Express + zerodrop with metrics req/s above express-prom-bundle', ezd.rpsRatio, epb.rpsRatio, false)
  }
  for (const p of results.probes ?? []) {
    if (!p.server.includes('zerodrop')) continue
    if (p.app === undefined) plain(`/readyz p99 at ${Math.round(results.options.probeLoadShare * 100)} % load, ${p.checkMs} ms check (${p.label})`, p.p99Ms, '≤ 2 ms', p.p99Ms <= 2, ' ms')
    else {
      // relative to the app route measured the same way at the same moments: missed only when
      // the probe is measurably slower (the whole interval above 1); equal latencies are a pass
      const [lo, hi] = p.p99VsAppInterval
      out.push({ name: `/readyz p99 vs the app route's p99 at ${Math.round(results.options.probeLoadShare * 100)} % load, ${p.checkMs} ms check (${p.label})`, value: p.p99VsApp, interval: [lo, hi], limit: 'not slower than the app route (interval reaches 1 or below)', met: Number.isFinite(p.p99VsApp) ? (lo <= 1 ? 'yes' : 'no') : null, unit: '×', detail: `/readyz ${fmt(p.p99Ms, 2)} ms, app route ${fmt(p.app.p99Ms, 2)} ms` })
    }
  }
  for (const d of results.drain ?? []) {
    if (d.server.includes('zerodrop')) {
      const ms = d.scenarios.clients.medianMs
      plain(`drain exit with ${d.scenarios.clients.clients} idle keep-alive clients (${d.label})`, ms, `≤ ${d.delayMs + 50} ms`, ms <= d.delayMs + 50 && d.scenarios.clients.exitCodes.every((c) => c === 0), ' ms')
    }
  }
  const f = results.fleet
  if (f?.measured) {
    if (f.router?.l4) bound('router l4 throughput vs direct', f.router.l4, 0.8, false)
    if (f.rolling) plain('rolling deploy duration vs theoretical minimum', f.rolling.ratio, '≤ 1.2', f.rolling.ratio <= 1.2, '×')
  } else {
    out.push({ name: 'router l4 throughput vs direct', value: undefined, limit: '≥ 0.8', met: null })
    out.push({ name: 'rolling deploy duration vs theoretical minimum', value: undefined, limit: '≤ 1.2', met: null })
  }
  return out
}

function targetRow(t, digits) {
  const value = t.value === undefined
    ? 'not measured'
    : `${fmt(t.value, t.unit === '×' ? 3 : digits)}${t.unit === '×' ? '' : t.unit}${t.interval ? ` (${fmt(t.interval[0], 3)}–${fmt(t.interval[1], 3)})` : ''}${t.detail ? ` (${t.detail})` : ''}`
  const met = t.met === null ? '—' : t.met === 'yes' ? 'yes' : t.met === 'no' ? '**no**' : t.met
  return row([t.name, value, t.limit, met])
}

export function markdown(results) {
  const { machine, options } = results
  const L = []
  L.push(`Run ${results.startedAt} (${options.mode} mode, ${Math.round(results.durationS)} s) on ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}; ` +
    `${machine.pinned ? 'server pinned to CPU 0, load generator to CPU 1 (taskset)' : 'not pinned (no taskset)'}; load average before ${machine.loadBefore.join(' ')}, after ${machine.loadAfter.join(' ')}.`)
  L.push('')
  if (results.sectionRuns) {
    L.push(`Sections from different runs (not re-run together): ${Object.entries(results.sectionRuns).map(([k, d]) => `${k} ${d.slice(0, 16).replace('T', ' ')} UTC${d.slice(24)}`).join('; ')}.`)
    L.push('')
  }
  if (results.instructions?.measured) {
    L.push('### Instructions per request (deterministic)')
    L.push('')
    instructionsTable(results, L)
  }
  if (results.proxies?.measured) {
    L.push('### Router against HAProxy and nginx')
    L.push('')
    proxiesTable(results, L)
  }
  if (results.overhead) {
    L.push('### Overhead per request')
    L.push('')
    L.push(`App route \`GET /\` → \`{"hello":"world"}\` (the worst case for overhead). Max req/s: ${options.connections} keep-alive connections, ${options.throughputSeconds} s per sample, ${options.rounds} rounds, each ratio paired with the bare server in the same round. ` +
      `CPU/request: server CPU time (user + system, \`process.cpuUsage()\` over IPC) / responses at a fixed rate per group (paced: 20 staggered autocannon instances), ${options.cpuSeconds} s per sample, ${options.cpuRounds} rounds of A B A C A …, each ratio paired with the mean of the two bare samples around it. ` +
      `Ratios are medians of the pairwise ratios; in brackets the distribution-free interval for that median (order statistics: with ${options.cpuRounds} CPU pairs and ${options.rounds} req/s pairs it runs from the lowest to the highest pair, ${fmt(100 * (1 - 2 / 2 ** options.cpuRounds), 1)} % and ${fmt(100 * (1 - 2 / 2 ** options.rounds), 1)} % coverage); lower CPU is better. The JSON also has the geometric means with t-intervals. User-space CPU leaves out the kernel's share (socket writes and reads, the same for every configuration and the noisiest part on a shared machine). ` +
      'The A/A control is the bare server in a second process: its distance from 1 is the noise floor of this run.')
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
    L.push('### Readiness probe latency under load')
    L.push('')
    L.push(`A new connection per probe (like the kubelet), every 20 ms, while \`GET /\` runs at ${Math.round(options.probeLoadShare * 100)} % of the server's measured capacity; the readiness check takes ${options.probeCheckMs} ms. ` +
      'Each probe is paired with a request to the app route `GET /` sent the same way by the same client (a new connection, right before or after the probe, alternating), so the ratio compares the two at the same moments; above 1 the probe is slower than the app route (it waited for the check or queued behind the traffic). In brackets: each p99\'s distribution-free 95 % interval (order statistics), the probe\'s low end over the app route\'s high end and the other way round; "slower" only when the whole interval is above 1. Absolute figures in the second group of columns.')
    L.push('')
    L.push(row(['configuration', 'probe', 'load (req/s)', 'probes', 'p50 vs app route', 'p99 vs app route', 'slower than the app route', '/readyz p50 / p99 (ms)', 'app route p50 / p99 (ms)', 'max (ms)', 'idle p99 (ms)']))
    L.push(row(['---', '---', '---:', '---:', '---:', '---:', '---', '---:', '---:', '---:', '---:']))
    for (const p of results.probes) {
      const rel = p.app !== undefined
      L.push(row([p.label, `\`${p.probe}\`${p.probeOnOwnPort ? ' (own port, no check)' : ''}`, fmt(p.achievedRate), String(p.probes),
        rel ? fmt(p.p50VsApp, 2) : 'n/a', rel ? `${fmt(p.p99VsApp, 2)} (${fmt(p.p99VsAppInterval[0], 2)}–${fmt(p.p99VsAppInterval[1], 2)})` : 'n/a', rel ? (p.p99VsAppInterval[0] > 1 ? '**yes**' : p.p99VsAppInterval[1] < 1 ? 'no (faster)' : 'no (not told apart)') : 'n/a',
        `${fmt(p.p50Ms, 2)} / ${fmt(p.p99Ms, 2)}`, rel ? `${fmt(p.app.p50Ms, 2)} / ${fmt(p.app.p99Ms, 2)}` : 'n/a', fmt(p.maxMs, 1), fmt(p.idleP99Ms, 2)]))
    }
    L.push('')
  }
  if (results.drain) {
    L.push('### Drain: SIGTERM to exit')
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
  L.push('### Fleet')
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
  if (results.growth?.measured) {
    L.push('### How cost grows')
    L.push('')
    growthTables(results.growth, L)
  }
  L.push('### Targets')
  L.push('')
  L.push('"not resolved": the interval straddles the limit (or the peer\'s interval): this run cannot tell.')
  L.push('')
  L.push(row(['target', 'measured', 'limit', 'met']))
  L.push(row(['---', '---:', '---', '---']))
  for (const t of targets(results)) L.push(targetRow(t, 2))
  L.push('')
  missedProfiles(results, L)
  L.push('')
  return L.join('\n')
}

const GROWTH_LABELS = { 'fastify-zerodrop': 'Fastify + zerodrop', 'fastify-bare': 'Fastify (bare, close())' }
const bytes = (x) => (Number.isFinite(x) ? String(Math.round(x)) : 'n/a')
/** Below this many connections their memory is lost in the heap's own noise (tens of KB after a GC). */
const MIN_CONNECTIONS_FOR_BYTES = 100
const perConn = (n, x) => (n < MIN_CONNECTIONS_FOR_BYTES ? '—' : bytes(x))

/** The growth section's three tables, each with its method in one sentence. */
function growthTables(gr, L) {
  const g = gr.settings
  if (gr.drain?.length) {
    L.push(`Drain and memory against idle keep-alive connections: each server in its own process (\`--expose-gc\`, pinned to CPU 0) opens and closes 10 connections, reports \`process.memoryUsage()\` after two full collections, then gets N connections (one request each, ${g.batch} opened at a time, left idle), reports again, and gets SIGTERM; drain = SIGTERM to the process's exit, per connection = (after − before) / N, median of ${g.drainReps} runs, drain delay ${g.drainDelayMs} ms for zerodrop. The bare server's bytes per connection are node's and Fastify's own: the difference is what zerodrop tracks per connection. After its delay zerodrop ends each idle socket with a FIN and the socket closes when the client's FIN comes back (a clean close); bare Fastify's \`close()\` destroys them: zerodrop's time over the delay includes the client process (on the other, shared core) answering every FIN.`)
    L.push('')
    L.push(row(['server', 'idle connections', 'SIGTERM → exit (ms)', 'over the delay (ms)', 'RSS (MiB)', 'heap (MiB)', 'RSS / connection (B)', 'heap / connection (B)', 'all closed by the server', 'exit codes']))
    L.push(row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---', '---']))
    for (const d of gr.drain) {
      L.push(row([GROWTH_LABELS[d.server] ?? d.server, String(d.connections), fmt(d.drainMs), fmt(d.overDelayMs), fmt(d.rssMiB, 1), fmt(d.heapMiB, 1), perConn(d.connections, d.rssBytesPerConnection), perConn(d.connections, d.heapBytesPerConnection), d.closedAll ? 'yes' : '**no**', d.exitCodes.join(' ')]))
    }
    const most = Math.max(...gr.drain.map((d) => d.connections))
    const zd = gr.drain.find((d) => d.server === 'fastify-zerodrop' && d.connections === most)
    const bare = gr.drain.find((d) => d.server === 'fastify-bare' && d.connections === most)
    L.push('')
    L.push(`"—": below ${MIN_CONNECTIONS_FOR_BYTES} connections the difference is lost in the heap's own noise after a collection (tens of KB either way; the JSON has it).`, '')
    if (zd && bare) L.push(`At ${most} connections zerodrop adds ${bytes(zd.heapBytesPerConnection - bare.heapBytesPerConnection)} B of heap and ${bytes(zd.rssBytesPerConnection - bare.rssBytesPerConnection)} B of RSS per connection over bare Fastify.`, '')
  }
  if (gr.router?.length) {
    L.push(`Router against open connections: the router (\`createRouter\` in its own process, \`--expose-gc\`, either CPU) in front of one node:http backend (CPU 0); after a warm-up its memory is read after two full collections, N keep-alive connections are opened through it and left idle, memory is read again, then ${g.routerRate} req/s go round those N connections (${g.routerSamples} samples of ${g.routerSeconds} s, the client on CPU 1): CPU per request = the router's \`process.cpuUsage()\` (user + system) over the sample / responses, median; per connection = memory (after − before) / N (l4 holds one upstream socket per client connection, l7 a small pool).`)
    L.push('')
    L.push(row(['router', 'connections', 'open at the router', 'CPU µs/request', `vs ${g.routerConnections[0]} connections`, 'RSS / connection (B)', 'heap / connection (B)', 'p99 (ms)', 'failed', 'new sockets']))
    L.push(row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']))
    for (const r of gr.router) {
      L.push(row([r.mode, String(r.connections), String(r.routerOpenConnections), fmt(r.usPerReq, 1), fmt(r.cpuVsFewest, 2), perConn(r.connections, r.rssBytesPerConnection), perConn(r.connections, r.heapBytesPerConnection), fmt(r.p99Ms, 1), String(r.failed), String(r.newSockets)]))
    }
    L.push('')
  }
  if (gr.rollout?.length) {
    L.push(`Rollout against replicas: one rolling deploy of the demo (v1 → v2) per size, maxSurge ${g.maxSurge} (rounded up, as the Deployment controller does), maxUnavailable 0, probe period ${g.periodMs} ms, endpoint lag ${g.endpointDelayMs} ms, drain delay ${g.drainDelayMs} ms, l4, under the fleet's default load; the theoretical minimum is the longest chain of startups + the drain delay: the controller keeps \`surge\` new instances starting and each one seen ready lets an old one go and the next new one start, so each new instance follows the one whose readiness let it start, each startup counted as long as that instance took to be seen ready in this deploy (for 2 replicas and surge 1, the figure above); the ratio is what the rollout machinery adds. Fleet CPU = the deploying process's \`process.cpuUsage()\` (router, controller and load generator; not the instances) over the whole deploy / the requests the load sent.`)
    L.push('')
    L.push(row(['replicas', 'surge', 'waves', 'rollout (ms)', 'theoretical minimum (ms)', 'ratio', 'new instance seen ready (median ms)', 'verdict, dropped', 'requests', 'fleet CPU µs/request', 'fleet CPU (% of one core)']))
    L.push(row(['---:', '---:', '---:', '---:', '---:', '---:', '---:', '---', '---:', '---:', '---:']))
    for (const r of gr.rollout) {
      L.push(row([String(r.replicas), String(r.surge), String(r.waves), fmt(r.durationMs), fmt(r.minimumMs), fmt(r.ratio, 2), fmt(r.seenReadyMs), `${r.verdict}, ${r.dropped}`, String(r.load.requests), fmt(r.fleetCpuUsPerRequest, 0), `${fmt(r.fleetCpuShare * 100, 1)} %`]))
    }
    L.push('')
    L.push(`Load: ${gr.rollout[0].load.rate} req/s over ${gr.rollout[0].load.connections} connections (achieved ${gr.rollout.map((r) => fmt(r.load.rps)).join(', ')} req/s).`, '')
  }
  if (gr.pinned?.measured) {
    const p = gr.pinned
    L.push(`Router max throughput with the router alone on one CPU (\`taskset\`): two cores cannot give the instance, the router and autocannon one each, so the demo instance and autocannon share CPU 0 in every sample (direct too) and the router has CPU 1 to itself; ${p.samples.direct.length} rounds of direct, l4, l7 (order reversed every other round), ${p.connections} keep-alive connections, ${p.seconds} s per sample — each ratio paired with the direct sample of its round, median and the lowest to the highest pair.`)
    L.push('')
    L.push(row(['path', 'req/s (median)', 'vs direct', "router's CPU (of its core)", "instance's CPU (of its core)", 'router: req per CPU-second', 'vs the instance per CPU-second', 'failed']))
    L.push(row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:']))
    L.push(row(['direct to the instance', fmt(p.direct), '1', '', `${fmt(p.directInstanceCpuShare * 100)} %`, '', `${fmt(p.directPerCpuSecond)} req per CPU-second`, String(p.failedRequests.direct)]))
    for (const m of ['l4', 'l7']) L.push(row([`through the router (${m}) on its own CPU`, fmt(p[m].rps), ratio(p[m]), `${fmt(p[m].routerCpuShare * 100)} %`, `${fmt(p[m].instanceCpuShare * 100)} %`, fmt(p[m].routerPerCpuSecond), fmt(p[m].routerPerCpuSecond / p.directPerCpuSecond, 2), String(p.failedRequests[m])]))
    L.push('')
    L.push('A CPU share well below 100 % means neighbours took the rest of that core (the machine is shared): req/s then says more about them than about the router. Requests per CPU-second do not depend on that share: the last column is how many instances\' worth of this hello-world traffic one core of router can carry (below 1: the router needs more CPU per request than the instance it fronts).', '')
  }
  L.push(`Section durations: ${Object.entries(gr.durationsS).map(([k, v]) => `${k} ${fmt(v)} s`).join(', ')}.`, '')
}

export { round }

/** The short version for the "Performance" section of the repository's README. */
export function readmeSection(results) {
  const { machine, options } = results
  const L = []
  L.push('## Performance')
  L.push('')
  L.push(`What zerodrop costs per request, how fast it drains and how fast the fleet rolls, side by side with the libraries people use instead — ${results.sectionRuns ? 'sections of `npm run bench` from the runs dated below' : `one \`npm run bench\` run (${Math.round(results.durationS / 60)} min)`}, method in [test/bench/README.md](test/bench/README.md), every figure in [test/bench/results/latest.md](test/bench/results/latest.md).`)
  L.push('')
  if (results.sectionRuns) {
    L.push(`Sections from different runs (not re-run together): ${Object.entries(results.sectionRuns).map(([k, d]) => `${k} ${d.slice(0, 16).replace('T', ' ')} UTC${d.slice(24)}`).join('; ')}.`)
    L.push('')
  }
  if (!results.sectionRuns) L.push(`Machine: ${machine.cpus} × ${machine.cpuModel} (shared: other jobs ran on the same cores, load average ${machine.loadBefore[0]} before and ${machine.loadAfter[0]} after the run), ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}; server pinned to CPU 0, autocannon to CPU 1. ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC.`)
  L.push('')
  if (results.instructions?.measured) {
    instructionsTable(results, L)
  }
  if (results.proxies?.measured) proxiesTable(results, L)
  if (results.overhead) {
    L.push('Overhead on a hello-world route (the worst case). Ratios to the bare framework: the median of the round-by-round pairs, in brackets the interval for that median (lowest to highest pair); the A/A control (bare vs bare) shows the run\'s noise floor.')
    L.push('')
    L.push(row(['configuration', 'CPU µs/request', 'CPU/request vs bare', 'max req/s', 'req/s vs bare']))
    L.push(row(['---', '---:', '---:', '---:', '---:']))
    for (const g of results.overhead) {
      for (const r of g.rows) {
        L.push(row([r.baseline ? `**${r.label}**` : r.control ? `*${r.label}*` : r.label, fmt(r.usPerReq, 1), r.baseline ? '1' : ratio(r.cpuRatio), fmt(r.rps), r.baseline ? '1' : ratio(r.rpsRatio)]))
      }
    }
    L.push('')
  }
  if (results.probes?.length) {
    L.push(`Readiness probe at ${Math.round(options.probeLoadShare * 100)} % load with a ${options.probeCheckMs} ms check, p50 / p99: ` +
      results.probes.map((p) => `${p.label.replace(/^Fastify \+ /, '')} ${fmt(p.p50Ms, 1)} / ${fmt(p.p99Ms, 1)} ms${p.app ? ` (${fmt(p.p50VsApp, 2)} / ${fmt(p.p99VsApp, 2)} × the app route's ${fmt(p.app.p50Ms, 1)} / ${fmt(p.app.p99Ms, 1)} ms at the same moments)` : ''}${p.probeOnOwnPort ? ' (own port, no check)' : ''}`).join('; ') + '.')
    L.push('')
  }
  if (results.drain?.length) {
    L.push(row(['SIGTERM to exit (median ms)', 'idle', `${options.idleClients} idle keep-alive clients`]))
    L.push(row(['---', '---:', '---:']))
    for (const d of results.drain) L.push(row([d.label, fmt(d.scenarios.idle.medianMs), fmt(d.scenarios.clients.medianMs)]))
    L.push('')
  }
  const f = results.fleet
  if (f?.measured) {
    const parts = []
    if (f.router) parts.push(`router throughput vs one instance directly: l4 ${ratio(f.router.l4)}, l7 ${ratio(f.router.l7)} (the router shares the two cores with the instance and autocannon)`)
    if (f.rolling) parts.push(`rolling deploy 2→2 under load: ${fmt(f.rolling.durationMs)} ms, ${fmt(f.rolling.ratio, 2)} × the theoretical minimum, ${f.rolling.dropped} dropped`)
    L.push(`Fleet: ${parts.join('; ')}.`)
  } else {
    L.push('Fleet: not measured yet.')
  }
  L.push('')
  if (results.growth?.measured) {
    L.push('How cost grows:')
    L.push('')
    growthTables(results.growth, L)
  }
  L.push('Targets:')
  L.push('')
  L.push(row(['target', 'measured', 'limit', 'met']))
  L.push(row(['---', '---:', '---', '---']))
  for (const t of targets(results)) L.push(targetRow(t, 1))
  L.push('')
  missedProfiles(results, L)
  L.push('')
  return L.join('\n')
}
