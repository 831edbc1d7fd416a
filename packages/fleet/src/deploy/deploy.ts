import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { reckon } from '../report/accounting.js'
import { AbortedError, FleetUsageError, InstanceNotReadyError, InvalidOptionError } from '../core/errors.js'
import { Fleet } from '../runtime/fleet.js'
import { readBack, writesFailed, type DataCheckResult } from '../load/data-check.js'
import { noLoadResult, startLoad, type LoadResult, type RunningLoad } from '../load/load.js'
import { resolveDeployOptions, type DeployOptions, type ResolvedDeployOptions } from '../options/deploy.js'
import { assertBindable, LOOPBACK } from '../core/ports.js'
import { EXIT_CODES, exitCodeFor, reportFailures, withShares, type DeployExitCode, type Report, type Verdict } from '../report/report.js'
import { blueGreen } from '../strategies/blue-green.js'
import { canary } from '../strategies/canary.js'
import { checkGateCanDecide, isProgressive } from '../strategies/progressive.js'
import { progressiveReport } from '../report/progressive.js'
import { rolling } from '../strategies/rolling.js'
import { createRouter, type Router } from '../router/router.js'
import { emptyRevisionStats } from '../router/stats.js'
import { stopCheck, type StopCheckRecord } from '../strategies/stop-check.js'
import type { StepRecord, Strategy, StrategyContext, StrategyResult } from '../strategies/types.js'

const STRATEGY_IMPLEMENTATIONS: Readonly<Record<ResolvedDeployOptions['strategy'], Strategy>> = { rolling, 'blue-green': blueGreen, canary }

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** The live status line's source: the router's counters and the fleet's counts, every `statusIntervalMs`. */
function startStatus(o: ResolvedDeployOptions, r: Router, f: Fleet, t0: number, status: { phase: string; step: string }): NodeJS.Timeout {
  let last = { at: Date.now(), requests: 0 }
  const timer = setInterval(() => {
    const s = r.stats().total
    const now = Date.now()
    const fails = s.failures.lost + s.failures.reset + s.failures.refused + s.failures.timeout + s.aborted + s.refusedConnections
    const non2xx = s.responses['1xx'] + s.responses['3xx'] + s.responses['4xx'] + s.responses['5xx']
    // resetStats() at the load's start sets the count back
    const delta = s.requests >= last.requests ? s.requests - last.requests : s.requests
    const rps = now > last.at ? (delta * 1000) / (now - last.at) : 0
    last = { at: now, requests: s.requests }
    const minReadyMs = o.rolling.minReadySeconds * 1000
    const revisions: Record<string, { ready: number; available: number; terminating: number }> = {}
    for (const rev of [o.from.name, o.to.name]) {
      const c = f.counts(rev, minReadyMs)
      revisions[rev] = { ready: c.ready, available: c.available, terminating: c.terminating }
    }
    try {
      o.onStatus?.({ t: now - t0, phase: status.phase, step: status.step, revisions, rps, requests: s.requests, failed: fails + non2xx })
    } catch {
      // a status line that cannot be drawn must not stop the deploy
    }
  }, o.statusIntervalMs)
  timer.unref()
  return timer
}

const partialReports = new WeakMap<object, Report>()

/**
 * What a deploy that rejected (interrupted, or a fault of zerodrop itself) knew when it stopped:
 * the steps, events, instances and the router's counts so far. Usage errors have none.
 */
export function partialReportOf(err: unknown): Report | undefined {
  return typeof err === 'object' && err !== null ? partialReports.get(err) : undefined
}

/** The load's summary when the load never ran or never finished. */
function noLoad(o: ResolvedDeployOptions): LoadResult {
  return noLoadResult(o.load)
}

/**
 * Runs `from` as a fleet of `replicas` instances behind a router, drives load through the router,
 * deploys `to` with the strategy, stops the load gracefully and reports every request's fate.
 * Usage problems reject with a `FleetUsageError` (the CLI's exit 64); a rollout that drops
 * requests or rolls back resolves with a report saying so. Every process it started is gone
 * when the promise settles.
 */
export async function deploy(options: DeployOptions): Promise<Report> {
  const o = resolveDeployOptions(options)
  checkGateCanDecide(o)
  const startedAt = new Date()
  const t0 = Date.now()
  const progress = (message: string): void => o.onProgress?.({ t: Date.now() - t0, message })
  const runDir = o.runDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-'))
  fs.mkdirSync(runDir, { recursive: true })
  await assertBindable(o.port, 'port')

  let router: Router | undefined
  let fleet: Fleet | undefined
  let load: RunningLoad | undefined
  let loadStopped: Promise<LoadResult> | undefined
  let statusTimer: NodeJS.Timeout | undefined
  const status = { phase: 'starting', step: '' }
  let rolloutStart: number | undefined
  let result: StrategyResult | undefined
  let checked: StopCheckRecord | undefined
  let dataChecked: DataCheckResult | undefined
  let stoppedLoad: LoadResult | undefined
  // the router's counts when the load stopped: the data check's reads that follow are not the rollout's
  let frozen: { stats: ReturnType<Router['stats']>; failureLog: ReturnType<Router['failureLog']> } | undefined
  const steps: StepRecord[] = []
  const requestsByRevision = (): Record<string, number> => {
    const out: Record<string, number> = {}
    for (const [rev, s] of Object.entries((frozen?.stats ?? router?.stats())?.byRevision ?? {})) out[rev] = s.requests
    return out
  }

  /** The report from whatever is known now; the complete one at the end, a partial one on an interruption or an internal error. */
  const makeReport = (loadResult: LoadResult, end?: { verdict: Verdict; exitCode: DeployExitCode; reason: string }): Report => {
    const r = router
    const stats = frozen?.stats ?? r?.stats() ?? { total: { ...emptyRevisionStats(), noEndpoint: { requests: 0, connections: 0 } }, byRevision: {}, perSecond: [], openConnections: 0, inFlight: 0 }
    const accounting = reckon(stats, loadResult, o.router)
    const ok = (rev: string): number => accounting.byRevision[rev]?.ok ?? 0
    // a release the analysis judged bad: its non-2xx answers are what the gate let through,
    // reported against their bound (progressive-report.ts), not drops; every other failure is
    const progressive = result && isProgressive(result) ? progressiveReport(result.progressive, accounting, o.to.name) : undefined
    const dropped = accounting.dropped - (progressive?.badRelease?.failed ?? 0)
    const outcome = result?.outcome ?? 'rolled-back'
    return {
      schema: 'zerodrop.report/v1',
      verdict: end?.verdict ?? outcome,
      exitCode: end?.exitCode ?? exitCodeFor(outcome, dropped, checked, dataChecked),
      reason: end?.reason ?? result?.reason ?? (dataChecked && writesFailed(dataChecked) > 0
        ? `data check: ${dataChecked.lostWrites} writes lost, ${dataChecked.changedWrites} changed, ${dataChecked.unverifiedWrites} unverified of ${dataChecked.writes}` +
          (dataChecked.earlier ? `; earlier deploys' writes: ${dataChecked.earlier.lostWrites} lost, ${dataChecked.earlier.changedWrites} changed, ${dataChecked.earlier.unverifiedWrites} unverified of ${dataChecked.earlier.writes}` : '')
        : checked && checked.verdict !== 'safe' ? `not safe to stop: ${checked.detail}` : undefined),
      dropped,
      bothRevisionsServed: ok(o.from.name) > 0 && ok(o.to.name) > 0,
      parameters: {
        strategy: o.strategy,
        from: { name: o.from.name, command: o.from.display },
        to: { name: o.to.name, command: o.to.display },
        replicas: o.replicas,
        router: o.router,
        routerPort: r?.port ?? o.port,
        endpointDelayMs: o.endpointDelayMs,
        terminationGracePeriodSeconds: o.terminationGracePeriodSeconds,
        rolling: o.rolling,
        ...(o.strategy === 'rolling' ? {} : { analysis: o.analysis }),
        ...(o.strategy === 'canary' ? { canary: o.canary } : {}),
        ...(o.strategy === 'blue-green' ? { blueGreen: o.blueGreen } : {}),
        probes: o.probes,
        load: o.load,
      },
      timing: {
        startedAt: startedAt.toISOString(),
        rolloutStartMs: rolloutStart === undefined ? 0 : rolloutStart - t0,
        eventsOriginMs: (fleet?.t0 ?? t0) - t0,
        rolloutDurationMs: result?.completedAt ?? (rolloutStart === undefined ? 0 : Date.now() - rolloutStart),
        loadDurationMs: loadResult.sendingMs,
        loadStopMs: loadResult.durationMs - loadResult.sendingMs,
        totalMs: Date.now() - t0,
      },
      steps: withShares(steps, requestsByRevision()),
      events: fleet?.events ?? [],
      load: {
        requests: accounting.requests,
        rps: loadResult.sendingMs > 0 ? (accounting.requests * 1000) / loadResult.sendingMs : 0,
        latencyMs: loadResult.generator.latencyMs,
        generator: loadResult.generator,
        autocannon: loadResult.autocannon,
        exact: loadResult.exact,
      },
      accounting,
      perSecond: stats.perSecond,
      failures: reportFailures(frozen?.failureLog ?? r?.failureLog() ?? { records: [], omitted: 0 }, rolloutStart ?? t0),
      instances: fleet?.records() ?? [],
      runDir,
      ...(progressive === undefined ? {} : { progressive }),
      ...(checked === undefined ? {} : { stopCheck: checked }),
      ...(dataChecked === undefined ? {} : { dataCheck: dataChecked }),
      ...(end === undefined ? {} : { partial: true }),
    }
  }

  try {
    router = await createRouter({
      mode: o.router,
      host: LOOPBACK,
      port: o.port,
      requestTimeoutMs: o.load.timeoutMs,
      ...(o.upstreamIdleTimeoutMs === undefined ? {} : { upstreamIdleTimeoutMs: o.upstreamIdleTimeoutMs }),
    })
    const r = router
    const f = new Fleet(o, r, runDir, progress)
    fleet = f
    if (o.onStatus) statusTimer = startStatus(o, r, f, t0, status)
    const check = (): void => {
      if (f.fatal) throw f.fatal
      if (o.signal?.aborted) throw new AbortedError(String(o.signal.reason ?? 'signal'))
    }
    const waitUntil = async (ms: number, done: () => boolean = () => false): Promise<boolean> => {
      const end = Date.now() + ms
      while (Date.now() < end) {
        check()
        if (done()) return true
        await f.changed(Math.min(100, end - Date.now()))
      }
      check()
      return done()
    }

    progress(`router ${o.router} listening on 127.0.0.1:${r.port}; starting ${o.replicas} × ${o.from.name}: ${o.from.display}`)
    for (let i = 0; i < o.replicas; i++) await f.create(o.from)
    // bringing `from` up is not part of the rollout: give a slow machine at least a minute
    const initialDeadlineMs = Math.max(o.rolling.progressDeadlineSeconds, 60) * 1000
    let lastNote = Date.now()
    const allReady = await waitUntil(initialDeadlineMs, () => {
      const c = f.counts(o.from.name, o.rolling.minReadySeconds * 1000)
      if (Date.now() - lastNote > 5000) {
        lastNote = Date.now()
        progress(`waiting for ${o.from.name}: ${c.available}/${o.replicas} available, ${c.ready} ready`)
      }
      return c.available >= o.replicas
    })
    if (!allReady) {
      const notReady = f.live(o.from.name).filter((i) => !i.ready)
      const first = notReady[0]
      throw new InstanceNotReadyError(
        `--from: expected ${o.replicas} ready instances of '${o.from.display}' within ${initialDeadlineMs / 1000} s, instead ${notReady.length} never became ready ` +
          `(${notReady.map((i) => `${i.id} on port ${i.port}`).join(', ')}); check that the command listens on $PORT and answers ${o.probes.readiness.path}` +
          (first ? `; log ${first.logFile}${first.logTail() ? `\n--- last lines of ${first.id}'s log ---\n${first.logTail()}` : ''}` : ''),
        'from',
      )
    }

    const url = `http://127.0.0.1:${r.port}${o.load.path}`
    const graceMs = o.terminationGracePeriodSeconds * 1000
    const maxLoadMs = o.load.leadMs + o.load.tailMs + (2 * o.replicas + 3) * (o.rolling.progressDeadlineSeconds * 1000 + graceMs + o.endpointDelayMs) + 60_000
    r.resetStats()
    progress(`${o.from.name} ${o.replicas}/${o.replicas} ready; load ${o.load.rate} req/s over ${o.load.connections} connections to ${url}`)
    load = await startLoad(url, o.load, maxLoadMs)
    status.phase = 'lead'
    const runningLoad = load
    await waitUntil(o.load.leadMs)
    // a request shape the running revision does not answer with 2xx would count every request as dropped
    const lead = r.stats().total
    if (lead.requests >= 20 && lead.responses['2xx'] === 0) {
      const got = Object.entries(lead.responses).filter(([, n]) => n > 0).map(([c, n]) => `${n} × ${c}`).join(', ') || 'no responses'
      throw new InvalidOptionError('load.path', `${o.from.name} to answer ${o.load.method} ${o.load.path} with 2xx before the rollout starts`, `${got} in ${lead.requests} requests`)
    }

    rolloutStart = Date.now()
    const started = rolloutStart
    const ctx: StrategyContext = {
      options: o,
      from: o.from,
      to: o.to,
      fleet: f,
      router: r,
      signal: o.signal ?? new AbortController().signal,
      now: () => Date.now() - started,
      step(phase, action) {
        const minReadyMs = o.rolling.minReadySeconds * 1000
        steps.push({
          t: Date.now() - started,
          phase,
          action,
          revisions: { [o.from.name]: f.counts(o.from.name, minReadyMs), [o.to.name]: f.counts(o.to.name, minReadyMs) },
          routerRequests: requestsByRevision(),
        })
        status.phase = phase
        status.step = action
        progress(`${phase}: ${action}`)
      },
      progress,
      check,
    }
    const strategy = STRATEGY_IMPLEMENTATIONS[o.strategy]
    result = await strategy.run(ctx)
    const rolloutDurationMs = result.completedAt
    if (result.outcome === 'promoted' && o.stopCheck) {
      progress(`promoted after ${(rolloutDurationMs / 1000).toFixed(1)} s; stop check: one ${o.to.name} instance replaced surge-first and stopped under load`)
      checked = await stopCheck(ctx)
    }

    status.phase = 'tail'
    status.step = `${result.outcome}; load runs ${o.load.tailMs} ms more`
    progress(`${result.outcome} after ${(rolloutDurationMs / 1000).toFixed(1)} s; load runs ${o.load.tailMs} ms more, then stops gracefully`)
    await Promise.all([waitUntil(o.load.tailMs), o.afterRollout?.({ outcome: result.outcome })])
    loadStopped = runningLoad.stop()
    const loadResult = await loadStopped
    stoppedLoad = loadResult
    // let the router settle the last responses and see the clients' sockets close
    const settleEnd = Date.now() + 3000
    while (r.stats().openConnections > 0 && Date.now() < settleEnd) await sleep(20)
    frozen = { stats: r.stats(), failureLog: r.failureLog() }
    const ledger = loadResult.writes
    if (ledger !== undefined || o.recheckWrites.length > 0) {
      status.phase = 'data check'
      const earlier = o.recheckWrites.length > 0 ? ` and ${o.recheckWrites.length} of earlier deploys` : ''
      progress(`data check: reading back ${ledger?.writes.length ?? 0} checked writes${earlier} through the router (at most ${o.load.dataCheckTimeoutMs} ms)`)
      dataChecked = await readBack({
        url: `http://127.0.0.1:${r.port}`,
        specs: o.load.requests,
        ledger,
        earlier: o.recheckWrites,
        maxWrites: o.load.dataCheckMaxWrites,
        headers: o.load.headers,
        timeoutMs: o.load.dataCheckTimeoutMs,
        requestTimeoutMs: o.load.timeoutMs,
        ...(o.signal === undefined ? {} : { signal: o.signal }),
      })
      check()
      const failed = writesFailed(dataChecked)
      const e = dataChecked.earlier
      progress(
        `data check: ${dataChecked.writesVerified}/${dataChecked.writes} verified` +
          (failed > 0 ? `, ${dataChecked.lostWrites} lost, ${dataChecked.changedWrites} changed, ${dataChecked.unverifiedWrites} unverified` : '') +
          (e === undefined ? '' : `; earlier writes ${e.writesVerified}/${e.writes} verified, ${e.lostWrites} lost, ${e.changedWrites} changed, ${e.unverifiedWrites} unverified`),
      )
    }
    return makeReport(loadResult)
  } catch (err) {
    if (err instanceof FleetUsageError) throw err
    const interrupted = err instanceof AbortedError
    let loadResult: LoadResult | undefined
    if (interrupted && fleet !== undefined) {
      // SIGINT/SIGTERM: stop the load gracefully, then drain every instance the usual way
      // (SIGTERM, out of the router after the endpoint lag, SIGKILL after the grace); a second
      // signal makes the CLI kill at once
      progress('interrupted: stopping the load gracefully, then draining every instance')
      if (load && !loadStopped) {
        loadStopped = load.stop()
        loadResult = await loadStopped.catch(() => undefined)
      }
      for (const i of fleet.all()) if (i.state !== 'stopped' && i.terminatingSince === undefined) void fleet.terminate(i)
      await fleet.settled()
    }
    try {
      const signal = String(o.signal?.reason ?? '')
      const end = interrupted
        ? { verdict: 'interrupted' as const, exitCode: signal === 'SIGTERM' ? EXIT_CODES.terminated : EXIT_CODES.interrupted, reason: `interrupted by ${signal || 'an abort'}` }
        : { verdict: 'internal-error' as const, exitCode: EXIT_CODES.internal, reason: `internal error: ${(err as Error)?.message ?? String(err)}` }
      partialReports.set(err as object, makeReport(loadResult ?? stoppedLoad ?? noLoad(o), end))
    } catch {
      // the partial report is best effort; the error itself is what matters
    }
    throw err
  } finally {
    clearInterval(statusTimer)
    // on an error or an abort: instances first (requests to them now fail fast), then the load
    await fleet?.killAll()
    if (load && !loadStopped) await load.stop().catch(() => undefined)
    await router?.close().catch(() => undefined)
  }
}
