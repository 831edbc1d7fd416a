import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { chromium, type BrowserContext } from 'playwright-core'
import { DEMO as DEMO_SERVER, killAll, startFixture } from '../helpers/process.js'
import { describeWithTool } from '../helpers/tools.js'

// Real deploys through the CLI, their pages opened in Debian's Chromium (no browser download):
// the page loads from file:// with no console error and no request, its charts are drawn, a
// naive rollout's drops are marked and a draining one has none. Screenshots go to
// test/artifacts/ (gitignored) for a person to look at.

const CLI = fileURLToPath(new URL('../../packages/fleet/bin/zerodrop.js', import.meta.url))
const DEMO = fileURLToPath(new URL('../../demo/dist/server.js', import.meta.url))
const ARTIFACTS = fileURLToPath(new URL('../artifacts/report-page/', import.meta.url))
const CHROMIUM = process.env.ZERODROP_CHROMIUM ?? '/usr/bin/chromium'
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']

const env = 'DRAIN_DELAY_MS=1000 SHUTDOWN_TIMEOUT_MS=10000'
const revision = (v: string, more = ''): string => `${env} ${more} APP_VERSION=${v} exec node ${DEMO}`

interface Run {
  readonly code: number | null
  readonly stderr: string
  readonly html: string
  readonly junit: string
  readonly markdown: string
  readonly json: { dropped: number; failures: { records: Array<{ cause: string; revision: string; instance?: string }> }; events: Array<{ instance: string; event: string }> }
}

let dir: string
let summary: string
let context: BrowserContext | undefined

/** Runs the CLI with `args` (reports under `name.*` in the test's folder); what it wrote, or why not. */
function runCli(name: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const file = (ext: string): string => path.join(dir, `${name}.${ext}`)
  const outputs = ['--html', file('html'), '--junit', file('xml'), '--markdown', file('md'), '--json', file('json'), '--quiet']
  const dash = args.indexOf('--')
  const argv = dash < 0 ? [CLI, ...args, ...outputs] : [CLI, ...args.slice(0, dash), ...outputs, ...args.slice(dash)]
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TMPDIR: dir, ...env } })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGINT'), 90_000)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(timer)
      try {
        resolve({
          code,
          stderr,
          html: file('html'),
          junit: fs.readFileSync(file('xml'), 'utf8'),
          markdown: fs.readFileSync(file('md'), 'utf8'),
          json: JSON.parse(fs.readFileSync(file('json'), 'utf8')) as Run['json'],
        })
      } catch (err) {
        reject(new Error(`${name}: zerodrop ${args[0] ?? ''} (exit ${String(code)}) did not write its reports: ${(err as Error).message}\n${stderr}`))
      }
    })
  })
}

function deploy(name: string, more: string, env: Record<string, string> = {}): Promise<Run> {
  return runCli(name, [
    'deploy', '--strategy', 'rolling', '--replicas', '2', '--max-surge', '1', '--max-unavailable', '0', '--probe-period-ms', '250',
    '--rate', '200', '--connections', '20', '--lead-ms', '1000', '--tail-ms', '1000',
    '--from', revision('v1', more), '--to', revision('v2', more),
  ], env)
}

const lanes = (run: Run): number => new Set(run.json.events.map((e) => e.instance)).size

/** `zerodrop verify` against one demo server while `command` runs. */
function verifyRun(name: string, url: string, command: string[]): Promise<Run> {
  return runCli(name, ['verify', '--url', url, '--lead-ms', '500', '--tail-ms', '500', '--rate', '100', '--', ...command])
}

interface PageCheck {
  readonly consoleErrors: string[]
  readonly requests: string[]
  readonly counts: Record<string, number>
  readonly renderMs: number
}

async function openPage(run: Run, shot: string): Promise<PageCheck> {
  if (context === undefined) throw new Error('no browser')
  const page = await context.newPage()
  const consoleErrors: string[] = []
  const requests: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(m.text())
  })
  page.on('pageerror', (e) => consoleErrors.push(e.message))
  page.on('request', (r) => requests.push(r.url()))
  const started = performance.now()
  await page.goto(pathToFileURL(run.html).href, { waitUntil: 'load' })
  const renderMs = performance.now() - started
  const counts: Record<string, number> = {}
  for (const sel of ['#verdict', '#accounting', '#chart-rps', '#chart-rps rect.rps', '#chart-failures', '#chart-failures .drop-mark', '#chart-share', '#chart-share polyline.observed', '#chart-instances', '#chart-instances g.lane', '#chart-instances rect.state', '#chart-instances .mark.sigterm']) {
    counts[sel] = await page.locator(sel).count()
  }
  // drawn, not just present: the charts have a size on the page
  const box = await page.locator('#chart-rps').boundingBox()
  counts['rps width'] = Math.round(box?.width ?? 0)
  fs.mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: path.join(ARTIFACTS, shot), fullPage: true })
  await page.close()
  return { consoleErrors, requests, counts, renderMs }
}

describeWithTool('chromium', 'the report page of a real deploy in headless Chromium', () => {
  let naive: Run
  let clean: Run

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-report-page-'))
    summary = path.join(dir, 'step-summary.md')
    fs.writeFileSync(summary, '# earlier step\n')
    naive = await deploy('naive', 'NAIVE=1', { GITHUB_STEP_SUMMARY: summary })
    clean = await deploy('clean', '')
    context = await chromium.launchPersistentContext(path.join(dir, 'profile'), { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1200, height: 900 } })
  }, 240_000)

  afterAll(async () => {
    await killAll()
    await context?.close()
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })

  it('a naive rollout: exit 1 (the report files do not change it), every drop recorded with its instance', () => {
    expect(naive.code, naive.stderr).toBe(1)
    expect(naive.json.dropped).toBeGreaterThan(0)
    const recorded = naive.json.failures.records.length
    expect(recorded).toBeGreaterThan(0)
    // each on the instance it happened on, or on no instance when the pool was empty
    for (const r of naive.json.failures.records) expect(r.instance ?? r.revision).toMatch(/^(v[12]-\d+|\(none\))$/)
  })

  it('its page: no console error, no request, the charts drawn, drop marks present', async () => {
    const p = await openPage(naive, 'naive-rolling.png')
    console.log(`report page (naive rolling, ${fs.statSync(naive.html).size} bytes): loaded in ${p.renderMs.toFixed(0)} ms; ${JSON.stringify(p.counts)}`)
    expect(p.consoleErrors).toEqual([])
    expect(p.requests).toEqual([pathToFileURL(naive.html).href])
    expect(p.counts['#chart-rps rect.rps']).toBeGreaterThan(3)
    expect(p.counts['#chart-share polyline.observed']).toBe(1)
    // one lane per instance the report knows, a SIGTERM mark for each SIGTERM (the stop check adds one of v2)
    expect(p.counts['#chart-instances g.lane']).toBe(lanes(naive))
    expect(p.counts['#chart-instances .mark.sigterm']).toBe(naive.json.events.filter((e) => e.event === 'sigterm').length)
    expect(p.counts['#chart-instances .mark.sigterm']).toBeGreaterThanOrEqual(2)
    expect(p.counts['#chart-failures .drop-mark']).toBeGreaterThan(0)
    expect(p.counts['rps width']).toBeGreaterThan(500)
  })

  it('a draining rollout: exit 0, and its page has the same charts and no drop mark', async () => {
    expect(clean.code, clean.stderr).toBe(0)
    expect(clean.json.dropped).toBe(0)
    const p = await openPage(clean, 'clean-rolling.png')
    console.log(`report page (clean rolling, ${fs.statSync(clean.html).size} bytes): loaded in ${p.renderMs.toFixed(0)} ms`)
    expect(p.consoleErrors).toEqual([])
    expect(p.counts['#chart-rps rect.rps']).toBeGreaterThan(3)
    expect(p.counts['#chart-instances g.lane']).toBe(lanes(clean))
    expect(p.counts['#chart-failures']).toBe(1)
    expect(p.counts['#chart-failures .drop-mark']).toBe(0)
  })

  it('the JUnit file of each parses, with a failing "zero requests dropped" naming the instances for the naive one', () => {
    for (const run of [naive, clean]) expect(XMLValidator.validate(run.junit)).toBe(true)
    const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'testsuite' || name === 'testcase' })
    const doc = parser.parse(naive.junit) as { testsuites: { testsuite: Array<{ tests: string; failures: string; testcase: Array<{ name: string; failure?: { message: string; type: string } }> }> } }
    const suite = doc.testsuites.testsuite[0]
    const drop = suite?.testcase.find((c) => c.name === 'zero requests dropped')
    expect(drop?.failure?.type).toBe('dropped')
    expect(drop?.failure?.message).toMatch(new RegExp(`^${naive.json.dropped} dropped`))
    expect(drop?.failure?.message).toMatch(/ on v1-\d \(v1\)/)
    const ok = (parser.parse(clean.junit) as typeof doc).testsuites.testsuite[0]
    expect(ok?.failures).toBe('0')
  })

  it('the Markdown summary is written, and appended to $GITHUB_STEP_SUMMARY after what was there', () => {
    expect(naive.markdown).toMatch(/^### zerodrop deploy: rolling v1 → v2: PROMOTED, \d+ dropped/)
    const s = fs.readFileSync(summary, 'utf8')
    expect(s.startsWith('# earlier step\n')).toBe(true)
    expect(s).toContain(naive.markdown.trim())
  })

  it('zerodrop verify: a page and a JUnit file too; drop marks when the service dies under the load, none when it stays', async () => {
    const steady = await startFixture(DEMO_SERVER)
    const calm = await verifyRun('verify-calm', `${steady.url}/`, ['true'])
    expect(calm.code, calm.stderr).toBe(0)
    const naive = await startFixture(DEMO_SERVER, { NAIVE: '1' })
    // the command is the "rollout": it stops the only instance, which exits at once
    const dies = await verifyRun('verify-dies', `${naive.url}/`, ['kill', '-TERM', String(naive.child.pid)])
    expect(dies.code, dies.stderr).toBe(1)
    const calmPage = await openPage(calm, 'verify-calm.png')
    const diesPage = await openPage(dies, 'verify-dies.png')
    for (const p of [calmPage, diesPage]) {
      expect(p.consoleErrors).toEqual([])
      expect(p.counts['#chart-rps rect.rps']).toBeGreaterThan(0)
    }
    expect(calmPage.counts['#chart-failures .drop-mark']).toBe(0)
    expect(diesPage.counts['#chart-failures .drop-mark']).toBeGreaterThan(0)
    expect(XMLValidator.validate(dies.junit)).toBe(true)
    expect(dies.junit).toMatch(/<testcase name="zero requests dropped"[^>]*>\s*<failure message="[1-9]\d* dropped, \d+ requests \(/)
    expect(calm.junit).toMatch(/failures="0"/)
  }, 60_000)
})
