// `npm run screenshot`: the README's picture of a report, from a real run. The demo's bad canary
// (FAIL_RATE=0.1: 10 % of v2's answers are 500s) is deployed 10 → 25 → 50 → 100 % under load (the
// demo starts at 1 %, a sliver too thin to see in a picture), the analysis catches it and rolls it back; its page is opened in Debian's Chromium (playwright-core, no
// browser download) and the top of it — verdict, accounting, timeline — saved as
// docs/images/report-canary.png. Prints the report's sizes and how long the page took to load.
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { chromium } from 'playwright-core'
import { deploy, parseStepsFlag, renderHtml } from '@zerodrop/fleet'

const root = fileURLToPath(new URL('../../', import.meta.url))
// relative, so the picture shows the command a reader would type, not this machine's path
process.chdir(root)
const server = 'demo/dist/server.js'
if (!existsSync(server)) {
  console.error(`screenshot: expected the built demo service at ${server}, instead found nothing; run 'npm run screenshot' (it builds first)`)
  process.exit(64)
}
const executablePath = process.env.ZERODROP_CHROMIUM ?? '/usr/bin/chromium'
if (!existsSync(executablePath)) {
  console.error(`screenshot: expected Chromium at ${executablePath}, instead found nothing; apt-get install chromium (or bash .ci/chromium.sh), or set ZERODROP_CHROMIUM`)
  process.exit(64)
}
const out = path.resolve(process.argv[2] ?? path.join(root, 'docs/images/report-canary.png'))

const controller = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => controller.abort(signal))

const env = 'DRAIN_DELAY_MS=1500 SHUTDOWN_TIMEOUT_MS=10000'
// the demo's settings (demo/scripts/demo.mjs) for the canary of the bad release
const report = await deploy({
  strategy: 'canary',
  router: 'l7',
  replicas: 3,
  endpointDelayMs: 1000,
  rolling: { maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: 60 },
  probes: { common: { periodMs: 250 } },
  load: { connections: 50, rate: 300 },
  analysis: { intervalMs: 4000, count: 2, minSamples: 10 },
  canary: { steps: parseStepsFlag('10,25,50,100') },
  from: `${env} APP_VERSION=v1 exec node ${server}`,
  to: `${env} FAIL_RATE=0.1 APP_VERSION=v2 exec node ${server}`,
  signal: controller.signal,
  onProgress: (e) => process.stderr.write(`  [${(e.t / 1000).toFixed(1).padStart(5)} s] ${e.message}\n`),
})
if (report.verdict !== 'rolled-back') {
  console.error(`screenshot: expected the bad canary to be rolled back, instead it was ${report.verdict} (${report.reason ?? 'no reason'}); not replacing the picture`)
  process.exit(1)
}

const work = mkdtempSync(path.join(os.tmpdir(), 'zerodrop-screenshot-'))
try {
  const html = path.join(work, 'report.html')
  const json = JSON.stringify(report, null, 2)
  writeFileSync(html, renderHtml(report))
  const context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1180, height: 900 },
    deviceScaleFactor: 1,
  })
  try {
    const page = await context.newPage()
    const errors = []
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
    const started = performance.now()
    await page.goto(pathToFileURL(html).href, { waitUntil: 'load' })
    const loadMs = performance.now() - started
    if (errors.length > 0) throw new Error(`the page logged errors: ${errors.join('; ')}`)
    // the top of the page down to the end of the timeline
    const last = page.locator('#chart-analysis-p99, #chart-instances').last()
    const box = await last.boundingBox()
    mkdirSync(path.dirname(out), { recursive: true })
    await page.screenshot({ path: out, fullPage: true, clip: { x: 0, y: 0, width: 1180, height: Math.ceil((box?.y ?? 880) + (box?.height ?? 0) + 12) } })
    console.log(
      `screenshot ${out} (${statSync(out).size} bytes)\n` +
        `report    ${report.verdict}, ${report.dropped} dropped, ${report.failures.records.length} failure records; JSON ${Buffer.byteLength(json)} bytes, page ${statSync(html).size} bytes\n` +
        `render    ${loadMs.toFixed(0)} ms from navigation to the load event in headless Chromium`,
    )
  } finally {
    await context.close()
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
