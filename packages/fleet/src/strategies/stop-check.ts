import type { Instance } from '../runtime/instance.js'
import type { RevisionStats } from '../router/types.js'
import type { StrategyContext } from './types.js'

export const STOP_CHECK_VERDICTS = ['safe', 'ignored-sigterm', 'exited-at-once', 'exit-code', 'dropped', 'not-run'] as const
export type StopCheckVerdict = (typeof STOP_CHECK_VERDICTS)[number]

/** One instance of the new revision stopped the Kubernetes way after promotion, under load, and what was seen. */
export interface StopCheckRecord {
  readonly verdict: StopCheckVerdict
  /** one line a person on call reads: what was stopped and what it did */
  readonly detail: string
  /** the instance stopped */
  readonly instance: string | undefined
  /** its surge replacement, ready before the SIGTERM */
  readonly replacement: string | undefined
  /** ms since the rollout started */
  readonly sigtermAt: number | undefined
  /** ms from SIGTERM until its process group was gone */
  readonly exitedAfterMs: number | undefined
  readonly code: number | null
  readonly signal: string | null
  /** SIGKILL was needed after terminationGracePeriodSeconds */
  readonly killed: boolean
  readonly endpointDelayMs: number
  readonly gracePeriodMs: number
  /** from SIGTERM until it was gone, the new revision's: requests forwarded, 2xx answers returned (some to earlier requests), drops (not 2xx, lost, reset, refused, timed out; refused connections) */
  readonly during: { readonly requests: number; readonly ok: number; readonly dropped: number }
}

function drops(s: RevisionStats | undefined): number {
  if (!s) return 0
  const r = s.responses
  const f = s.failures
  return r['1xx'] + r['3xx'] + r['4xx'] + r['5xx'] + f.lost + f.reset + f.refused + f.timeout + s.refusedConnections
}

/**
 * The new revision's own drain, proven (docs/architecture.md "Stop check"): a rollout only ever
 * stops the old revision, so a release whose shutdown is broken would pass and break the next
 * deploy. After promotion, with the load still running: one more instance of it starts (surge
 * first, so a one-replica fleet keeps serving), and once it is available the oldest one gets
 * SIGTERM, leaves the router after the endpoint lag and is SIGKILLed after the grace period. It
 * is judged like every drain: it must keep serving through the endpoint lag, exit 0 within the
 * grace period, and drop nothing.
 */
export async function stopCheck(ctx: StrategyContext): Promise<StopCheckRecord> {
  const { fleet, router, options: o, to } = ctx
  const minReadyMs = o.rolling.minReadySeconds * 1000
  const gracePeriodMs = o.terminationGracePeriodSeconds * 1000
  const base = { endpointDelayMs: o.endpointDelayMs, gracePeriodMs, code: null, signal: null, killed: false, during: { requests: 0, ok: 0, dropped: 0 } }
  const victim: Instance | undefined = [...fleet.live(to.name)].filter((i) => i.ready).sort((a, b) => a.createdAt - b.createdAt)[0]
  if (victim === undefined) {
    return { ...base, verdict: 'not-run', detail: `no ready instance of ${to.name} to stop`, instance: undefined, replacement: undefined, sigtermAt: undefined, exitedAfterMs: undefined }
  }
  ctx.step('stop-check', `surge: one more ${to.name} before ${victim.id} is stopped`)
  const replacement = await fleet.create(to)
  const deadline = Date.now() + o.rolling.progressDeadlineSeconds * 1000
  while (!replacement.available(minReadyMs) && Date.now() < deadline && fleet.cannotStart(to.name) === undefined) {
    ctx.check()
    await fleet.changed(100)
  }
  ctx.check()
  if (!replacement.available(minReadyMs)) {
    const why = fleet.cannotStart(to.name) ?? `it was not available within ${o.rolling.progressDeadlineSeconds} s (progressDeadlineSeconds)`
    void fleet.terminate(replacement)
    await fleet.settled()
    return { ...base, verdict: 'not-run', detail: `the surge instance ${replacement.id} never became available, so ${victim.id} was not stopped: ${why}`, instance: victim.id, replacement: replacement.id, sigtermAt: undefined, exitedAfterMs: undefined }
  }
  const before = router.stats().byRevision[to.name]
  const sigtermAt = ctx.now()
  ctx.step('stop-check', `SIGTERM ${victim.id}; out of the router after ${o.endpointDelayMs} ms, SIGKILL after ${o.terminationGracePeriodSeconds} s`)
  const t = await fleet.terminate(victim)
  const after = router.stats().byRevision[to.name]
  const requests = (after?.requests ?? 0) - (before?.requests ?? 0)
  const ok = (after?.responses['2xx'] ?? 0) - (before?.responses['2xx'] ?? 0)
  const dropped = drops(after) - drops(before)
  const seen = { ...base, instance: victim.id, replacement: replacement.id, sigtermAt, exitedAfterMs: t.durationMs, code: t.code, signal: t.signal, killed: t.killed, during: { requests, ok, dropped } }
  const exit = `${t.durationMs} ms after SIGTERM (code ${String(t.code)}${t.signal ? `, ${t.signal}` : ''})`
  const traffic = `meanwhile ${to.name} got ${requests} requests, answered ${ok} with 2xx, dropped ${dropped}`
  let verdict: StopCheckVerdict
  let detail: string
  if (t.killed) {
    verdict = 'ignored-sigterm'
    detail = `${victim.id} ignored SIGTERM: still running after the ${o.terminationGracePeriodSeconds} s grace period, SIGKILLed; ${traffic}`
  } else if (dropped > 0) {
    verdict = 'dropped'
    detail = `${victim.id} dropped requests while it stopped: exited ${exit}; ${traffic}`
  } else if (o.endpointDelayMs > 0 && t.durationMs < o.endpointDelayMs) {
    verdict = 'exited-at-once'
    detail = `${victim.id} exited ${exit}, before the router stopped sending to it (endpoint lag ${o.endpointDelayMs} ms): it does not drain; ${traffic}`
  } else if (t.code !== 0) {
    verdict = 'exit-code'
    detail = `${victim.id} exited ${exit}: a clean drain exits 0; ${traffic}`
  } else {
    verdict = 'safe'
    detail = `${victim.id} drained: exited ${exit}, ${replacement.id} took its place; ${traffic}`
  }
  ctx.step('stop-check', `${verdict}: ${detail}`)
  return { ...seen, verdict, detail }
}
