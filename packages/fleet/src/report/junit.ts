import fs from 'node:fs'
import { deployChecks, type Check } from './checks.js'
import { instanceEnd, type Report } from './report.js'

/**
 * JUnit XML as GitHub Actions, GitLab and Jenkins read it: a `<testsuites>` root, one
 * `<testsuite>` per deploy or verify, one `<testcase>` per check, a failing one carrying
 * `<failure message type>` (the message names what dropped and where; the body has the breakdown).
 */
export interface JUnitCase {
  readonly name: string
  readonly classname: string
  /** seconds */
  readonly time: number
  readonly failure?: { readonly message: string; readonly type: string; readonly body?: string }
  readonly error?: { readonly message: string; readonly type: string; readonly body?: string }
  readonly skipped?: string
}

export interface JUnitSuite {
  readonly name: string
  /** seconds */
  readonly time: number
  /** ISO 8601, without the zone suffix some readers reject */
  readonly timestamp?: string
  readonly cases: readonly JUnitCase[]
  readonly properties?: Readonly<Record<string, string | number>>
}

/** XML 1.0 text: escaped, and without the control characters XML cannot carry at all. */
export function xmlEscape(s: unknown): string {
  // eslint-disable-next-line no-control-regex
  return String(s).replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c)
}

const secs = (x: number): string => (Number.isFinite(x) ? Math.max(0, x).toFixed(3) : '0')

export function casesFromChecks(checks: readonly Check[], classname: string): JUnitCase[] {
  return checks.map((c) => ({
    name: c.name,
    classname,
    time: c.seconds ?? 0,
    ...(c.skipped ? { skipped: c.message } : c.ok ? {} : { failure: { message: c.message, type: c.type, ...(c.detail ? { body: c.detail } : {}) } }),
  }))
}

export function deploySuite(r: Report): JUnitSuite {
  const p = r.parameters
  const name = `zerodrop deploy ${p.strategy} ${p.from.name} → ${p.to.name}`
  return {
    name,
    time: r.timing.totalMs / 1000,
    timestamp: r.timing.startedAt.replace(/\.\d+Z$|Z$/, ''),
    cases: casesFromChecks(deployChecks(r), `zerodrop.deploy.${p.strategy}`),
    properties: {
      ...{ strategy: p.strategy, router: p.router, replicas: p.replicas, from: p.from.command, to: p.to.command, verdict: r.verdict, dropped: r.dropped, exitCode: r.exitCode },
      // how each instance ended, with its drain delay
      ...Object.fromEntries(r.instances.map((i) => [`instance.${i.id}`, `${i.revision}: ${instanceEnd(i)}`])),
    },
  }
}

/** A suite for a run that ended before it had a report (bad usage, an interrupt, a crash). */
export function errorSuite(name: string, message: string, type: string): JUnitSuite {
  return { name, time: 0, cases: [{ name: 'run', classname: 'zerodrop', time: 0, error: { message, type } }] }
}

function element(tag: 'failure' | 'error', x: { message: string; type: string; body?: string }): string {
  return `      <${tag} message="${xmlEscape(x.message)}" type="${xmlEscape(x.type)}">${x.body ? xmlEscape(x.body) : ''}</${tag}>\n`
}

export function renderJUnit(suites: readonly JUnitSuite[]): string {
  let tests = 0
  let failures = 0
  let errors = 0
  let skipped = 0
  let time = 0
  const body: string[] = []
  for (const s of suites) {
    const f = s.cases.filter((c) => c.failure).length
    const e = s.cases.filter((c) => c.error).length
    const k = s.cases.filter((c) => c.skipped !== undefined && !c.failure && !c.error).length
    tests += s.cases.length
    skipped += k
    failures += f
    errors += e
    time += s.time
    body.push(
      `  <testsuite name="${xmlEscape(s.name)}" tests="${s.cases.length}" failures="${f}" errors="${e}" skipped="${k}" time="${secs(s.time)}"${s.timestamp ? ` timestamp="${xmlEscape(s.timestamp)}"` : ''}>\n`,
    )
    const props = Object.entries(s.properties ?? {})
    if (props.length > 0) {
      body.push('    <properties>\n')
      for (const [k, v] of props) body.push(`      <property name="${xmlEscape(k)}" value="${xmlEscape(v)}"/>\n`)
      body.push('    </properties>\n')
    }
    for (const c of s.cases) {
      const open = `    <testcase name="${xmlEscape(c.name)}" classname="${xmlEscape(c.classname)}" time="${secs(c.time)}"`
      if (!c.failure && !c.error) {
        body.push(c.skipped === undefined ? `${open}/>\n` : `${open}>\n      <skipped message="${xmlEscape(c.skipped)}"/>\n    </testcase>\n`)
        continue
      }
      body.push(`${open}>\n`, ...(c.failure ? [element('failure', c.failure)] : []), ...(c.error ? [element('error', c.error)] : []), '    </testcase>\n')
    }
    body.push('  </testsuite>\n')
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="zerodrop" tests="${tests}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${secs(time)}">\n${body.join('')}</testsuites>\n`
}

export function writeJUnit(file: string, suites: readonly JUnitSuite[]): void {
  fs.writeFileSync(file, renderJUnit(suites))
}
