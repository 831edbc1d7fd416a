import type { Check } from '../report/checks.js'
import { CAUSE_COLOURS, colourOf, escapeHtml, failureStripChart, legend, makeAxis, pageShell, stackedBarsChart, table, type Bar, type Mark, type Marker } from '../report/html.js'
import { casesFromChecks, renderJUnit, type JUnitSuite } from '../report/junit.js'
import { checksTable, mdCell } from '../report/markdown.js'
import type { OutputViews } from '../report/outputs.js'
import { protocolOf, verifyJson } from './report.js'
import type { VerifyResult } from './verify.js'

/**
 * `zerodrop verify`'s report in the same views as a deploy's (docs/architecture.md, "Reports"):
 * one list of checks for JUnit and Markdown, one page on the same time axis — here seconds since
 * the user's command started — with requests/s by the version that answered and every failure
 * marked by its outcome.
 */

const OUTCOMES = ['lost', 'reset', 'refused', 'timeout', 'non-2xx (lb)', 'non-2xx (app)', 'refused connection'] as const
const OUTCOME_COLOURS: Readonly<Record<string, string>> = {
  ...CAUSE_COLOURS,
  'non-2xx (lb)': '#bcbd22',
  'non-2xx (app)': CAUSE_COLOURS['non-2xx'] ?? '#e377c2',
  'refused connection': '#ffbb78',
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`
const at = (ms: number): string => `${ms < 0 ? '−' : '+'}${(Math.abs(ms) / 1000).toFixed(1)} s`

function causes(r: VerifyResult): string {
  const parts: Array<[string, number]> = [
    ['lost', r.lost], ['reset', r.reset], ['refused', r.refused], ['timeout', r.timeout],
    ['non-2xx from the load balancer', r.non2xx.lb], ['non-2xx from the application', r.non2xx.app], ['refused connections', r.refusedConnections],
  ]
  return parts.filter(([, n]) => n > 0).map(([c, n]) => `${n} ${c}`).join(', ')
}

function outcomeOf(f: VerifyResult['failures'][number]): string {
  if (f.outcome === 'non2xx') return `non-2xx (${f.side ?? 'app'})`
  if (f.outcome === 'refusedConnection') return 'refused connection'
  return f.outcome
}

export function verifyChecks(r: VerifyResult): Check[] {
  const o = r.options
  const expect = o.expectDrops
  const out: Check[] = []
  const first = r.failures[0]
  const where = first ? `; first at ${at(first.start - r.timing.commandStartMs)} from the command's start (${outcomeOf(first)}${first.version ? `, version ${first.version}` : ''})` : ''
  out.push(
    expect
      ? { name: 'drops seen (negative control, --expect-drops)', ok: r.dropped > 0, type: 'no-drops', message: r.dropped > 0 ? `${r.dropped} dropped of ${r.requests} requests (${causes(r)})` : `0 dropped of ${r.requests} requests: the set-up cannot show a drop` }
      : { name: 'zero requests dropped', ok: r.dropped === 0, type: 'dropped', message: r.dropped === 0 ? `0 dropped of ${r.requests} requests` : `${r.dropped} dropped, ${r.requests} requests (${causes(r)})${where}`, seconds: r.timing.loadMs / 1000 },
  )
  const c = r.command
  out.push({
    name: `the command succeeded: ${c.argv.join(' ')}`,
    ok: c.exitCode === 0 && !c.timedOut,
    type: c.timedOut ? 'duration' : 'command-failed',
    message: c.timedOut ? `still running at --duration, sent SIGTERM after ${secs(c.durationMs)}` : c.error ? `could not start: ${c.error}` : `exit ${String(c.exitCode)}${c.signal ? ` (${c.signal})` : ''} after ${secs(c.durationMs)}`,
    seconds: c.durationMs / 1000,
  })
  if (r.until) out.push({ name: `--until succeeded: ${r.until.command}`, ok: r.until.succeeded, type: 'until-failed', message: `${r.until.succeeded ? 'exited 0' : 'never exited 0'} after ${r.until.polls} polls` })
  if (r.interrupted) out.push({ name: 'ran to the end', ok: false, type: 'interrupted', message: 'interrupted (SIGINT/SIGTERM); the counts so far' })
  return out
}

export function verifySuite(r: VerifyResult): JUnitSuite {
  return {
    name: `zerodrop verify ${r.options.url.href}`,
    time: (r.timing.loadMs + r.timing.stopMs) / 1000,
    timestamp: r.timing.startedAt.replace(/\.\d+Z$|Z$/, ''),
    cases: casesFromChecks(verifyChecks(r), 'zerodrop.verify'),
    properties: { url: r.options.url.href, command: r.command.argv.join(' '), dropped: r.dropped, exitCode: r.exitCode },
  }
}

export function renderVerifyMarkdown(r: VerifyResult): string {
  return [
    `### zerodrop verify ${mdCell(r.options.url.href)}: ${mdCell(r.verdict)}`,
    '',
    `${r.requests} requests at ${r.options.rate} req/s over ${r.options.connections} connections; command \`${mdCell(r.command.argv.join(' '))}\`; exit ${r.exitCode}`,
    '',
    checksTable(verifyChecks(r)),
    '',
    '| requests | ok | non-2xx (lb) | non-2xx (app) | lost | reset | refused | timeout | refused connections | dropped | refused streams retried |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| ${r.requests} | ${r.ok} | ${r.non2xx.lb} | ${r.non2xx.app} | ${r.lost} | ${r.reset} | ${r.refused} | ${r.timeout} | ${r.refusedConnections} | ${r.dropped} | ${r.refusedStreamsRetried} |`,
    '',
  ].join('\n')
}

export function renderVerifyHtml(r: VerifyResult): string {
  const origin = r.timing.commandStartMs
  const versions = [...new Set(r.perSecond.flatMap((s) => Object.keys(s.byVersion)))].sort()
  const keys = [...versions, 'ok', 'dropped']
  const colour = (k: string): string => (k === 'dropped' ? '#d62728' : k === 'ok' ? '#4e79a7' : colourOf(versions, k))
  const bars: Bar[] = r.perSecond.map((s) => {
    const t = s.t * 1000 - origin
    const named = versions.map((v) => ({ key: v, value: s.byVersion[v] ?? 0, colour: colour(v), title: `${at(t)}: ${s.byVersion[v] ?? 0} ok from ${v}` }))
    const unnamed = s.ok - named.reduce((n, p) => n + p.value, 0)
    return {
      t,
      widthMs: 1000,
      stack: [
        ...named,
        { key: 'ok', value: unnamed, colour: colour('ok'), title: `${at(t)}: ${unnamed} ok${versions.length ? ' without a version header' : ''}` },
        { key: 'dropped', value: s.dropped, colour: colour('dropped'), title: `${at(t)}: ${s.dropped} dropped` },
      ],
    }
  })
  const marks: Mark[] = r.failures.map((f) => ({
    t: f.end - origin,
    cause: outcomeOf(f),
    count: 1,
    where: `connection ${f.connection}${f.reused ? ' (reused)' : ' (new)'}${f.status === undefined ? '' : ` ${f.status}`}${f.version ? ` from ${f.version}` : ''}${f.error ? ` ${f.error}` : ''}`,
  }))
  const markers: Marker[] = [
    { t: r.timing.rolloutEndMs - origin, label: 'the rollout is over' },
    ...r.events.map((e) => ({ t: e.t - origin, label: e.message })),
  ]
  const ts = [-origin, r.timing.loadMs - origin, ...bars.map((b) => b.t + 1000), ...marks.map((m) => m.t)]
  const axis = makeAxis(Math.min(...ts), Math.max(...ts))
  const counted = r.failures.length
  const failedTotal = r.dropped
  const o = r.options
  const word = r.exitCode === 0 ? 'PASSED' : r.dropped > 0 ? 'DROPPED' : 'FAILED'
  const params: Array<[string, string]> = [
    ['url', o.url.href],
    ['command', r.command.argv.join(' ')],
    ['load', `${o.rate} req/s over ${o.connections} ${o.http2 ? `${protocolOf(o)} sessions` : 'keep-alive connections'}, bursts of ${o.burst}, reconnect every ${o.reconnectEvery || 'never'}; lead ${secs(o.leadMs)}, tail ${secs(o.tailMs)}, timeout ${secs(o.timeoutMs)}`],
    ['started', `${r.timing.startedAt}; command ${secs(r.command.durationMs)}`],
  ]
  const body = [
    `<h1>${escapeHtml(`zerodrop verify ${o.url.href}`)}</h1>`,
    `<p class="summary" id="verdict"><span class="verdict ${r.exitCode === 0 ? 'promoted' : 'dropped'}">${word}</span>${escapeHtml(`${r.verdict}; exit ${r.exitCode}`)}</p>`,
    `<table id="parameters" class="kv"><tbody>${params.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</tbody></table>`,
    '<h2>Accounting (load side, per request)</h2>',
    table(['requests', 'ok', 'non-2xx (lb)', 'non-2xx (app)', 'lost', 'reset', 'refused', 'timeout', 'refused connections', 'dropped', 'refused streams retried'], [[r.requests, r.ok, r.non2xx.lb, r.non2xx.app, r.lost, r.reset, r.refused, r.timeout, r.refusedConnections, r.dropped, r.refusedStreamsRetried]], 'accounting'),
    counted < failedTotal ? `<p class="note">the first ${counted} of ${failedTotal} failures are marked on the timeline.</p>` : '',
    '<h2>Timeline</h2>',
    '<p class="axis-caption">seconds since the command started; blue vertical lines are its events (hover for each)</p>',
    legend(keys.filter((k) => k !== 'ok' || versions.length === 0 || bars.some((b) => (b.stack.find((p) => p.key === 'ok')?.value ?? 0) > 0)).map((k) => [k === 'ok' && versions.length ? 'ok, no version header' : k, colour(k)] as const)),
    stackedBarsChart('chart-rps', 'requests / s', axis, bars, markers),
    legend(OUTCOMES.map((c) => [c, OUTCOME_COLOURS[c] ?? '#000'] as const)),
    failureStripChart('chart-failures', axis, marks, OUTCOMES, OUTCOME_COLOURS, markers),
    `<p class="note">latency (load side, whole run): p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms.</p>`,
    '<h2>Events</h2>',
    table(['time', 'event'], r.events.map((e) => [at(e.t - origin), e.message]), 'events'),
  ]
  return pageShell(`zerodrop verify ${o.url.href}: ${word}, ${r.dropped} dropped`, body)
}

export function verifyViews(r: VerifyResult): OutputViews {
  return {
    json: () => `${JSON.stringify(verifyJson(r), null, 2)}\n`,
    html: () => renderVerifyHtml(r),
    junit: () => renderJUnit([verifySuite(r)]),
    markdown: () => renderVerifyMarkdown(r),
  }
}
