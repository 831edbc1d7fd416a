import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { deployChecks } from '#fleet/report/checks.js'
import { renderHtml } from '#fleet/report/html.js'
import { deploySuite, errorSuite, renderJUnit } from '#fleet/report/junit.js'
import { appendStepSummary, renderMarkdown } from '#fleet/report/markdown.js'
import { deployViews, writeOutputs } from '#fleet/report/outputs.js'
import { boundWording } from '#fleet/report/progressive.js'
import { formatReport, type Report } from '#fleet/report/report.js'

// Reports of real deploys (the CLI's --json), rendered each way: a naive rolling deploy that
// dropped requests, a draining one that dropped none, a canary of a bad release rolled back.
const fixture = (name: string): Report => JSON.parse(fs.readFileSync(new URL(`fixtures/report-${name}.json`, import.meta.url), 'utf8')) as Report
const naive = fixture('naive-rolling')
const clean = fixture('clean-rolling')
const bad = fixture('bad-canary')

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'testsuite' || name === 'testcase' })
interface Doc {
  testsuites: {
    tests: string
    failures: string
    errors: string
    testsuite: Array<{ name: string; tests: string; failures: string; errors: string; time: string; testcase: Array<{ name: string; failure?: { message: string; type: string; '#text'?: string }; error?: { message: string } }> }>
  }
}
const parse = (xml: string): Doc => {
  expect(XMLValidator.validate(xml)).toBe(true)
  return parser.parse(xml) as Doc
}

let dir: string | undefined
afterEach(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

describe('JUnit XML', () => {
  it('one suite per deploy, one case per check, counts that add up', () => {
    const doc = parse(renderJUnit([deploySuite(naive), deploySuite(clean), deploySuite(bad)]))
    const suites = doc.testsuites.testsuite
    expect(suites).toHaveLength(3)
    let tests = 0
    let failures = 0
    for (const s of suites) {
      expect(Number(s.tests)).toBe(s.testcase.length)
      expect(Number(s.failures)).toBe(s.testcase.filter((c) => c.failure).length)
      expect(Number(s.time)).toBeGreaterThan(0)
      tests += s.testcase.length
      failures += Number(s.failures)
    }
    expect(Number(doc.testsuites.tests)).toBe(tests)
    expect(Number(doc.testsuites.failures)).toBe(failures)
    expect(suites[1]?.failures).toBe('0')
  })

  it('a failing "zero requests dropped" names how many, by cause, and on which instance', () => {
    const s = parse(renderJUnit([deploySuite(naive)])).testsuites.testsuite[0]
    const c = s?.testcase.find((x) => x.name === 'zero requests dropped')
    expect(c?.failure?.type).toBe('dropped')
    expect(c?.failure?.message).toMatch(new RegExp(`^${naive.dropped} dropped, ${naive.accounting.requests} requests \\(`))
    expect(c?.failure?.message).toMatch(/: \d+ × (refused connection|refused|reset|lost|timeout) on v1-\d \(v1\) [+−]\d+\.\d s/)
    expect(c?.failure?.['#text']).toContain('on v1-')
  })

  it('a rolled-back canary: promoted and its analysis fail, zero dropped passes, the bad release is held to its bound', () => {
    const cases = parse(renderJUnit([deploySuite(bad)])).testsuites.testsuite[0]?.testcase ?? []
    const byName = new Map(cases.map((c) => [c.name, c]))
    expect(byName.get('zero requests dropped')?.failure).toBeUndefined()
    expect(byName.get('promoted')?.failure?.type).toBe('rolled-back')
    const analyses = cases.filter((c) => c.name.startsWith('analysis: '))
    expect(analyses.length).toBeGreaterThan(0)
    expect(analyses.at(-1)?.failure?.type).toBe('analysis-failed')
    expect(byName.get('blast radius of v2 within its bound')).toBeDefined()
  })

  it('the stop check: a failing one names what the instance did; one that did not run is skipped', () => {
    const stop = (verdict: string, detail: string): Report => ({
      ...clean,
      stopCheck: { verdict, detail, instance: 'v2-0', replacement: 'v2-3', sigtermAt: 9000, exitedAfterMs: 30_000, code: null, signal: 'SIGKILL', killed: true, endpointDelayMs: 1000, gracePeriodMs: 30_000, during: { requests: 10, ok: 10, dropped: 0 } },
    }) as Report
    const failing = parse(renderJUnit([deploySuite(stop('ignored-sigterm', 'v2-0 ignored SIGTERM: SIGKILLed after 30.0 s'))])).testsuites.testsuite[0]
    const c = failing?.testcase.find((x) => x.name === 'v2 is safe to stop (stop check)')
    expect(c?.failure).toEqual({ message: 'v2-0 ignored SIGTERM: SIGKILLed after 30.0 s', type: 'stop-check-ignored-sigterm' })
    const xml = renderJUnit([deploySuite(stop('not-run', 'no ready instance of v2 to stop'))])
    const doc = parse(xml)
    expect(doc.testsuites.testsuite[0]?.failures).toBe('0')
    expect(xml).toContain('<skipped message="no ready instance of v2 to stop"/>')
    expect(xml).toMatch(/<testsuite [^>]*skipped="1"/)
  })

  it('text that is not XML-safe stays valid XML and reads back as it was', () => {
    const nasty = 'A="<x>" & \'y\' \u0001 node s.js'
    const r = { ...naive, parameters: { ...naive.parameters, from: { ...naive.parameters.from, command: nasty } } }
    const xml = renderJUnit([deploySuite(r)])
    expect(XMLValidator.validate(xml)).toBe(true)
    expect(xml).toContain('value="A=&quot;&lt;x&gt;&quot; &amp; &apos;y&apos;  node s.js"')
  })

  it('a run that ended without a report is one suite with an error', () => {
    const doc = parse(renderJUnit([errorSuite('zerodrop deploy', 'interrupted after 3.0 s', 'interrupted')]))
    expect(doc.testsuites.errors).toBe('1')
    expect(doc.testsuites.testsuite[0]?.testcase[0]?.error?.message).toBe('interrupted after 3.0 s')
  })
})

describe('Markdown summary', () => {
  it('the verdict, one row per check, one per revision', () => {
    const md = renderMarkdown(naive)
    expect(md.split('\n')[0]).toBe(`### zerodrop deploy: rolling v1 → v2: PROMOTED, ${naive.dropped} dropped`)
    for (const c of deployChecks(naive)) expect(md).toContain(`| ${c.skipped ? '➖' : c.ok ? '✅' : '❌'} | ${c.name} |`)
    expect(md).toMatch(/^\| v1 \| \d+ \|/m)
    expect(md).toMatch(/^\| v2 \| \d+ \|/m)
  })

  it('a pipe or a newline in a reason does not break the table', () => {
    const md = renderMarkdown({ ...bad, reason: 'a | b\nc' })
    expect(md).toContain('a \\| b c')
  })

  it('GITHUB_STEP_SUMMARY is appended to, never overwritten', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-md-'))
    const file = path.join(dir, 'summary.md')
    fs.writeFileSync(file, 'before\n')
    expect(appendStepSummary('one', { GITHUB_STEP_SUMMARY: file })).toBe(file)
    appendStepSummary('two', { GITHUB_STEP_SUMMARY: file })
    expect(fs.readFileSync(file, 'utf8')).toBe('before\none\ntwo\n')
    expect(appendStepSummary('x', {})).toBeUndefined()
  })
})

describe('HTML page', () => {
  it('self-contained: no script, no URL to fetch, a policy that forbids any', () => {
    const html = renderHtml(naive)
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(/i)
    expect(html).not.toMatch(/(src|href)=/i)
    expect(html).toContain('content="default-src \'none\'; style-src \'unsafe-inline\'"')
  })

  it('drop marks where the naive deploy dropped, none for the draining one', () => {
    const marks = (html: string): number => (html.match(/class="drop-mark"/g) ?? []).length
    expect(marks(renderHtml(naive))).toBeGreaterThan(0)
    expect(marks(renderHtml(clean))).toBe(0)
    expect(renderHtml(clean)).toContain('no request failed')
  })

  it('one lane per instance, and what the user typed is escaped', () => {
    const r = { ...clean, parameters: { ...clean.parameters, to: { ...clean.parameters.to, command: '</table><b>x</b>' } } }
    const html = renderHtml(r)
    expect((html.match(/<g class="lane"/g) ?? []).length).toBe(new Set(clean.events.map((e) => e.instance)).size)
    expect(html).toContain('&lt;/table&gt;&lt;b&gt;x&lt;/b&gt;')
    expect(html).not.toContain('<b>x</b>')
  })

  it('renders what a measurement carries: a decision, n, k, an estimate and a bound when present', () => {
    const progressive = bad.progressive
    if (!progressive) throw new Error('fixture: the bad canary has no progressive record')
    const analyses = progressive.analyses.map((a) => ({
      ...a,
      measurements: a.measurements.map((m) => ({ ...m, n: 40, k: 3, estimate: 0.075, boundary: 0.02, decision: 'failed' })),
    }))
    const html = renderHtml({ ...bad, progressive: { ...progressive, analyses } })
    expect(html).toContain('data-decision="failed"')
    expect(html).toMatch(/n 40, k 3, estimate 0.075, bound 0.02/)
  })

  it('a partial report (interrupted before the rollout: no steps, no traffic) renders every view', () => {
    const partial = { ...clean, verdict: 'interrupted', exitCode: 130, steps: [], events: [], perSecond: [], instances: [], failures: { records: [], omitted: 0 } } as unknown as Report
    const html = renderHtml(partial)
    expect(html).toContain('>INTERRUPTED</span>')
    expect(html).toContain('id="chart-rps"')
    expect(XMLValidator.validate(renderJUnit([deploySuite(partial)]))).toBe(true)
    expect(renderMarkdown(partial)).toMatch(/: INTERRUPTED, 0 dropped/)
  })

  it('an older report without failure records still renders', () => {
    const { failures: _f, ...old } = naive
    const html = renderHtml(old as unknown as Report)
    expect(html).toContain('id="chart-failures"')
  })
})

describe('every format', () => {
  it("shows each instance's end with the drain delay it reported", () => {
    const i = clean.instances.find((x) => x.termination?.drainDelay)!
    expect(i, 'fixture: an instance that logged its drain delay').toBeDefined()
    const phrase = `exited ${(i.termination!.durationMs / 1000).toFixed(1)} s after SIGTERM (code 0), drain delay ${(i.termination!.drainDelay!.ms / 1000).toFixed(1)} s (${i.termination!.drainDelay!.endedBy})`
    expect(formatReport(clean)).toContain(phrase)
    expect(renderMarkdown(clean)).toContain(`| ${i.id} | ${i.revision} | ${i.port} | 0 | ${phrase} |`)
    expect(renderHtml(clean)).toContain(phrase)
    expect(renderJUnit([deploySuite(clean)])).toContain(`<property name="instance.${i.id}" value="${i.revision}: ${phrase}"/>`)
  })
})

describe('writing the outputs', () => {
  it('one that cannot be written is reported; the others are written; nothing throws', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-out-'))
    const d = dir
    const res = writeOutputs({ html: path.join(d, 'r.html'), junit: path.join(d, 'missing', 'r.xml'), markdown: path.join(d, 'r.md') }, deployViews(naive), {})
    expect(res.written.map((w) => w.kind)).toEqual(['html', 'markdown'])
    expect(res.errors).toHaveLength(1)
    expect(res.errors[0]).toMatch(/^--junit .*missing\/r\.xml: could not write the junit report: ENOENT/)
    expect(fs.existsSync(path.join(d, 'r.html'))).toBe(true)
  })
})

describe('the blast radius against its bound', () => {
  it('never "within" for a number above the printed bound: the bound is a count of shown terms, printed as it is', () => {
    expect(boundWording({ failed: 8, bound: 10, withinBound: true })).toBe('8 failed ≤ bound 10')
    expect(boundWording({ failed: 10, bound: 10, withinBound: true })).toBe('10 failed ≤ bound 10')
    expect(boundWording({ failed: 11, bound: 10, withinBound: false })).toBe('11 failed > bound 10: ABOVE the bound (reported; still exit 2)')
    // a report written before the sequential gate: a fractional bound keeps the digits that put it on the right side
    expect(boundWording({ failed: 13, bound: 12.96, withinBound: false })).toMatch(/^13 failed > bound 12\.96: ABOVE/)
    for (const r of [naive, clean, bad]) expect(formatReport(r)).not.toMatch(/within the bound/)
  })
})
