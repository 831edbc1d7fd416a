// `npm run demo`: the demo service deployed v1 → v2 (3 replicas, under load) by each strategy —
// rolling, blue-green, canary — then the same rolling deploy of the naive variant that exits at
// once on SIGTERM, and a canary of a bad release (FAIL_RATE=0.1) that the analysis catches and
// rolls back; the outcomes side by side. `npm run demo` has built everything before this runs.
import { existsSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { boundWording, deploy, formatReport, writeHtml } from '@zerodrop/fleet'

const server = fileURLToPath(new URL('../dist/server.js', import.meta.url))
if (!existsSync(server)) {
  console.error(`demo: expected the built demo service at ${server}, instead found nothing; run 'npm run demo' (it builds first)`)
  process.exit(64)
}

// one report page per run (gitignored): ZERODROP_DEMO_REPORTS=DIR to put them elsewhere
const pagesDir = path.resolve(process.env.ZERODROP_DEMO_REPORTS ?? fileURLToPath(new URL('../../.zerodrop/demo/', import.meta.url)))
mkdirSync(pagesDir, { recursive: true })
const pages = []

const controller = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => controller.abort(signal))

const common = {
  replicas: 3,
  router: 'l4',
  endpointDelayMs: 1000,
  rolling: { maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: 60 },
  probes: { common: { periodMs: 250 } },
  load: { connections: 50, rate: 300 },
  // 1 % of ~340 req/s is ~3 req/s: 4 s windows hold enough requests to judge the first canary step
  analysis: { intervalMs: 4000, count: 2, minSamples: 10 },
  signal: controller.signal,
  onProgress: (e) => process.stderr.write(`  [${(e.t / 1000).toFixed(1).padStart(5)} s] ${e.message}\n`),
}

const env = 'DRAIN_DELAY_MS=1500 SHUTDOWN_TIMEOUT_MS=10000'
const good = (more = '') => ({ from: `${env} APP_VERSION=v1 exec node ${server}`, to: `${env} ${more} APP_VERSION=v2 exec node ${server}` })
const runs = [
  {
    title: 'rolling deploy of the demo service with @zerodrop/lifecycle (drains on SIGTERM)',
    short: 'rolling',
    ...good(),
    options: { strategy: 'rolling' },
    expected: (r) => r.verdict === 'promoted' && r.dropped === 0,
  },
  {
    title: 'rolling deploy of the naive variant (NAIVE=1: exits at once on SIGTERM)',
    short: 'rolling, naive',
    from: `${env} NAIVE=1 APP_VERSION=v1 exec node ${server}`,
    to: `${env} NAIVE=1 APP_VERSION=v2 exec node ${server}`,
    options: { strategy: 'rolling' },
    expected: (r) => r.dropped > 0,
  },
  {
    title: 'blue-green: green proven on the preview, switched, blue drained 5 s later (l7 router)',
    short: 'blue-green',
    ...good(),
    options: { strategy: 'blue-green', router: 'l7', blueGreen: { scaleDownDelaySeconds: 5 } },
    expected: (r) => r.verdict === 'promoted' && r.dropped === 0,
  },
  {
    title: 'canary 1 → 5 → 25 → 50 → 100 % with analysis after each weight (l7 router: exact shares)',
    short: 'canary',
    ...good(),
    options: { strategy: 'canary', router: 'l7' },
    expected: (r) => r.verdict === 'promoted' && r.dropped === 0,
  },
  {
    title: 'canary of a bad release (FAIL_RATE=0.1: 10 % of its answers are 500s), same ladder',
    short: 'canary, bad',
    ...good('FAIL_RATE=0.1'),
    options: { strategy: 'canary', router: 'l7' },
    expected: (r) => r.verdict === 'rolled-back' && r.dropped === 0 && r.progressive?.badRelease?.withinBound === true,
  },
]

const reports = []
for (const [i, run] of runs.entries()) {
  console.log(`\n=== ${i + 1}/${runs.length}: ${run.title}\n`)
  try {
    const report = await deploy({ ...common, ...run.options, from: run.from, to: run.to })
    reports.push(report)
    console.log(`\n${formatReport(report)}`)
    const page = path.join(pagesDir, `${i + 1}-${run.short.replace(/[^a-z0-9]+/g, '-')}.html`)
    writeHtml(page, report)
    pages.push(page)
    console.log(`page      ${page}`)
  } catch (err) {
    console.error(`demo: the deploy failed: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(controller.signal.aborted ? 130 : 1)
  }
}

const s = (ms) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`)
const rows = [
  ['router', (r) => r.parameters.router],
  ['verdict', (r) => r.verdict],
  ['requests through the router', (r) => String(r.load.requests)],
  ['dropped', (r) => String(r.dropped)],
  ['  lost / reset / refused / timeout', (r) => [r.accounting.lost, r.accounting.reset, r.accounting.refused, r.accounting.timeout].join(' / ')],
  ['  refused connections', (r) => String(r.accounting.refusedConnections ?? 0)],
  ['  non-2xx counted as drops', (r) => String(r.accounting.non2xx - (r.progressive?.badRelease?.failed ?? 0))],
  ['bad release: failed / bound', (r) => (r.progressive?.badRelease ? `${r.progressive.badRelease.failed} / ${r.progressive.badRelease.bound.toFixed(1)}` : '-')],
  ['time to detect', (r) => s(r.progressive?.detection?.detectionMs)],
  ['abort to 100 % stable', (r) => s(r.progressive?.detection?.abortToStableMs)],
  ['req/s through the router', (r) => r.load.rps.toFixed(0)],
  ['latency p50 / p99 (load generator)', (r) => `${r.load.latencyMs.p50} / ${r.load.latencyMs.p99} ms`],
  ['rollout duration', (r) => s(r.timing.rolloutDurationMs)],
  ['zerodrop exit code', (r) => String(r.exitCode)],
]
const width = Math.max(...rows.map(([label]) => label.length)) + 2
const col = 17
console.log(`\n=== side by side: 3 replicas, 1 s endpoint lag, ${common.load.rate} req/s\n`)
console.log(' '.repeat(width) + runs.map((r) => r.short.padEnd(col)).join(''))
for (const [label, cell] of rows) console.log(label.padEnd(width) + reports.map((r) => cell(r).padEnd(col)).join(''))
const [rollingGood, naive, , , bad] = reports
console.log(
  `\n${rollingGood.dropped === 0 ? 'The draining service lost nothing' : `The draining service lost ${rollingGood.dropped} requests (unexpected)`}; ` +
    `the naive one lost ${naive.dropped} — ${naive.dropped > 0 ? 'the requests in flight or on their way when it died' : 'none this time (unexpected: the control should drop)'}.`,
)
const b = bad.progressive?.badRelease
console.log(
  b
    ? `The bad canary was caught after ${s(bad.progressive.detection?.detectionMs)} and rolled back: ${boundWording(b)} (the bound: the gate's failure boundary where it decided, plus the last scrape batch, plus what was in flight when weight 0 took effect); nothing else was dropped (${bad.dropped}).`
    : `The bad canary was not caught by a failed analysis (${bad.verdict}: ${bad.reason ?? 'no reason'}).`,
)
console.log(`\nreport pages (open in a browser; no network needed):\n${pages.map((p, i) => `  ${runs[i].short.padEnd(16)} file://${p}`).join('\n')}`)
const ok = runs.every((run, i) => run.expected(reports[i]))
process.exitCode = ok ? 0 : 1
