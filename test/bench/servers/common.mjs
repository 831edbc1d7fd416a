// Shared by every bench server: the IPC protocol (CPU readings, ready message), the app
// route's payload and the readiness check. Each server runs in its own process.

/** The application route answers this; a hello-world route is the worst case for overhead. */
export const PAYLOAD = Object.freeze({ hello: 'world' })

/** Drain delay given to every library that has one (zerodrop, terminus, lightship). */
export const DRAIN_DELAY_MS = Number(process.env.DRAIN_DELAY_MS ?? 1000)

/** How long the readiness check takes; 0 = no check. */
export const CHECK_MS = Number(process.env.CHECK_MS ?? 0)

/** A readiness check standing in for a dependency ping that takes CHECK_MS. */
export function dependencyCheck() {
  return new Promise((resolve) => setTimeout(resolve, CHECK_MS))
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

let session
// Collections seen in the current instruction-count window (reported by 'mark'), from
// perf_hooks 'gc' entries; observed only under the instruction count (ZERODROP_BENCH_GC_COUNT=1).
const gcCounts = { minor: 0, major: 0, incremental: 0, weakcb: 0 }
if (process.env.ZERODROP_BENCH_GC_COUNT === '1') {
  const { PerformanceObserver, constants } = await import('node:perf_hooks')
  const kinds = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
  }
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcCounts[kinds[e.detail?.kind] ?? 'minor']++
  }).observe({ entryTypes: ['gc'] })
}
process.on('message', async (m) => {
  if (m?.cmd === 'cpu') {
    const cpu = process.cpuUsage()
    process.send({ id: m.id, result: { userUs: cpu.user, systemUs: cpu.system, rssBytes: process.memoryUsage.rss() } })
  } else if (m?.cmd === 'memory') {
    // How cost grows (growth.mjs): the server runs with --expose-gc, so the heap is read after
    // a full collection and counts what is still referenced, not garbage awaiting collection.
    globalThis.gc?.()
    globalThis.gc?.()
    process.send({ id: m.id, result: { ...process.memoryUsage(), gc: typeof globalThis.gc === 'function' } })
  } else if (m?.cmd === 'mark') {
    // Instruction counts: the server runs under callgrind with --dump-before=uv_loadavg, so this
    // call dumps (and zeroes) the counters at a known request count. Nothing else here calls it.
    // No collection is forced here: two gc() calls between windows threw the servers' optimized
    // code away (the next window ran in Sparkplug code, 2.5 × the count; test/bench/README.md).
    ;(await import('node:os')).loadavg()
    // GC entries are delivered asynchronously: let the window's last ones arrive before reading them
    await sleep(20)
    const window = { ...gcCounts }
    for (const k of Object.keys(gcCounts)) gcCounts[k] = 0
    process.send({ id: m.id, result: { gc: window } })
  } else if (m?.cmd === 'profile-start') {
    // Steady-state CPU profile for profile.mjs (startup excluded); inspector loaded only when asked.
    const { Session } = await import('node:inspector')
    session = new Session()
    session.connect()
    const post = (method, params) => new Promise((res, rej) => session.post(method, params, (err, r) => (err ? rej(err) : res(r))))
    await post('Profiler.enable')
    await post('Profiler.setSamplingInterval', { interval: m.args?.intervalUs ?? 100 })
    await post('Profiler.start')
    process.send({ id: m.id, result: true })
  } else if (m?.cmd === 'profile-stop') {
    session.post('Profiler.stop', (err, r) => {
      if (err) return process.send({ id: m.id, error: String(err) })
      import('node:fs').then((fs) => {
        fs.writeFileSync(m.args.file, JSON.stringify(r.profile))
        session.disconnect()
        process.send({ id: m.id, result: m.args.file })
      })
    })
  }
})

/**
 * Tells the harness the server listens. `probe` says where readiness is served
 * ({ port, path }), when the configuration has a readiness probe.
 */
export function ready(port, probe) {
  process.send({ ready: true, port, probe })
  // The IPC channel must not keep the process alive: drain timings measure a natural exit.
  process.channel?.unref()
}

export function portOf(server) {
  return server.address().port
}
