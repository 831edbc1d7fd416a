// `npm run demo`: the same rolling deploy (v1 → v2, 3 replicas, under load) of the demo service
// twice — built on @zerodrop/lifecycle, then the naive variant that exits at once on SIGTERM — and
// the two outcomes side by side. `npm run demo` has built everything before this runs.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { deploy, formatReport } from '@zerodrop/fleet'

const server = fileURLToPath(new URL('../dist/server.js', import.meta.url))
if (!existsSync(server)) {
  console.error(`demo: expected the built demo service at ${server}, instead found nothing; run 'npm run demo' (it builds first)`)
  process.exit(64)
}

const controller = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => controller.abort(signal))

const common = {
  replicas: 3,
  router: 'l4',
  endpointDelayMs: 1000,
  rolling: { maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: 60 },
  probes: { common: { periodMs: 250 } },
  load: { connections: 50, rate: 300 },
  signal: controller.signal,
  onProgress: (e) => process.stderr.write(`  [${(e.t / 1000).toFixed(1).padStart(5)} s] ${e.message}\n`),
}

const env = 'DRAIN_DELAY_MS=2000 SHUTDOWN_TIMEOUT_MS=10000'
const runs = [
  {
    title: 'the demo service with @zerodrop/lifecycle (drains on SIGTERM)',
    short: 'lifecycle drain',
    from: `${env} APP_VERSION=v1 exec node ${server}`,
    to: `${env} APP_VERSION=v2 exec node ${server}`,
  },
  {
    title: 'the naive variant (NAIVE=1: exits at once on SIGTERM)',
    short: 'naive (NAIVE=1)',
    from: `${env} NAIVE=1 APP_VERSION=v1 exec node ${server}`,
    to: `${env} NAIVE=1 APP_VERSION=v2 exec node ${server}`,
  },
]

const reports = []
for (const [i, run] of runs.entries()) {
  console.log(`\n=== ${i + 1}/${runs.length}: rolling deploy of ${run.title}\n`)
  try {
    const report = await deploy({ ...common, from: run.from, to: run.to })
    reports.push(report)
    console.log(`\n${formatReport(report)}`)
  } catch (err) {
    console.error(`demo: the deploy failed: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(controller.signal.aborted ? 130 : 1)
  }
}

const rows = [
  ['verdict', (r) => r.verdict],
  ['requests through the router', (r) => String(r.load.requests)],
  ['dropped', (r) => String(r.dropped)],
  ['  lost / reset / refused / timeout', (r) => [r.accounting.lost, r.accounting.reset, r.accounting.refused, r.accounting.timeout].join(' / ')],
  ['  non-2xx', (r) => String(r.accounting.non2xx)],
  ['req/s through the router', (r) => r.load.rps.toFixed(0)],
  ['latency p50 / p99 (autocannon)', (r) => `${r.load.latencyMs.p50} / ${r.load.latencyMs.p99} ms`],
  ['rollout duration', (r) => `${(r.timing.rolloutDurationMs / 1000).toFixed(1)} s`],
  ['zerodrop exit code', (r) => String(r.exitCode)],
]
const width = Math.max(...rows.map(([label]) => label.length)) + 2
const col = 26
console.log(`\n=== side by side: the same rolling deploy, 3 replicas, l4 router, 1 s endpoint lag, ${common.load.rate} req/s\n`)
console.log(' '.repeat(width) + runs.map((r) => r.short.padEnd(col)).join(''))
for (const [label, cell] of rows) console.log(label.padEnd(width) + reports.map((r) => cell(r).padEnd(col)).join(''))
const [good, naive] = reports
console.log(
  `\n${good.dropped === 0 ? 'The draining service lost nothing' : `The draining service lost ${good.dropped} requests (unexpected)`}; ` +
    `the naive one lost ${naive.dropped} — ${naive.dropped > 0 ? 'the requests in flight or on their way when it died' : 'none this time (unexpected: the control should drop)'}.`,
)
process.exitCode = good.dropped === 0 && good.verdict === 'promoted' && naive.dropped > 0 ? 0 : 1
