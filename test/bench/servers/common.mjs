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

process.on('message', (m) => {
  if (m?.cmd === 'cpu') {
    const cpu = process.cpuUsage()
    process.send({ id: m.id, result: { userUs: cpu.user, systemUs: cpu.system, rssBytes: process.memoryUsage.rss() } })
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
