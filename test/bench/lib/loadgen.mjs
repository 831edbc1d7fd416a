// The load generator: a long-lived child process (pinned to its own CPU by the harness) that
// runs autocannon and the probe / idle-client loops on command over IPC. Loopback only.
import http from 'node:http'
import autocannon from 'autocannon'

const LOOPBACK = new Set(['127.0.0.1', '[::1]', '::1', 'localhost'])

function checkUrl(url) {
  const u = new URL(url)
  if (!LOOPBACK.has(u.hostname)) throw new Error(`bench traffic goes to loopback only, instead got host '${u.hostname}'`)
  return url
}

function cannon(opts) {
  return new Promise((resolve, reject) => {
    autocannon({ ...opts, url: checkUrl(opts.url) }, (err, result) => (err ? reject(err) : resolve(result)))
  })
}

function summary(r) {
  return {
    ok: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    durationS: r.duration,
    rps: r['2xx'] / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
  }
}

/** Saturating load: `connections` keep-alive connections, each sends as soon as it is answered. */
async function saturate({ url, connections, seconds }) {
  return summary(await cannon({ url, connections, duration: seconds, timeout: 10 }))
}

/**
 * A steady request rate below saturation. autocannon's rate limiter is a per-second quota per
 * connection (all requests at the start of each second), so one instance would hit the server
 * with a burst at every second. `instances` autocannon instances with 2 connections each,
 * started 1000/instances ms apart, spread the quota over the second.
 */
async function paced({ url, rate, seconds, instances = 20 }) {
  const per = Math.max(2, Math.round(rate / instances))
  const started = performance.now()
  const runs = []
  // Bounded in time, not in count: on a busy machine fewer requests go out, and the CPU per
  // request is still the server's CPU time over the responses it sent.
  for (let i = 0; i < instances; i++) {
    // starts spread over one second (over the whole run when it is shorter)
    runs.push(new Promise((r) => setTimeout(r, (i * Math.min(1000, seconds * 1000)) / instances)).then(() =>
      cannon({ url, connections: 2, overallRate: per, duration: seconds, timeout: 10 })))
  }
  const results = await Promise.all(runs)
  const out = { ok: 0, non2xx: 0, errors: 0, timeouts: 0, target: per * instances }
  for (const r of results) {
    out.ok += r['2xx']
    out.non2xx += r.non2xx
    out.errors += r.errors
    out.timeouts += r.timeouts
  }
  out.durationS = (performance.now() - started) / 1000
  // each instance ran `seconds`; the staggered starts add up to one second to the wall time
  out.rps = out.ok / seconds
  return out
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

/** One probe like the kubelet sends it: a new connection, GET, read the whole answer. */
function probeOnce(url, timeoutMs) {
  return new Promise((resolve) => {
    const t0 = performance.now()
    const req = http.get(checkUrl(url), { agent: false, timeout: timeoutMs, headers: { 'user-agent': 'kube-probe/1.31' } }, (res) => {
      res.resume()
      res.on('end', () => resolve({ ms: performance.now() - t0, status: res.statusCode }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (err) => resolve({ ms: performance.now() - t0, status: 0, error: err.code ?? err.message }))
  })
}

/** Probe latency while the app route runs at `rate` req/s (paced). */
async function probeUnderLoad({ url, rate, seconds, probeUrl, probeIntervalMs = 20 }) {
  // Prime the probe path as the kubelet would have long before: the first check result.
  for (let i = 0; i < 3; i++) await probeOnce(probeUrl, 5000)
  const load = rate > 0 ? paced({ url, rate, seconds }) : Promise.resolve(undefined)
  const lat = []
  const statuses = {}
  // Start probing after the load has ramped up (all staggered instances running).
  await new Promise((r) => setTimeout(r, 1000))
  const until = performance.now() + (seconds - 1.5) * 1000
  const maxProbes = Math.ceil((seconds * 1000) / probeIntervalMs)
  while (performance.now() < until && lat.length < maxProbes) {
    const next = performance.now() + probeIntervalMs
    const r = await probeOnce(probeUrl, 5000)
    lat.push(r.ms)
    statuses[r.status] = (statuses[r.status] ?? 0) + 1
    const wait = next - performance.now()
    if (wait > 0) await new Promise((res) => setTimeout(res, wait))
  }
  const loadResult = await load
  lat.sort((a, b) => a - b)
  return {
    probes: lat.length,
    statuses,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    maxMs: lat[lat.length - 1],
    load: loadResult,
  }
}

// Idle keep-alive clients for the drain benchmark.
let idleAgent
let idleClosed = 0
async function openIdle({ url, n }) {
  idleAgent?.destroy()
  idleClosed = 0
  idleAgent = new http.Agent({ keepAlive: true, maxSockets: n, maxFreeSockets: n, keepAliveMsecs: 60_000, timeout: 0 })
  const sockets = new Set()
  await Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const req = http.get(checkUrl(url), { agent: idleAgent }, (res) => {
      sockets.add(res.socket)
      res.socket.once('close', () => idleClosed++)
      res.resume()
      res.on('end', resolve)
    })
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')))
    req.on('error', reject)
  })))
  // Every answered request left its socket idle in the agent's free pool.
  let free = 0
  for (const list of Object.values(idleAgent.freeSockets)) free += list.length
  return { opened: sockets.size, idle: free }
}

function closeIdle() {
  const closedByServer = idleClosed
  idleAgent?.destroy()
  idleAgent = undefined
  return { closedByServer }
}

const handlers = { saturate, paced, probeUnderLoad, openIdle, closeIdle }

process.on('message', async (msg) => {
  const { id, cmd, args } = msg
  try {
    const fn = handlers[cmd]
    if (fn === undefined) throw new Error(`unknown loadgen command '${cmd}'`)
    process.send({ id, result: await fn(args ?? {}) })
  } catch (err) {
    process.send({ id, error: err instanceof Error ? err.stack : String(err) })
  }
})
process.on('disconnect', () => process.exit(0))
process.send({ ready: true })
