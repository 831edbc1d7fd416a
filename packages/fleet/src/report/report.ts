import { ledgerGap, type Accounting } from './accounting.js'
import type { FleetEvent, InstanceRecord, RevisionCounts } from '../runtime/fleet.js'
import type { LoadResult } from '../load/load.js'
import { writesFailed, type DataCheckResult } from '../load/data-check.js'
import type { ResolvedDeployOptions, ResolvedProbe } from '../options/deploy.js'
import type { FailureLog, FailureRecord, RouterMode, RouterStats } from '../router/router.js'
import { formatAnalysisParameters, formatProgressive, type ProgressiveReport } from './progressive.js'
import type { StopCheckRecord } from '../strategies/stop-check.js'
import type { Outcome, StepRecord } from '../strategies/types.js'

/**
 * Every exit code of `zerodrop deploy` (the fleet README's table; `verify` adds 3). 70 is
 * sysexits' EX_SOFTWARE: a fault of zerodrop itself, never of the service under test.
 */
export const EXIT_CODES = Object.freeze({
  promoted: 0,
  dropped: 1,
  rolledBack: 2,
  notSafeToStop: 4,
  writesLost: 5,
  usage: 64,
  internal: 70,
  interrupted: 130,
  terminated: 143,
} as const)
export type DeployExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES]

/** How the deploy ended: a strategy's outcome, or it was stopped before it had one. */
export type Verdict = Outcome | 'interrupted' | 'internal-error'

export interface ReportStep extends StepRecord {
  /** share of the router's requests per revision from this step until the next one (0..1) */
  readonly share: Readonly<Record<string, number>>
  readonly requestsUntilNext: number
}

/** One failed request as the report carries it: the router's record, timed like the steps. */
export interface ReportFailure extends Omit<FailureRecord, 't'> {
  /** ms since the rollout started */
  readonly t: number
}

export interface ReportFailures {
  /** in time order, at most `FAILURE_RECORDS_CAP` (10 000) */
  readonly records: readonly ReportFailure[]
  /** failed requests past the cap: counted in the accounting, not listed */
  readonly omitted: number
}

export function reportFailures(log: FailureLog, originEpochMs: number): ReportFailures {
  return {
    records: log.records.map((f) => ({ ...f, t: f.t - originEpochMs })),
    omitted: log.omitted,
  }
}

export interface Report {
  readonly schema: 'zerodrop.report/v1'
  readonly verdict: Verdict
  /** see EXIT_CODES: 0 promoted, zero dropped, safe to stop, every write read back; 1 dropped > 0 (or the rollback failed); 5 writes lost or changed; 2 rolled back; 4 not safe to stop; 70, 130, 143 */
  readonly exitCode: DeployExitCode
  readonly reason: string | undefined
  readonly dropped: number
  /** both revisions answered requests successfully (no vacuous pass) */
  readonly bothRevisionsServed: boolean
  readonly parameters: {
    readonly strategy: string
    readonly from: { readonly name: string; readonly command: string }
    readonly to: { readonly name: string; readonly command: string }
    readonly replicas: number
    readonly router: RouterMode
    readonly routerPort: number
    readonly endpointDelayMs: number
    readonly terminationGracePeriodSeconds: number
    readonly rolling: ResolvedDeployOptions['rolling']
    readonly analysis?: ResolvedDeployOptions['analysis']
    readonly canary?: ResolvedDeployOptions['canary']
    readonly blueGreen?: ResolvedDeployOptions['blueGreen']
    readonly probes: ResolvedDeployOptions['probes']
    readonly load: ResolvedDeployOptions['load']
  }
  readonly timing: {
    readonly startedAt: string
    /** ms from the deploy's start until the rollout began (old revision up, load running) */
    readonly rolloutStartMs: number
    /** ms from the deploy's start until the fleet's clock began: `events[].t` counts from there */
    readonly eventsOriginMs: number
    /** ms from the rollout's start until it was complete (new revision available, old drained), or rolled back */
    readonly rolloutDurationMs: number
    /** ms the load was sending requests */
    readonly loadDurationMs: number
    /** ms the graceful stop took (outstanding requests finishing) */
    readonly loadStopMs: number
    readonly totalMs: number
  }
  readonly steps: readonly ReportStep[]
  readonly events: readonly FleetEvent[]
  readonly load: {
    /** requests the router forwarded (its count, not the load's) */
    readonly requests: number
    /** router requests per second while the load was sending */
    readonly rps: number
    /** the main load's latency (the generator's) */
    readonly latencyMs: LoadResult['generator']['latencyMs']
    /** the main load: the fleet's generator, its exact counts per outcome, connections and latency */
    readonly generator: LoadResult['generator']
    /** the same run in the shape of the section autocannon used to fill, kept for readers of older reports */
    readonly autocannon: LoadResult['autocannon']
    readonly exact: LoadResult['exact']
  }
  readonly accounting: Accounting
  readonly perSecond: RouterStats['perSecond']
  /** every failed request (and the failing 5xx of a release the analysis judged bad) with when, why, where */
  readonly failures: ReportFailures
  readonly instances: readonly InstanceRecord[]
  readonly runDir: string
  /** blue-green and canary: weights per period, analyses, flips, detection, a bad release against its bound */
  readonly progressive?: ProgressiveReport
  /** after promotion: one instance of the new revision stopped the Kubernetes way, and what it did */
  readonly stopCheck?: StopCheckRecord
  /** a mix with checked writes: after the load stopped, every write answered 2xx read back through the router (not in the accounting) */
  readonly dataCheck?: DataCheckResult
  /** interrupted or internal error: the report holds what was known when it stopped */
  readonly partial?: boolean
}

/**
 * Drops win over everything a strategy decided; then a write lost or changed (data a rollback
 * does not bring back); a promoted release must also be safe to stop.
 */
export function exitCodeFor(outcome: Outcome, dropped: number, stopCheck?: StopCheckRecord, dataCheck?: DataCheckResult): 0 | 1 | 2 | 4 | 5 {
  if (dropped > 0 || outcome === 'rollback-failed') return EXIT_CODES.dropped
  if (dataCheck !== undefined && writesFailed(dataCheck) > 0) return EXIT_CODES.writesLost
  if (outcome !== 'promoted') return EXIT_CODES.rolledBack
  if (stopCheck !== undefined && stopCheck.verdict !== 'safe') return EXIT_CODES.notSafeToStop
  return EXIT_CODES.promoted
}

export function withShares(steps: readonly StepRecord[], final: Readonly<Record<string, number>>): ReportStep[] {
  return steps.map((s, i) => {
    const next = steps[i + 1]?.routerRequests ?? final
    const delta: Record<string, number> = {}
    let sum = 0
    for (const rev of new Set([...Object.keys(next), ...Object.keys(s.routerRequests)])) {
      const d = (next[rev] ?? 0) - (s.routerRequests[rev] ?? 0)
      delta[rev] = d
      sum += d
    }
    const share: Record<string, number> = {}
    for (const [rev, d] of Object.entries(delta)) share[rev] = sum === 0 ? 0 : d / sum
    return { ...s, share, requestsUntilNext: sum }
  })
}

const pct = (x: number): string => `${Math.round(x * 100)}%`
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`
const pad = (s: string, n: number): string => (s.length >= n ? s + ' ' : s + ' '.repeat(n - s.length))

function probeLine(name: string, p: ResolvedProbe): string {
  if (!p.enabled) return `${name} off`
  return `${name} ${p.path} every ${p.periodMs} ms (timeout ${p.timeoutMs} ms, failure ${p.failureThreshold}, success ${p.successThreshold}${p.initialDelayMs ? `, delay ${p.initialDelayMs} ms` : ''})`
}

/** a percentage as given, beside what it resolved to */
function given(input: number | string): string {
  return typeof input === 'string' && input.includes('%') ? ` (${input})` : ''
}

function countsCell(c: RevisionCounts | undefined): string {
  if (!c) return '-'
  return `${c.ready}/${c.available}/${c.terminating}`
}

const VERDICT_WORDS: Readonly<Record<Verdict, string>> = {
  promoted: 'PROMOTED',
  'rolled-back': 'ROLLED BACK',
  'rollback-failed': 'ROLLBACK FAILED',
  interrupted: 'INTERRUPTED',
  'internal-error': 'INTERNAL ERROR',
}

/** The verdict in capitals, as every view of the report says it. */
export function verdictWord(r: Pick<Report, 'verdict' | 'exitCode'>): string {
  if (r.verdict === 'promoted' && r.exitCode === EXIT_CODES.notSafeToStop) return 'PROMOTED BUT NOT SAFE TO STOP'
  if (r.exitCode === EXIT_CODES.writesLost) return `${VERDICT_WORDS[r.verdict] ?? String(r.verdict).toUpperCase()} BUT WRITES LOST`
  return VERDICT_WORDS[r.verdict] ?? String(r.verdict).toUpperCase()
}

/** "240 checked writes answered 2xx: 238 verified, 2 lost, 0 changed, 0 unverified", and what was not read. */
export function dataCheckLine(d: DataCheckResult): string {
  const e = d.earlier
  return `${d.writes} checked writes answered 2xx: ${d.writesVerified} verified, ${d.lostWrites} lost, ${d.changedWrites} changed, ${d.unverifiedWrites} unverified` +
    (e === undefined ? '' : `; ${e.writes} earlier deploys' writes: ${e.writesVerified} verified, ${e.lostWrites} lost, ${e.changedWrites} changed, ${e.unverifiedWrites} unverified`) +
    ` (read back through the router in ${secs(d.durationMs)}${d.untrackedWrites > 0 ? `; ${d.untrackedWrites} more past the bound of ${d.maxWrites} not read` : ''})`
}

/** One problem of the data check, for a person: "lost: '…-17' id 42, GET /items/42 → 404". */
export function dataProblemLine(p: DataCheckResult['problems'][number]): string {
  const read = p.path === undefined ? '' : `, GET ${p.path}${p.status === undefined ? '' : ` → ${p.status}`}`
  const got = p.kind === 'changed' || (p.kind === 'lost' && p.got !== undefined) ? `, read back ${JSON.stringify(p.got)}` : ''
  return `${p.kind}${p.earlier ? ' (an earlier deploy\'s write)' : ''}: '${p.value}'${p.id === undefined ? '' : ` id ${p.id}`}${read}${got}${p.error === undefined ? '' : ` (${p.error})`}`
}

/** The terminal summary: parameters, steps, load, accounting, verdict. */
/** How an instance ended, with the drain delay it reported: one phrase for every report format. */
export function instanceEnd(i: InstanceRecord): string {
  const t = i.termination
  if (!t) return 'stopped with the fleet'
  return `${t.killed ? 'SIGKILLed after the grace period' : 'exited'} ${secs(t.durationMs)} after SIGTERM (code ${String(t.code)}${t.signal ? `, ${t.signal}` : ''})` +
    (t.drainDelay ? `, drain delay ${secs(t.drainDelay.ms)} (${t.drainDelay.endedBy})` : '')
}

export function formatReport(r: Report): string {
  const p = r.parameters
  const out: string[] = []
  const revs = [p.from.name, p.to.name]
  out.push(`zerodrop deploy: ${p.strategy}, ${p.replicas} replicas, ${p.router} router on 127.0.0.1:${p.routerPort}`)
  out.push(`  from ${p.from.name}: ${p.from.command}`)
  out.push(`  to   ${p.to.name}: ${p.to.command}`)
  out.push(
    `  maxSurge ${p.rolling.maxSurge}${given(p.rolling.maxSurgeInput)}, maxUnavailable ${p.rolling.maxUnavailable}${given(p.rolling.maxUnavailableInput)}, ` +
      `minReadySeconds ${p.rolling.minReadySeconds}, progressDeadlineSeconds ${p.rolling.progressDeadlineSeconds}`,
  )
  out.push(`  endpointDelayMs ${p.endpointDelayMs}, terminationGracePeriodSeconds ${p.terminationGracePeriodSeconds}`)
  if (p.analysis) out.push(`  ${formatAnalysisParameters(p.analysis, p.canary, p.blueGreen)}`)
  out.push(`  probes: ${probeLine('startup', p.probes.startup)}; ${probeLine('readiness', p.probes.readiness)}; ${probeLine('liveness', p.probes.liveness)}`)
  const l = p.load
  out.push(
    `  load: ${l.connections} keep-alive connections at ${l.rate} req/s in bursts of ${l.burst}, reconnect every ${l.reconnectRate || 'never'} requests, ${l.method} ${l.path}` +
      (l.exactClients ? `; ${l.exactClients} exact clients every ${l.exactIntervalMs} ms` : ''),
  )
  out.push('')
  out.push('steps (ready/available/terminating per revision; traffic share until the next step)')
  out.push(`  ${pad('time', 9)}${pad('phase', 9)}${pad('action', 52)}${revs.map((v) => pad(v, 9)).join('')}traffic`)
  for (const s of r.steps) {
    const share = s.requestsUntilNext === 0 ? '-' : revs.map((v) => `${v} ${pct(s.share[v] ?? 0)}`).join(' ')
    out.push(`  ${pad(`+${secs(s.t)}`, 9)}${pad(s.phase, 9)}${pad(s.action, 52)}${revs.map((v) => pad(countsCell(s.revisions[v]), 9)).join('')}${share}`)
  }
  out.push('')
  const a = r.accounting
  out.push(
    `load      ${r.load.requests} requests through the router in ${secs(r.timing.loadDurationMs)} = ${r.load.rps.toFixed(0)} req/s; ` +
      `latency p50 ${r.load.latencyMs.p50} ms, p99 ${r.load.latencyMs.p99} ms, max ${r.load.latencyMs.max} ms (load generator, ${r.load.generator.connectionsOpened} connections opened)`,
  )
  const gap = ledgerGap(a)
  out.push(
    `requests  ${a.requests} sent = ${a.ok} ok + ${a.non2xx} non-2xx + ${a.lost} lost + ${a.reset} reset + ${a.refused} refused + ${a.timeout} timeout` +
      ` + ${a.aborted} aborted + ${a.unaccounted} unaccounted (router counts; ${a.noEndpoint.requests} of the refused found no endpoint)` +
      (gap === 0 ? '' : `; LEDGER BROKEN: the parts exceed what was sent by ${gap}`) +
      (a.unsolicited ? `; ${a.unsolicited} responses came with no request outstanding (not counted)` : ''),
  )
  out.push(
    `conns     ${a.connections} opened + ${a.refusedConnections} refused (never carried a request; counted as drops; ${a.noEndpoint.connections} found no endpoint)`,
  )
  if ((a.tunnels ?? 0) > 0 || (a.brokenTunnels ?? 0) > 0) {
    const broken = Object.entries(a.byRevision).filter(([, x]) => (x.brokenTunnels ?? 0) > 0).map(([rev, x]) => `${rev} ${x.brokenTunnels}`)
    out.push(`tunnels   ${a.tunnels} upgraded (101) connections, ${a.brokenTunnels} reset by the upstream while the client still had them open (counted as drops${broken.length > 0 ? `: ${broken.join(', ')}` : ''})`)
  }
  for (const [rev, x] of Object.entries(a.byRevision)) {
    out.push(
      `  ${pad(rev, 8)} ${x.connections} connections (${x.refusedConnections} refused), ${x.requests} requests, ${x.ok} ok, ${x.dropped} dropped ` +
        `(non-2xx ${x.non2xx}, lost ${x.lost}, reset ${x.reset}, refused ${x.refused}, timeout ${x.timeout}, aborted ${x.aborted}, unaccounted ${x.unaccounted})`,
    )
  }
  if (a.crossCheck) out.push(`  cross-check: ${a.crossCheck.consistent ? 'consistent' : 'INCONSISTENT'}: ${a.crossCheck.note}`)
  out.push('')
  if (r.progressive) out.push(formatProgressive(r.progressive), '')
  out.push('instances')
  for (const i of r.instances) out.push(`  ${pad(i.id, 7)} port ${i.port}, ${i.restarts} restarts, ${instanceEnd(i)}`)
  out.push('')
  const d = r.dataCheck
  if (d) {
    const none = d.writes + (d.earlier?.writes ?? 0) === 0
    out.push(`writes    data check ${writesFailed(d) === 0 ? (none ? 'NOT RUN (no checked write answered 2xx)' : 'ALL VERIFIED') : 'WRITES LOST'}: ${dataCheckLine(d)}`)
    for (const p of d.problems.slice(0, 5)) out.push(`  ${dataProblemLine(p)}`)
    if (writesFailed(d) > 5) out.push(`  … ${writesFailed(d) - 5} more (the JSON report lists the first ${d.problems.length})`)
    out.push('')
  }
  if (r.stopCheck) {
    const c = r.stopCheck
    out.push(`stop check ${c.verdict === 'safe' ? 'SAFE TO STOP' : c.verdict === 'not-run' ? 'NOT RUN' : 'NOT SAFE TO STOP'}: ${c.detail}`)
    out.push('')
  }
  const word = verdictWord(r)
  const served = r.bothRevisionsServed ? 'both revisions served traffic' : 'NOT both revisions served traffic'
  out.push(
    `verdict   ${word}${r.reason ? ` (${r.reason})` : ''}; ${r.dropped} dropped; rollout ${secs(r.timing.rolloutDurationMs)}; ${served}; exit ${r.exitCode}`,
  )
  out.push(`logs      ${r.runDir}`)
  return out.join('\n')
}
