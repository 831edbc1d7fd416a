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

/**
 * Probe latency while the app route runs at `rate` req/s (paced). With `appUrl`, every probe is
 * paired with a request to the app route sent the same way (a new connection, right before or
 * after the probe, the order alternating), so both are measured at the same moment.
 */
async function probeUnderLoad({ url, rate, seconds, probeUrl, appUrl, probeIntervalMs = 20 }) {
  // Prime the probe path as the kubelet would have long before: the first check result.
  for (let i = 0; i < 3; i++) await probeOnce(probeUrl, 5000)
  if (appUrl) for (let i = 0; i < 3; i++) await probeOnce(appUrl, 5000)
  const load = rate > 0 ? paced({ url, rate, seconds }) : Promise.resolve(undefined)
  const lat = []
  const appLat = []
  const statuses = {}
  const appStatuses = {}
  // Start probing after the load has ramped up (all staggered instances running).
  await new Promise((r) => setTimeout(r, 1000))
  const until = performance.now() + (seconds - 1.5) * 1000
  const maxProbes = Math.ceil((seconds * 1000) / probeIntervalMs)
  while (performance.now() < until && lat.length < maxProbes) {
    const next = performance.now() + probeIntervalMs
    const appFirst = appUrl !== undefined && lat.length % 2 === 1
    if (appFirst) appLat.push(await probeOnce(appUrl, 5000))
    const r = await probeOnce(probeUrl, 5000)
    if (appUrl !== undefined && !appFirst) appLat.push(await probeOnce(appUrl, 5000))
    lat.push(r.ms)
    statuses[r.status] = (statuses[r.status] ?? 0) + 1
    const wait = next - performance.now()
    if (wait > 0) await new Promise((res) => setTimeout(res, wait))
  }
  const loadResult = await load
  lat.sort((a, b) => a - b)
  const app = appLat.map((a) => a.ms).sort((a, b) => a - b)
  for (const a of appLat) appStatuses[a.status] = (appStatuses[a.status] ?? 0) + 1
  return {
    probes: lat.length,
    statuses,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    maxMs: lat[lat.length - 1],
    ...(appUrl === undefined ? {} : { app: { requests: app.length, statuses: appStatuses, p50Ms: percentile(app, 50), p99Ms: percentile(app, 99), maxMs: app.at(-1), sortedMs: app } }),
    sortedMs: lat,
    load: loadResult,
  }
}

// Idle keep-alive clients for the drain benchmark (and the growth section's connection counts).
let idleAgent
let idleUrl
let idleClosed = 0
let idleSockets = new WeakSet()
/**
 * Opens `n` keep-alive connections, one request each, `batch` at a time (all at once by
 * default; thousands at once would overflow the listen backlog and wait for SYN retries).
 */
async function openIdle({ url, n, batch = n }) {
  idleAgent?.destroy()
  idleClosed = 0
  idleUrl = checkUrl(url)
  // fifo: a later request takes the socket idle the longest, so paced requests go round the pool
  idleAgent = new http.Agent({ keepAlive: true, maxSockets: n, maxFreeSockets: n, keepAliveMsecs: 60_000, timeout: 0, scheduling: 'fifo' })
  const sockets = new Set()
  idleSockets = new WeakSet()
  // Each response is read only once every connection is open: until then its socket stays busy,
  // so the agent cannot hand it to a later batch and every request opens a connection of its own.
  const unread = []
  const one = () => new Promise((resolve, reject) => {
    const req = http.get(idleUrl, { agent: idleAgent }, (res) => {
      req.setTimeout(0)
      sockets.add(res.socket)
      idleSockets.add(res.socket)
      res.socket.once('close', () => idleClosed++)
      unread.push(new Promise((r) => res.on('end', r)))
      resolve(res)
    })
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')))
    req.on('error', reject)
  })
  const responses = []
  for (let done = 0; done < n; done += batch) responses.push(...await Promise.all(Array.from({ length: Math.min(batch, n - done) }, one)))
  for (const res of responses) res.resume()
  await Promise.all(unread)
  // Every answered request left its socket idle in the agent's free pool.
  let free = 0
  for (const list of Object.values(idleAgent.freeSockets)) free += list.length
  return { opened: sockets.size, idle: free }
}

/**
 * `rate` req/s for `seconds` over the connections openIdle opened (bounded: rate × seconds
 * requests, 10 s timeout each). `newSockets` counts connections opened besides them.
 */
async function pacedIdle({ rate, seconds }) {
  if (idleAgent === undefined) throw new Error('pacedIdle needs the connections of openIdle first')
  const total = Math.round(rate * seconds)
  const lat = []
  let sent = 0
  let ok = 0
  let failed = 0
  let newSockets = 0
  let settled = 0
  const t0 = performance.now()
  await new Promise((resolve) => {
    const finish = () => {
      if (++settled === total) resolve()
    }
    const one = () => {
      const t = performance.now()
      const req = http.get(idleUrl, { agent: idleAgent }, (res) => {
        res.resume()
        res.on('end', () => {
          if (res.statusCode >= 200 && res.statusCode < 300) ok++
          else failed++
          lat.push(performance.now() - t)
          finish()
        })
      })
      // a socket openIdle did not open (req.reusedSocket is false for a request that waited for a busy one)
      req.once('socket', (socket) => {
        if (!idleSockets.has(socket)) {
          idleSockets.add(socket)
          newSockets++
        }
      })
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')))
      req.on('error', () => {
        failed++
        finish()
      })
    }
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate))
      while (sent < due) {
        sent++
        one()
      }
      if (sent >= total) clearInterval(timer)
    }, 5)
  })
  lat.sort((a, b) => a - b)
  return { sent, ok, failed, newSockets, durationS: (performance.now() - t0) / 1000, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99) }
}

/** Waits (at most `timeoutMs`) until `n` of openIdle's connections have closed; returns how many have. */
async function idleClosedCount({ n, timeoutMs = 2000 }) {
  const until = performance.now() + timeoutMs
  while (idleClosed < n && performance.now() < until) await new Promise((r) => setTimeout(r, 10))
  return { closed: idleClosed }
}

function closeIdle() {
  const closedByServer = idleClosed
  idleAgent?.destroy()
  idleAgent = undefined
  return { closedByServer }
}

const handlers = { saturate, paced, probeUnderLoad, openIdle, pacedIdle, idleClosedCount, closeIdle }

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
