// The fleet's router (@zerodrop/fleet createRouter) in its own process, one endpoint in its pool.
import os from 'node:os'
import { createRouter } from '@zerodrop/fleet'

const [mode, upstreamPort] = process.argv.slice(2)
const router = await createRouter({ mode, host: '127.0.0.1', port: 0 })
router.add({ id: 'i1', revision: 'v1', host: '127.0.0.1', port: Number(upstreamPort) })
process.on('message', (m) => {
  if (m?.cmd === 'stats') process.send({ id: m.id, result: router.stats() })
  // How cost grows (growth.mjs, --expose-gc): memory after a full collection, CPU so far.
  if (m?.cmd === 'memory') {
    globalThis.gc?.()
    globalThis.gc?.()
    process.send({ id: m.id, result: { ...process.memoryUsage(), gc: typeof globalThis.gc === 'function' } })
  }
  if (m?.cmd === 'cpu') {
    const cpu = process.cpuUsage()
    process.send({ id: m.id, result: { userUs: cpu.user, systemUs: cpu.system } })
  }
  // Under callgrind (--dump-before=uv_loadavg): dump the counters at a known request count.
  if (m?.cmd === 'mark') {
    os.loadavg()
    process.send({ id: m.id, result: true })
  }
})
process.send({ ready: true, port: router.port })
process.on('disconnect', () => process.exit(0))
