import { writesFailed } from '../load/data-check.js'
import { boundWording } from './progressive.js'
import { dataCheckLine, dataProblemLine, type Report, type ReportFailure } from './report.js'

/**
 * What a CI reader cares about in one deploy, as pass/fail checks: the JUnit test cases and the
 * rows of the Markdown summary are both views of this one list, so they cannot disagree.
 */
export interface Check {
  readonly name: string
  readonly ok: boolean
  /** a failure's kind, e.g. 'dropped', 'rolled-back', 'analysis-failed' */
  readonly type: string
  /** one line: what happened, where (the failure message, or what passed) */
  readonly message: string
  /** more lines for a failing check (the per-instance breakdown) */
  readonly detail?: string
  /** seconds the check's subject took, when it has a duration */
  readonly seconds?: number
  /** the check did not run (the reason in `message`): neither passed nor failed */
  readonly skipped?: boolean
}

const at = (ms: number): string => `${ms < 0 ? '−' : '+'}${(Math.abs(ms) / 1000).toFixed(1)} s`

/**
 * Failure records that count as drops: a release the gate stopped has its own failures (its
 * non-2xx answers, and whatever failed before its drain began) reported as its blast radius instead.
 */
export function droppedRecords(r: Report): ReportFailure[] {
  const records = r.failures?.records ?? []
  const bad = r.progressive?.badRelease?.revision
  const d = r.progressive?.detection
  const drainAt = d?.drainAt ?? d?.abortAt ?? Number.NEGATIVE_INFINITY
  return records.filter((f) => !(bad !== undefined && f.revision === bad && (f.cause === 'non-2xx' || f.t < drainAt)))
}

/** "2 × lost on v1-1 (v1) +3.2 s … +3.4 s; 1 × reset on v1-2 (v1) +9.0 s", largest first. */
export function whereDropped(records: readonly ReportFailure[], limit = 6): string {
  const groups = new Map<string, { n: number; first: number; last: number }>()
  for (const f of records) {
    const key = `${f.connection ? 'refused connection' : f.cause} on ${f.instance ?? 'no endpoint'} (${f.revision})`
    const g = groups.get(key) ?? { n: 0, first: f.t, last: f.t }
    g.n += f.count ?? 1
    g.first = Math.min(g.first, f.t)
    g.last = Math.max(g.last, f.t)
    groups.set(key, g)
  }
  const sorted = [...groups].sort((a, b) => b[1].n - a[1].n)
  const parts = sorted.slice(0, limit).map(([k, g]) => `${g.n} × ${k} ${g.first === g.last ? at(g.first) : `${at(g.first)} … ${at(g.last)}`}`)
  if (sorted.length > limit) parts.push(`${sorted.length - limit} more groups`)
  return parts.join('; ')
}

function causes(r: Report): string {
  const a = r.accounting
  const parts: Array<[string, number]> = [
    ['lost', a.lost], ['reset', a.reset], ['refused', a.refused], ['timeout', a.timeout], ['non-2xx', Math.max(0, a.non2xx - (r.progressive?.badRelease?.failed ?? 0))],
    ['abandoned', a.aborted], ['unaccounted', a.unaccounted], ['refused connections', a.refusedConnections ?? 0],
  ]
  return parts.filter(([, n]) => n > 0).map(([c, n]) => `${n} ${c}`).join(', ')
}

export function deployChecks(r: Report): Check[] {
  const out: Check[] = []
  const records = droppedRecords(r)
  const seconds = r.timing.rolloutDurationMs / 1000
  const omitted = r.failures?.omitted ? ` (and ${r.failures.omitted} more past the record cap)` : ''
  out.push(
    r.dropped === 0
      ? { name: 'zero requests dropped', ok: true, type: 'dropped', message: `0 dropped of ${r.accounting.requests} requests`, seconds }
      : {
          name: 'zero requests dropped',
          ok: false,
          type: 'dropped',
          message: `${r.dropped} dropped, ${r.accounting.requests} requests (${causes(r)})${records.length > 0 ? `: ${whereDropped(records, 3)}` : ''}`,
          detail: `${whereDropped(records, 50)}${omitted}`,
          seconds,
        },
  )
  out.push({
    name: 'promoted',
    ok: r.verdict === 'promoted',
    type: r.verdict,
    message: r.verdict === 'promoted' ? `${r.parameters.to.name} promoted in ${seconds.toFixed(1)} s` : `${r.verdict}${r.reason ? `: ${r.reason}` : ''}`,
    seconds,
  })
  out.push({
    name: 'both revisions served traffic',
    ok: r.bothRevisionsServed,
    type: 'vacuous',
    message: Object.entries(r.accounting.byRevision).map(([rev, a]) => `${rev} ${a.ok} ok`).join(', ') || 'no revision answered',
  })
  const x = r.accounting.crossCheck
  if (x) out.push({ name: 'exact clients agree with the router', ok: x.consistent, type: 'inconsistent', message: x.note })
  for (const a of r.progressive?.analyses ?? []) {
    out.push({
      name: `analysis: ${a.name}`,
      ok: a.phase === 'successful',
      type: `analysis-${a.phase}`,
      message: a.message,
      detail: a.measurements.map((m) => `${at(m.t)} ${m.phase}: ${m.message}`).join('\n'),
      seconds: Math.max(0, a.endedAt - a.startedAt) / 1000,
    })
  }
  const d = r.dataCheck
  if (d) {
    const failed = writesFailed(d)
    const none = d.writes + (d.earlier?.writes ?? 0) === 0
    out.push({
      name: 'every write reads back (data check)',
      ok: failed === 0,
      type: 'lost-writes',
      message: none ? 'no checked write was answered 2xx: nothing to read back' : dataCheckLine(d),
      ...(failed > 0 ? { detail: d.problems.map(dataProblemLine).join('\n') } : {}),
      ...(none ? { skipped: true } : {}),
      seconds: d.durationMs / 1000,
    })
  }
  const c = r.stopCheck
  if (c) {
    out.push({
      name: `${r.parameters.to.name} is safe to stop (stop check)`,
      ok: c.verdict === 'safe',
      type: `stop-check-${c.verdict}`,
      message: c.detail,
      ...(c.verdict === 'not-run' ? { skipped: true } : {}),
      ...(c.exitedAfterMs === undefined ? {} : { seconds: c.exitedAfterMs / 1000 }),
    })
  }
  const b = r.progressive?.badRelease
  if (b) {
    out.push({
      name: `blast radius of ${b.revision} within its bound`,
      ok: b.withinBound,
      type: 'above-bound',
      message:
        boundWording(b) +
        // reports written before the sequential gate have no terms
        (b.terms ? ` (bound = ${b.terms.gate} gate boundary + ${b.terms.lastBatch} ${b.gate === 'fixed' ? 'exposed requests outside its windows' : 'last scrape batch'} + ${b.terms.afterAbort} in flight or pinned after weight 0)` : ''),
    })
  }
  return out
}
