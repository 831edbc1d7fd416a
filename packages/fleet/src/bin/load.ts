/**
 * The fleet's load (its paced keep-alive generator, honouring `Connection: close`, plus exact
 * closed-loop clients) as a standalone process, for docker-compose.yml's `load` service. It runs
 * until SIGTERM/SIGINT (or LOAD_SECONDS), then stops gracefully — every outstanding request
 * finishes — and prints one JSON line: the generator's counts and latency (`generator`, and the
 * same in the former `autocannon` section's shape) and the exact clients' counts.
 *
 * Env: LOAD_URL (default http://127.0.0.1:3100/), LOAD_CONNECTIONS (8), LOAD_RATE (200 req/s),
 * LOAD_EXACT_CLIENTS (4), LOAD_SECONDS (upper bound, default 300).
 */
import { startLoad } from '../load/load.js'
import { resolveDeployOptions } from '../options/deploy.js'

function num(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`load: bad configuration: ${name} must be a number >= 0, instead got '${raw}'\n`)
    process.exit(64)
  }
  return n
}

const log = (o: object, msg: string): void => {
  process.stderr.write(JSON.stringify({ level: 'info', time: Date.now(), component: 'load', ...o, msg }) + '\n')
}

const url = process.env.LOAD_URL || 'http://127.0.0.1:3100/'
const maxMs = num('LOAD_SECONDS', 300) * 1000
// the fleet's own option validation, so the load behaves exactly as in `zerodrop deploy`
const { load } = resolveDeployOptions({
  from: 'load',
  to: 'load-next',
  load: {
    connections: num('LOAD_CONNECTIONS', 8),
    rate: num('LOAD_RATE', 200),
    exactClients: num('LOAD_EXACT_CLIENTS', 4),
    path: new URL(url).pathname,
  },
})
const running = await startLoad(url, load, maxMs + 60_000)
log({ url, connections: load.connections, rate: load.rate, exactClients: load.exactClients }, 'load started')
let stopping = false
const stop = async (reason: string): Promise<void> => {
  if (stopping) return
  stopping = true
  log({ reason, elapsedMs: running.elapsed() }, 'stopping load gracefully')
  const result = await running.stop()
  process.stdout.write(JSON.stringify(result) + '\n')
  process.exit(0)
}
const timer = setTimeout(() => void stop('LOAD_SECONDS'), maxMs)
timer.unref()
process.once('SIGTERM', () => void stop('SIGTERM'))
process.once('SIGINT', () => void stop('SIGINT'))
