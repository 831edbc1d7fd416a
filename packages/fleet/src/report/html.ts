import fs from 'node:fs'
import { dataCheckLine, dataProblemLine, instanceEnd, verdictWord, type Report, type ReportFailure } from './report.js'
import { boundWording } from './progressive.js'
import { writesFailed } from '../load/data-check.js'
import type { FleetEvent, InstanceRecord } from '../runtime/fleet.js'
import type { AnalysisRun } from '../analysis/analysis.js'

/**
 * The report as one self-contained page: inline CSS and SVG drawn here, no script, no font, no
 * request (its Content-Security-Policy forbids any), so it opens from file:// on a machine with no
 * network and reads the same in a CI artefact viewer. Every chart shares one time axis, seconds
 * since the rollout started (docs/architecture.md, "Reports").
 */

const W = 1100
const LEFT = 170
const RIGHT = 24
const PLOT_W = W - LEFT - RIGHT

export const FAILURE_CAUSES = ['lost', 'reset', 'refused', 'timeout', 'non-2xx', 'aborted'] as const
export const CAUSE_COLOURS: Readonly<Record<string, string>> = {
  lost: '#d62728',
  reset: '#9467bd',
  refused: '#ff7f0e',
  timeout: '#8c564b',
  'non-2xx': '#e377c2',
  aborted: '#7f7f7f',
}
const REVISION_COLOURS = ['#4e79a7', '#59a14f', '#edc948', '#76b7b2', '#b07aa1']
const DECISION_COLOURS: Readonly<Record<string, string>> = {
  successful: '#2ca02c',
  passed: '#2ca02c',
  pass: '#2ca02c',
  failed: '#d62728',
  fail: '#d62728',
  inconclusive: '#999999',
  error: '#9467bd',
}

export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c)
}

const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined)
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`
const signedSecs = (ms: number): string => `${ms < 0 ? '−' : '+'}${(Math.abs(ms) / 1000).toFixed(1)} s`
const pct = (x: number | undefined): string => (x === undefined ? 'n/a' : `${(x * 100).toFixed(x > 0 && x < 0.1 ? 1 : 0)} %`)
const f1 = (x: number): string => x.toFixed(1)

/** The page's clock: ms since the rollout started, whatever each part of the report counts from. */
interface Clock {
  readonly rolloutEpochMs: number
  readonly eventsOffsetMs: number
}

function clockOf(r: Report): Clock {
  const start = Date.parse(r.timing.startedAt)
  const rolloutStartMs = num(r.timing.rolloutStartMs) ?? 0
  return {
    rolloutEpochMs: (Number.isFinite(start) ? start : 0) + rolloutStartMs,
    eventsOffsetMs: (num((r.timing as { eventsOriginMs?: number }).eventsOriginMs) ?? 0) - rolloutStartMs,
  }
}

export interface Axis {
  readonly t0: number
  readonly t1: number
  x(t: number): number
}

/** The time axis every panel shares: ms from t0 to t1 across the plot width. */
export function makeAxis(t0: number, t1: number): Axis {
  const end = Math.max(t1, t0 + 1000)
  return { t0, t1: end, x: (t) => LEFT + ((t - t0) / (end - t0)) * PLOT_W }
}

function axisOf(r: Report, clock: Clock): Axis {
  const ts: number[] = [-(num(r.timing.rolloutStartMs) ?? 0) / 4, (num(r.timing.rolloutDurationMs) ?? 0)]
  for (const b of r.perSecond ?? []) ts.push(b.t * 1000 - clock.rolloutEpochMs, b.t * 1000 + 1000 - clock.rolloutEpochMs)
  for (const e of r.events ?? []) ts.push(e.t + clock.eventsOffsetMs)
  for (const f of failuresOf(r)) ts.push(f.t)
  const t0 = Math.min(...ts.filter(Number.isFinite))
  return makeAxis(t0, Math.max(...ts.filter(Number.isFinite)))
}

function failuresOf(r: Report): readonly ReportFailure[] {
  const f = (r as { failures?: Report['failures'] }).failures
  return Array.isArray(f?.records) ? f.records : []
}

function niceStep(span: number, target: number): number {
  const raw = span / target
  const p = 10 ** Math.floor(Math.log10(raw))
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p
  return 10 * p
}

/** Time ticks (and, with `labels`, their text) along the bottom of a panel of height `h`. */
function timeAxis(a: Axis, top: number, h: number, labels: boolean): string {
  const step = niceStep(a.t1 - a.t0, 12)
  const out: string[] = []
  for (let t = Math.ceil(a.t0 / step) * step; t <= a.t1; t += step) {
    const x = a.x(t)
    out.push(`<line class="grid" x1="${f1(x)}" x2="${f1(x)}" y1="${top}" y2="${top + h}"/>`)
    // a short run has ticks closer than a second: label them with the tenths
    if (labels) out.push(`<text class="tick" x="${f1(x)}" y="${top + h + 13}" text-anchor="middle">${t === 0 ? '0' : (t / 1000).toFixed(step < 1000 ? 1 : 0)}</text>`)
  }
  const x0 = a.x(0)
  out.push(`<line class="origin" x1="${f1(x0)}" x2="${f1(x0)}" y1="${top}" y2="${top + h}"><title>rollout start</title></line>`)
  return out.join('')
}

/** A vertical line on every panel at an instant (a step, a command starting), its label on hover. */
export interface Marker {
  readonly t: number
  readonly label: string
}

function markerLines(markers: readonly Marker[], a: Axis, top: number, h: number): string {
  return markers
    .map((m) => {
      const x = a.x(m.t)
      return `<line class="step" x1="${f1(x)}" x2="${f1(x)}" y1="${top}" y2="${top + h}"><title>${escapeHtml(`${signedSecs(m.t)} ${m.label}`)}</title></line>`
    })
    .join('')
}

function stepsAsMarkers(r: Report): Marker[] {
  return (r.steps ?? []).map((s) => ({ t: s.t, label: `${s.phase}: ${s.action}` }))
}

function stepLines(r: Report, a: Axis, top: number, h: number): string {
  return markerLines(stepsAsMarkers(r), a, top, h)
}

function svg(id: string, h: number, body: string, label: string): string {
  return `<svg id="${id}" class="chart" viewBox="0 0 ${W} ${h}" width="${W}" height="${h}" role="img" aria-label="${escapeHtml(label)}">${body}</svg>`
}

function revisionsOf(r: Report): string[] {
  const revs = [r.parameters.from.name, r.parameters.to.name]
  for (const b of r.perSecond ?? []) for (const k of Object.keys(b.byRevision)) if (!revs.includes(k) && k !== '(none)') revs.push(k)
  return revs
}

export function colourOf(keys: readonly string[], key: string): string {
  const i = keys.indexOf(key)
  return REVISION_COLOURS[i >= 0 ? i % REVISION_COLOURS.length : REVISION_COLOURS.length - 1] ?? '#888'
}

/** One second (or any span) of traffic: a stack of parts, each with its own colour and hover text. */
export interface Bar {
  readonly t: number
  readonly widthMs: number
  readonly stack: ReadonlyArray<{ readonly key: string; readonly value: number; readonly colour: string; readonly title: string }>
}

export function stackedBarsChart(id: string, label: string, a: Axis, bars: readonly Bar[], markers: readonly Marker[]): string {
  const top = 10
  const h = 180
  let max = 1
  for (const b of bars) max = Math.max(max, b.stack.reduce((n, p) => n + p.value, 0))
  const yStep = niceStep(max, 4)
  const yMax = Math.ceil(max / yStep) * yStep
  const y = (v: number): number => top + h - (v / yMax) * h
  const out: string[] = [timeAxis(a, top, h, true)]
  for (let v = 0; v <= yMax; v += yStep) {
    out.push(`<line class="grid" x1="${LEFT}" x2="${W - RIGHT}" y1="${f1(y(v))}" y2="${f1(y(v))}"/><text class="tick" x="${LEFT - 6}" y="${f1(y(v) + 4)}" text-anchor="end">${v}</text>`)
  }
  out.push(`<text class="axis-label" x="12" y="${top + h / 2}">${escapeHtml(label)}</text>`)
  for (const b of bars) {
    const x0 = a.x(b.t)
    const bw = Math.max(1, a.x(b.t + b.widthMs) - x0 - 0.5)
    let acc = 0
    for (const part of b.stack) {
      if (part.value <= 0) continue
      const yTop = y(acc + part.value)
      out.push(
        `<rect class="rps" data-revision="${escapeHtml(part.key)}" x="${f1(x0)}" y="${f1(yTop)}" width="${f1(bw)}" height="${f1(y(acc) - yTop)}" fill="${part.colour}">` +
          `<title>${escapeHtml(part.title)}</title></rect>`,
      )
      acc += part.value
    }
  }
  out.push(markerLines(markers, a, top, h))
  return svg(id, top + h + 20, out.join(''), label)
}

function rpsChart(r: Report, a: Axis, clock: Clock, revs: readonly string[]): string {
  const bars = (r.perSecond ?? []).map((b) => {
    const t = b.t * 1000 - clock.rolloutEpochMs
    return {
      t,
      widthMs: 1000,
      stack: revs.map((rev) => {
        const v = b.byRevision[rev]?.requests ?? 0
        return { key: rev, value: v, colour: colourOf(revs, rev), title: `${signedSecs(t)}: ${rev} ${v} requests/s (${b.byRevision[rev]?.failed ?? 0} failed)` }
      }),
    }
  })
  return stackedBarsChart('chart-rps', 'requests / s', a, bars, stepsAsMarkers(r))
}

/** One failure (or several at one instant) on the failure strip: its row is its cause. */
export interface Mark {
  readonly t: number
  readonly cause: string
  readonly count: number
  /** where it happened, e.g. 'v1-2 (v1)'; marks in one pixel column are grouped by it on hover */
  readonly where: string
}

export function failureStripChart(id: string, a: Axis, marks: readonly Mark[], causes: readonly string[], colours: Readonly<Record<string, string>>, markers: readonly Marker[]): string {
  const row = 18
  const top = 4
  const h = row * causes.length
  const out: string[] = [timeAxis(a, top, h, false)]
  const totals: Record<string, number> = {}
  // one mark per cause per 2-pixel column: 10 000 records stay a few hundred elements
  const cells = new Map<string, { cause: string; x: number; n: number; from: number; to: number; where: Map<string, number> }>()
  for (const f of marks) {
    totals[f.cause] = (totals[f.cause] ?? 0) + f.count
    const x = Math.round(a.x(f.t) / 2) * 2
    const key = `${f.cause}@${x}`
    let c = cells.get(key)
    if (c === undefined) {
      c = { cause: f.cause, x, n: 0, from: f.t, to: f.t, where: new Map() }
      cells.set(key, c)
    }
    c.n += f.count
    c.from = Math.min(c.from, f.t)
    c.to = Math.max(c.to, f.t)
    c.where.set(f.where, (c.where.get(f.where) ?? 0) + f.count)
  }
  causes.forEach((cause, i) => {
    const yMid = top + i * row + row / 2
    out.push(`<line class="lane-line" x1="${LEFT}" x2="${W - RIGHT}" y1="${yMid}" y2="${yMid}"/>`)
    out.push(`<text class="lane-label" x="${LEFT - 6}" y="${yMid + 4}" text-anchor="end"><tspan fill="${colours[cause] ?? '#000'}">■</tspan> ${escapeHtml(cause)} ${totals[cause] ?? 0}</text>`)
  })
  for (const c of cells.values()) {
    const i = causes.indexOf(c.cause)
    const yMid = top + (i < 0 ? causes.length - 1 : i) * row + row / 2
    const size = Math.min(row - 4, 6 + 2 * Math.log2(c.n))
    const where = [...c.where].map(([w, n]) => `${n} on ${w}`).join(', ')
    const when = c.from === c.to ? signedSecs(c.from) : `${signedSecs(c.from)} … ${signedSecs(c.to)}`
    out.push(
      `<rect class="drop-mark" data-cause="${escapeHtml(c.cause)}" data-count="${c.n}" x="${f1(c.x - 1.5)}" y="${f1(yMid - size / 2)}" width="3" height="${f1(size)}" fill="${colours[c.cause] ?? '#000'}">` +
        `<title>${escapeHtml(`${when}: ${c.n} ${c.cause}: ${where}`)}</title></rect>`,
    )
  }
  out.push(markerLines(markers, a, top, h))
  if (marks.length === 0) out.push(`<text class="empty" x="${LEFT + PLOT_W / 2}" y="${top + h / 2 + 4}" text-anchor="middle">no request failed</text>`)
  return svg(id, top + h + 6, out.join(''), 'failed requests by cause')
}

function failureChart(r: Report, a: Axis): string {
  const marks = failuresOf(r).map((f) => ({
    t: f.t,
    cause: f.cause,
    count: num(f.count) ?? 1,
    where: `${f.instance ?? 'no endpoint'} (${f.revision})${f.status === undefined ? '' : ` ${f.status}`}${f.connection ? ' connection' : ''}`,
  }))
  return failureStripChart('chart-failures', a, marks, FAILURE_CAUSES, CAUSE_COLOURS, stepsAsMarkers(r))
}

/** Desired share of the new revision over time: the progressive periods, or the rolling steps' instance counts. */
function desiredShare(r: Report): Array<{ from: number; to: number; share: number; label: string }> {
  const to = r.parameters.to.name
  const from = r.parameters.from.name
  const periods = r.progressive?.periods ?? []
  if (periods.length > 0) return periods.map((p) => ({ from: p.from, to: p.to, share: num(p.desired[to]) ?? 0, label: p.label }))
  const out: Array<{ from: number; to: number; share: number; label: string }> = []
  const steps = r.steps ?? []
  steps.forEach((s, i) => {
    const a = s.revisions[to]?.ready ?? 0
    const b = s.revisions[from]?.ready ?? 0
    const end = steps[i + 1]?.t ?? r.timing.rolloutDurationMs
    out.push({ from: s.t, to: Math.max(s.t, end), share: a + b === 0 ? 0 : a / (a + b), label: `${s.phase}: ${s.action} (ready instances)` })
  })
  return out
}

function shareChart(r: Report, a: Axis, clock: Clock, revs: readonly string[]): string {
  const top = 8
  const h = 110
  const to = r.parameters.to.name
  const y = (v: number): number => top + h - v * h
  const out: string[] = [timeAxis(a, top, h, false)]
  for (const v of [0, 0.25, 0.5, 0.75, 1]) out.push(`<line class="grid" x1="${LEFT}" x2="${W - RIGHT}" y1="${f1(y(v))}" y2="${f1(y(v))}"/><text class="tick" x="${LEFT - 6}" y="${f1(y(v) + 4)}" text-anchor="end">${v * 100} %</text>`)
  out.push(`<text class="axis-label" x="12" y="${top + h / 2}">share to ${escapeHtml(to)}</text>`)
  const observed: string[] = []
  for (const b of r.perSecond ?? []) {
    let sum = 0
    for (const [k, v] of Object.entries(b.byRevision)) if (k !== '(none)') sum += v.requests
    if (sum === 0) continue
    const t = b.t * 1000 - clock.rolloutEpochMs + 500
    observed.push(`${f1(a.x(t))},${f1(y((b.byRevision[to]?.requests ?? 0) / sum))}`)
  }
  const desired = desiredShare(r)
  const path: string[] = []
  for (const d of desired) path.push(`${path.length === 0 ? 'M' : 'L'}${f1(a.x(d.from))},${f1(y(d.share))}`, `L${f1(a.x(d.to))},${f1(y(d.share))}`)
  if (path.length > 0) out.push(`<path class="desired" d="${path.join(' ')}" stroke="#333"/>`)
  // small weights (a canary's 1 %, 5 %) are thin lines on a 0–100 % axis: say them
  let shown: number | undefined
  for (const d of desired) {
    if (d.share === shown) continue
    shown = d.share
    const yy = Math.max(top + 10, y(d.share) - 4)
    out.push(`<text class="share-label" x="${f1(a.x(d.from) + 3)}" y="${f1(yy)}">${escapeHtml(pct(d.share))}</text>`)
  }
  for (const d of desired) {
    out.push(`<rect class="period" x="${f1(a.x(d.from))}" y="${top}" width="${f1(Math.max(1, a.x(d.to) - a.x(d.from)))}" height="${h}"><title>${escapeHtml(`${signedSecs(d.from)} → ${signedSecs(d.to)} ${d.label}: desired ${pct(d.share)}`)}</title></rect>`)
  }
  if (observed.length > 0) out.push(`<polyline class="observed" points="${observed.join(' ')}" stroke="${colourOf(revs, to)}"/>`)
  out.push(stepLines(r, a, top, h))
  return svg('chart-share', top + h + 6, out.join(''), `traffic share of ${to}, desired and observed`)
}

interface Lane {
  readonly id: string
  readonly revision: string
  readonly events: readonly FleetEvent[]
  readonly record: InstanceRecord | undefined
}

function lanesOf(r: Report): Lane[] {
  const byId = new Map<string, { revision: string; events: FleetEvent[] }>()
  for (const e of r.events ?? []) {
    let l = byId.get(e.instance)
    if (l === undefined) {
      l = { revision: e.revision, events: [] }
      byId.set(e.instance, l)
    }
    l.events.push(e)
  }
  for (const i of r.instances ?? []) if (!byId.has(i.id)) byId.set(i.id, { revision: i.revision, events: [] })
  return [...byId].map(([id, l]) => ({ id, revision: l.revision, events: l.events, record: r.instances?.find((i) => i.id === id) }))
}

const STATE_COLOURS: Readonly<Record<string, string>> = {
  starting: '#c7c7c7',
  ready: '#59a14f',
  unready: '#f1ce63',
  draining: '#f28e2b',
  'out of pool': '#e15759',
}

function laneChart(r: Report, a: Axis, clock: Clock, revs: readonly string[]): string {
  const lanes = lanesOf(r)
  const row = 20
  const top = 4
  const h = Math.max(row, lanes.length * row)
  const out: string[] = [timeAxis(a, top, h, true)]
  lanes.forEach((lane, i) => {
    const y0 = top + i * row + 3
    const bh = row - 6
    out.push(`<g class="lane" data-instance="${escapeHtml(lane.id)}" data-revision="${escapeHtml(lane.revision)}">`)
    out.push(`<text class="lane-label" x="${LEFT - 6}" y="${y0 + bh - 3}" text-anchor="end"><tspan fill="${colourOf(revs, lane.revision)}">■</tspan> ${escapeHtml(lane.id)}</text>`)
    let state: string | undefined
    let since = 0
    const segment = (until: number): void => {
      if (state === undefined || until <= since) return
      const x0 = a.x(since)
      out.push(
        `<rect class="state" data-state="${state}" x="${f1(x0)}" y="${y0}" width="${f1(Math.max(1, a.x(until) - x0))}" height="${bh}" fill="${STATE_COLOURS[state] ?? '#ccc'}">` +
          `<title>${escapeHtml(`${lane.id}: ${state} ${signedSecs(since)} → ${signedSecs(until)} (${secs(until - since)})`)}</title></rect>`,
      )
    }
    const marks: string[] = []
    const mark = (t: number, cls: string, glyph: string, text: string): void => {
      marks.push(`<text class="mark ${cls}" x="${f1(a.x(t))}" y="${y0 + bh - 2}" text-anchor="middle">${glyph}<title>${escapeHtml(text)}</title></text>`)
    }
    let ended = false
    for (const e of lane.events) {
      const t = e.t + clock.eventsOffsetMs
      const detail = e.detail ? ` (${e.detail})` : ''
      switch (e.event) {
        case 'created':
          segment(t)
          state = 'starting'
          since = t
          break
        case 'ready':
        case 'unready':
          if (state === 'draining' || state === 'out of pool') break
          segment(t)
          state = e.event
          since = t
          break
        case 'sigterm':
          segment(t)
          state = 'draining'
          since = t
          mark(t, 'sigterm', '▼', `${signedSecs(t)} ${lane.id}: SIGTERM`)
          break
        case 'removed-from-router':
          segment(t)
          state = 'out of pool'
          since = t
          mark(t, 'removed', '|', `${signedSecs(t)} ${lane.id}: removed from the router (after the endpoint lag)`)
          break
        case 'terminated':
        case 'killed':
          segment(t)
          state = undefined
          ended = true
          mark(t, e.event, e.event === 'killed' ? '✖' : '●', `${signedSecs(t)} ${lane.id}: ${e.event === 'killed' ? 'SIGKILLed' : 'exited'}${detail}`)
          break
        case 'crashed':
          segment(t)
          state = 'starting'
          since = t
          mark(t, 'crashed', '✱', `${signedSecs(t)} ${lane.id}: crashed, restarting${detail}`)
          break
        default:
          mark(t, 'note', '·', `${signedSecs(t)} ${lane.id}: ${e.event}${detail}`)
      }
    }
    if (!ended) segment(a.t1)
    out.push(...marks, '</g>')
  })
  out.push(stepLines(r, a, top, h))
  return svg('chart-instances', top + h + 20, out.join(''), 'instances: lifecycle per instance')
}

/** A measurement as the analysis recorded it, read defensively: the statistical gate adds n, k, estimate, boundary, decision. */
interface Point {
  readonly t: number
  readonly decision: string
  readonly errorRate: number | undefined
  readonly p99Ms: number | undefined
  readonly n: number | undefined
  readonly k: number | undefined
  readonly estimate: number | undefined
  readonly boundary: number | undefined
  /** the baseline comparison, both sides: `errors canary 3/340 vs stable 5/33000 …` */
  readonly baseline: string | undefined
  readonly message: string
  readonly analysis: string
}

/** The baseline comparison of a measurement, canary beside stable, read defensively. */
function baselineCell(raw: unknown): string | undefined {
  if (raw === null || typeof raw !== 'object') return undefined
  const b = raw as Record<string, Record<string, unknown> | undefined>
  const side = (x: unknown): string => {
    const o = (x ?? {}) as Record<string, unknown>
    return `${num(o.k) ?? '?'}/${num(o.n) ?? '?'}`
  }
  const one = (name: string, t: Record<string, unknown> | undefined, what: string): string =>
    t === undefined ? '' : `${name}: canary ${side(t.canary)} vs stable ${side(t.stable)}, ${what}, fails at k ≥ ${num(t.failAt) ?? '?'}, passes at k ≤ ${(num(t.passAt) ?? -1) < 0 ? 'none yet' : num(t.passAt)}: ${String(t.decision ?? '?')}`
  const e = b.errorRate
  const l = b.latency
  const above = num(l?.aboveMs)
  return [
    one('errors', e, `difference ${pct(num(e?.estimate))} (margin ${pct(num(e?.allowance))})`),
    one('latency', l, above === undefined ? 'no threshold yet' : `slower than ${Number.isFinite(above) ? `${above} ms` : 'the last bucket'} (stable p99 ${Math.round(num(l?.stableP99Ms) ?? Number.NaN)} ms × ${num(l?.allowance) ?? '?'})`),
  ]
    .filter((x) => x !== '')
    .join('; ')
}

function pointsOf(runs: readonly AnalysisRun[]): Point[] {
  const out: Point[] = []
  for (const run of runs) {
    for (const raw of run.measurements ?? []) {
      const m = raw as unknown as Record<string, unknown>
      const t = num(m.t)
      if (t === undefined) continue
      out.push({
        t,
        decision: String(m.decision ?? m.phase ?? 'unknown'),
        errorRate: num(m.errorRate),
        p99Ms: num(m.p99Ms),
        n: num(m.n) ?? num(m.samples),
        k: num(m.k),
        estimate: num(m.estimate),
        boundary: num(m.boundary),
        baseline: baselineCell(m.baseline),
        message: typeof m.message === 'string' ? m.message : '',
        analysis: run.name,
      })
    }
  }
  return out
}

function analysisChart(r: Report, a: Axis): string {
  const runs = r.progressive?.analyses ?? []
  const points = pointsOf(runs)
  const maxErr = num(r.parameters.analysis?.maxErrorRate)
  const maxP99 = num(r.parameters.analysis?.maxP99Ms)
  const panel = (id: string, label: string, value: (p: Point) => number | undefined, limit: number | undefined, fmt: (v: number) => string): string => {
    const top = 8
    const h = 80
    const vals = points.map(value).filter((v): v is number => v !== undefined)
    const hi = Math.max(limit ?? 0, ...vals, 1e-9) * 1.15
    const y = (v: number): number => top + h - (v / hi) * h
    const out: string[] = [timeAxis(a, top, h, false)]
    out.push(`<text class="axis-label" x="12" y="${top + h / 2}">${escapeHtml(label)}</text>`)
    out.push(`<line class="grid" x1="${LEFT}" x2="${W - RIGHT}" y1="${y(0)}" y2="${y(0)}"/><text class="tick" x="${LEFT - 6}" y="${y(0) + 4}" text-anchor="end">0</text>`)
    if (limit !== undefined) {
      out.push(`<line class="limit" x1="${LEFT}" x2="${W - RIGHT}" y1="${f1(y(limit))}" y2="${f1(y(limit))}"><title>limit ${escapeHtml(fmt(limit))}</title></line>`)
      out.push(`<text class="tick" x="${LEFT - 6}" y="${f1(y(limit) + 4)}" text-anchor="end">${escapeHtml(fmt(limit))}</text>`)
    }
    for (const run of runs) {
      const x0 = a.x(run.startedAt)
      out.push(`<rect class="analysis-run" x="${f1(x0)}" y="${top}" width="${f1(Math.max(1, a.x(run.endedAt) - x0))}" height="${h}"><title>${escapeHtml(`${run.name}: ${run.phase} (${run.message})`)}</title></rect>`)
    }
    for (const p of points) {
      const v = value(p)
      const stats = [p.n === undefined ? undefined : `n ${p.n}`, p.k === undefined ? undefined : `k ${p.k}`, p.estimate === undefined ? undefined : `estimate ${p.estimate}`, p.boundary === undefined ? undefined : `bound ${p.boundary}`]
        .filter(Boolean)
        .join(', ')
      const title = `${signedSecs(p.t)} ${p.analysis}: ${p.decision}${stats ? ` (${stats})` : ''}${p.message ? `: ${p.message}` : ''}`
      const yy = v === undefined ? top + h - 4 : y(v)
      out.push(
        `<circle class="measurement" data-decision="${escapeHtml(p.decision)}" cx="${f1(a.x(p.t))}" cy="${f1(yy)}" r="5" fill="${DECISION_COLOURS[p.decision] ?? '#444'}"${v === undefined ? ' fill-opacity="0.3"' : ''}><title>${escapeHtml(title)}</title></circle>`,
      )
    }
    out.push(stepLines(r, a, top, h))
    return svg(id, top + h + 6, out.join(''), label)
  }
  if (runs.length === 0) return ''
  return (
    // the error rate itself: a sequential gate's estimate is its deciding test's, which may be the latency one
    panel('chart-analysis-errors', 'error rate', (p) => p.errorRate, maxErr, (v) => pct(v)) +
    panel('chart-analysis-p99', 'p99 latency', (p) => p.p99Ms, maxP99, (v) => `${Math.round(v)} ms`)
  )
}

export function legend(items: ReadonlyArray<readonly [string, string]>, cls = ''): string {
  return `<div class="legend ${cls}">${items.map(([label, colour]) => `<span><i style="background:${colour}"></i>${escapeHtml(label)}</span>`).join('')}</div>`
}

export function table(head: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>, id: string): string {
  return `<table id="${id}"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`
}

function parametersTable(r: Report): string {
  const p = r.parameters
  const rows: Array<[string, string]> = [
    ['strategy', `${p.strategy}, ${p.replicas} replicas, ${p.router} router on 127.0.0.1:${p.routerPort}`],
    [`from ${p.from.name}`, p.from.command],
    [`to ${p.to.name}`, p.to.command],
    ['rolling', `maxSurge ${p.rolling.maxSurge}, maxUnavailable ${p.rolling.maxUnavailable}, minReadySeconds ${p.rolling.minReadySeconds}, progressDeadlineSeconds ${p.rolling.progressDeadlineSeconds}`],
    ['termination', `endpointDelayMs ${p.endpointDelayMs}, terminationGracePeriodSeconds ${p.terminationGracePeriodSeconds}`],
    ['load', `${p.load.connections} connections at ${p.load.rate} req/s, ${p.load.method} ${p.load.path}${p.load.exactClients ? `; ${p.load.exactClients} exact clients` : ''}`],
  ]
  if (p.analysis) rows.push(['analysis', `error rate ≤ ${p.analysis.maxErrorRate}, p99 ≤ ${p.analysis.maxP99Ms} ms, ${p.analysis.count} × ${p.analysis.intervalMs} ms, failureLimit ${p.analysis.failureLimit}, inconclusiveLimit ${p.analysis.inconclusiveLimit}, minSamples ${p.analysis.minSamples}`])
  if (p.canary) rows.push(['canary steps', p.canary.steps.map((s) => ('setWeight' in s ? `w${s.setWeight}` : 'pause' in s ? `pause ${s.pause.durationMs} ms` : 'analysis')).join(', ')])
  rows.push(['started', `${r.timing.startedAt}; rollout ${secs(r.timing.rolloutDurationMs)}, total ${secs(r.timing.totalMs)}`])
  // the two commands a row each, everything else two to a row: the timeline stays near the top
  const wide = new Set([`from ${p.from.name}`, `to ${p.to.name}`])
  const cell = ([k, v]: [string, string], span = ''): string => `<th>${escapeHtml(k)}</th><td${span}>${escapeHtml(v)}</td>`
  const trs: string[] = []
  let pending: [string, string] | undefined
  for (const row of rows) {
    if (wide.has(row[0])) {
      trs.push(`<tr>${cell(row, ' colspan="3"')}</tr>`)
      continue
    }
    if (pending === undefined) {
      pending = row
      continue
    }
    trs.push(`<tr>${cell(pending)}${cell(row)}</tr>`)
    pending = undefined
  }
  if (pending !== undefined) trs.push(`<tr>${cell(pending, ' colspan="3"')}</tr>`)
  return `<table id="parameters" class="kv"><tbody>${trs.join('')}</tbody></table>`
}

function accountingTable(r: Report): string {
  const a = r.accounting
  const row = (name: string, x: Report['accounting'] | Report['accounting']['byRevision'][string]): Array<string | number> => [
    name, x.requests, x.ok, x.non2xx, x.lost, x.reset, x.refused, x.timeout, x.aborted, x.unaccounted, num(x.refusedConnections) ?? 0, x.dropped,
  ]
  const rows = [row('all (router)', a), ...Object.entries(a.byRevision).map(([rev, x]) => row(rev, x))]
  const head = ['', 'requests', 'ok', 'non-2xx', 'lost', 'reset', 'refused', 'timeout', 'abandoned', 'unaccounted', 'refused connections', 'dropped']
  const cross = a.crossCheck ? `<p class="note">cross-check: ${a.crossCheck.consistent ? 'consistent' : 'INCONSISTENT'}: ${escapeHtml(a.crossCheck.note)}</p>` : ''
  const omitted = r.failures?.omitted ? `<p class="note">${r.failures.omitted} failed requests after the first ${r.failures.records.length} records are counted here but not marked on the timeline.</p>` : ''
  const d = r.dataCheck
  const failed = d === undefined ? 0 : writesFailed(d)
  const data = d === undefined
    ? ''
    : `<p class="note" id="data-check">data check${failed > 0 ? ' (WRITES LOST)' : ''}: ${escapeHtml(dataCheckLine(d))}</p>` +
      (failed > 0 ? `<ul class="note">${d.problems.slice(0, 10).map((p) => `<li>${escapeHtml(dataProblemLine(p))}</li>`).join('')}</ul>` : '')
  const tunnels = (num(a.tunnels) ?? 0) > 0 || (num(a.brokenTunnels) ?? 0) > 0
    ? `<p class="note" id="tunnels">tunnels: ${num(a.tunnels) ?? 0} upgraded (101) connections, ${num(a.brokenTunnels) ?? 0} reset by the upstream while the client still had them open (counted as drops)</p>`
    : ''
  return table(head, rows, 'accounting') + cross + tunnels + omitted + data
}

function badReleaseLine(r: Report): string {
  const b = r.progressive?.badRelease
  if (!b) return ''
  const answers = b.failed === 1 ? '1 failed request' : `${b.failed} failed requests`
  const terms = b.terms ? ` = ${b.terms.gate} gate boundary + ${b.terms.lastBatch} ${b.gate === 'fixed' ? 'exposed requests outside its windows' : 'last scrape batch'} + ${b.terms.afterAbort} in flight or pinned after weight 0` : ''
  return (
    `<p class="note" id="bad-release">blast radius of ${escapeHtml(b.revision)} (stopped by the gate${b.stoppedBy ? `, ${escapeHtml(b.stoppedBy)}` : ''}): its ${answers} (${b.failedBeforeAbort} while exposed) are in the table's dropped column but not among the verdict's ${r.dropped} dropped: ` +
    `they are what the gate let through, held to its bound: ${escapeHtml(boundWording(b))}${escapeHtml(terms)}.</p>`
  )
}

function stepsTable(r: Report): string {
  const revs = [r.parameters.from.name, r.parameters.to.name]
  const rows = (r.steps ?? []).map((s) => [
    signedSecs(s.t),
    s.phase,
    s.action,
    ...revs.map((v) => {
      const c = s.revisions[v]
      return c ? `${c.ready}/${c.available}/${c.terminating}` : '-'
    }),
    s.requestsUntilNext === 0 ? '-' : revs.map((v) => `${v} ${pct(s.share[v] ?? 0)}`).join(' '),
  ])
  return table(['time', 'phase', 'action', ...revs.map((v) => `${v} ready/avail/term`), 'traffic until next step'], rows, 'steps')
}

function analysisTable(r: Report): string {
  const runs = r.progressive?.analyses ?? []
  if (runs.length === 0) return ''
  const points = pointsOf(runs)
  const withBaseline = points.some((p) => p.baseline !== undefined)
  const rows = points.map((p) => [
    signedSecs(p.t),
    p.analysis,
    p.decision,
    p.n ?? '?',
    p.k ?? '',
    pct(p.errorRate),
    p.estimate === undefined ? '' : pct(p.estimate),
    p.boundary === undefined ? '' : String(p.boundary),
    p.p99Ms === undefined ? 'n/a' : `${Math.round(p.p99Ms)} ms`,
    ...(withBaseline ? [p.baseline ?? ''] : []),
    p.message,
  ])
  const head = ['time', 'analysis', 'decision', 'n', 'k', 'error rate', 'estimate k/n', 'bound', 'p99', ...(withBaseline ? ['vs stable (k/n each side)'] : []), 'message']
  return `<h2>Analysis measurements</h2>${table(head, rows, 'measurements')}`
}

function failuresTable(r: Report): string {
  const groups = new Map<string, { cause: string; revision: string; instance: string; n: number; first: number; last: number }>()
  for (const f of failuresOf(r)) {
    const instance = f.instance ?? 'no endpoint'
    const key = `${f.cause}|${f.revision}|${instance}`
    const g = groups.get(key) ?? { cause: f.cause, revision: f.revision, instance, n: 0, first: f.t, last: f.t }
    g.n += num(f.count) ?? 1
    g.first = Math.min(g.first, f.t)
    g.last = Math.max(g.last, f.t)
    groups.set(key, g)
  }
  if (groups.size === 0) return ''
  const rows = [...groups.values()].sort((x, y) => x.first - y.first).map((g) => [g.cause, g.revision, g.instance, g.n, signedSecs(g.first), signedSecs(g.last)])
  return `<h2>Failed requests by cause and instance</h2>${table(['cause', 'revision', 'instance', 'requests', 'first', 'last'], rows, 'failures')}`
}

function instancesTable(r: Report): string {
  const rows = (r.instances ?? []).map((i) => {
    return [i.id, i.revision, i.port, i.restarts, instanceEnd(i)]
  })
  return table(['instance', 'revision', 'port', 'restarts', 'end'], rows, 'instances')
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:${W + 40}px;color:#222;padding:0 12px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:22px 0 6px}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-weight:600;margin-right:8px}
.verdict.promoted{background:#2ca02c}.verdict.rolled-back,.verdict.not-safe-to-stop{background:#e68a00}.verdict.rollback-failed,.verdict.dropped,.verdict.internal-error{background:#c62828}.verdict.interrupted{background:#666}
.summary{font-size:15px;margin:8px 0 14px}
table{border-collapse:collapse;margin:4px 0 8px;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
thead th{background:#f4f4f4}td{font-variant-numeric:tabular-nums}table.kv th{background:#f8f8f8;white-space:nowrap}
.note{color:#555;font-size:13px;margin:4px 0}
.chart{display:block;max-width:100%;height:auto;overflow:visible}
.grid{stroke:#eee}.origin{stroke:#999;stroke-dasharray:2 2}.step{stroke:#1f77b4;stroke-opacity:.35;stroke-width:1}
.tick{font-size:11px;fill:#666}.share-label{font-size:11px;fill:#333}.axis-label{font-size:12px;fill:#444}.lane-label{font-size:12px;fill:#333}
.lane-line{stroke:#f0f0f0}.empty{font-size:13px;fill:#2ca02c}
.desired{fill:none;stroke-width:2;stroke-dasharray:6 3}.observed{fill:none;stroke-width:1.5}.period{fill:transparent}.period:hover{fill:rgba(0,0,0,.04)}
.limit{stroke:#d62728;stroke-dasharray:4 3}.analysis-run{fill:rgba(31,119,180,.06)}
.mark{font-size:12px;fill:#222}.mark.killed{fill:#c62828}.mark.crashed{fill:#c62828}
.legend{font-size:12px;color:#444;margin:2px 0 2px ${LEFT}px}.legend span{margin-right:14px;white-space:nowrap}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}
.axis-caption{font-size:12px;color:#666;margin-left:${LEFT}px}
`

/** The whole page as a string. */
export function renderHtml(r: Report): string {
  const clock = clockOf(r)
  const axis = axisOf(r, clock)
  const revs = revisionsOf(r)
  const word = verdictWord(r)
  const cls = r.dropped > 0 ? 'dropped' : r.verdict === 'promoted' && r.stopCheck !== undefined && r.stopCheck.verdict !== 'safe' && r.stopCheck.verdict !== 'not-run' ? 'not-safe-to-stop' : r.verdict
  const title = `zerodrop ${r.parameters.strategy} ${r.parameters.from.name} → ${r.parameters.to.name}: ${word}, ${r.dropped} dropped`
  const revLegend = legend(revs.map((v) => [v, colourOf(revs, v)] as const))
  const causeLegend = legend(FAILURE_CAUSES.map((c) => [c, CAUSE_COLOURS[c] ?? '#000'] as const))
  const bad = r.progressive?.badRelease
  const badNote = bad ? `<p class="axis-caption">the non-2xx of ${escapeHtml(bad.revision)} (${bad.failed}) are the bad release's own answers, held to its bound, not drops</p>` : ''
  const stateLegend = legend([...Object.entries(STATE_COLOURS), ['▼ SIGTERM', '#fff'], ['| removed from router', '#fff'], ['● exited', '#fff'], ['✖ SIGKILL', '#fff'], ['✱ crash', '#fff']] as Array<[string, string]>)
  const decisionLegend = legend([['successful', '#2ca02c'], ['failed', '#d62728'], ['inconclusive', '#999999'], ['error', '#9467bd']])
  const analysis = analysisChart(r, axis)
  const body = [
    `<h1>${escapeHtml(`zerodrop deploy: ${r.parameters.strategy} ${r.parameters.from.name} → ${r.parameters.to.name}`)}</h1>`,
    `<p class="summary" id="verdict"><span class="verdict ${escapeHtml(cls)}">${word}</span>${escapeHtml(`${r.dropped} dropped${r.reason ? `; ${r.reason}` : ''}; ${r.load.requests} requests at ${r.load.rps.toFixed(0)} req/s; rollout ${secs(r.timing.rolloutDurationMs)}; exit ${r.exitCode}`)}</p>`,
    parametersTable(r),
    '<h2>Accounting (router, per request)</h2>',
    accountingTable(r),
    badReleaseLine(r),
    '<h2>Timeline</h2>',
    '<p class="axis-caption">seconds since the rollout started; blue vertical lines are the steps (hover for each action and value)</p>',
    revLegend,
    rpsChart(r, axis, clock, revs),
    causeLegend,
    failureChart(r, axis),
    badNote,
    legend([[`observed share to ${r.parameters.to.name} per second`, colourOf(revs, r.parameters.to.name)], ['desired share (dashed)', '#333']]),
    shareChart(r, axis, clock, revs),
    stateLegend,
    laneChart(r, axis, clock, revs),
    analysis ? decisionLegend + analysis : '',
    `<p class="note">latency per second is not in the data; the load generator over the whole run: p50 ${r.load.latencyMs.p50} ms, p99 ${r.load.latencyMs.p99} ms, max ${r.load.latencyMs.max} ms.</p>`,
    '<h2>Steps</h2>',
    stepsTable(r),
    analysisTable(r),
    failuresTable(r),
    '<h2>Instances</h2>',
    instancesTable(r),
    `<p class="note">logs: ${escapeHtml(r.runDir)}</p>`,
  ]
  return pageShell(title, body)
}

/** The page around the parts: the one stylesheet, and a policy that forbids any request. */
export function pageShell(title: string, body: readonly string[]): string {
  return (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">' +
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">' +
    '<meta name="viewport" content="width=device-width,initial-scale=1">' +
    `<title>${escapeHtml(title)}</title><style>${CSS}</style></head><body>\n${body.join('\n')}\n</body></html>\n`
  )
}

/** Writes the page; the caller decides what a failure to write means (never the exit code). */
export function writeHtml(file: string, r: Report): void {
  fs.writeFileSync(file, renderHtml(r))
}
