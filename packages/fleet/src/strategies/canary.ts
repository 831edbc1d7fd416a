import { fractions, Progressive, type Detection, type ProgressiveResult } from './progressive.js'
import type { Strategy, StrategyContext } from './types.js'

/**
 * Canary, as Argo Rollouts runs it (rollout/canary.go): `setWeight`, `pause` and inline
 * `analysis` steps over a stable revision that keeps serving the rest.
 *
 * - `l7` (a traffic router: the Gateway API plugin in k8s/canary): the weight is the exact share
 *   of requests; the stable revision stays at full count, the canary gets ceil(weight × replicas)
 *   instances (at least one).
 * - `l4` (no traffic router, like a plain Service): the weight can only be approximated by
 *   instance counts — canary ceil(weight × replicas), stable the rest (surge first: the canary is
 *   up before stable instances drain) — and only new connections reach new instances, so the
 *   achievable share is canary / all instances and connection churn is what moves traffic.
 *
 * A failed, inconclusive or errored analysis aborts: the weight goes to 0 at once (new
 * connections and requests reach stable only), the canary instances are drained gracefully
 * (SIGTERM, out of the pool after the endpoint lag, in-flight requests finish), the stable
 * revision is scaled back to full count. After the last step the canary is promoted: it is
 * brought to full count and takes 100 %, then the old stable drains.
 */
export const canary: Strategy = {
  name: 'canary',
  async run(ctx: StrategyContext): Promise<ProgressiveResult> {
    const p = new Progressive(ctx)
    const { from: stable, to: canaryRev, options: o, router } = ctx
    const n = o.replicas
    const exact = o.router === 'l7'
    let exposedAt: number | undefined
    let weight = 0
    const source = p.source(canaryRev)
    // the baseline: the stable over the same window, where it still serves traffic
    const baseline = o.analysis.compare === 'absolute' ? undefined : p.source(stable)
    const setWeight = async (w: number): Promise<string | undefined> => {
      const canaryN = w === 0 ? 0 : Math.max(1, Math.ceil((w * n) / 100))
      const stableN = exact ? n : n - canaryN
      ctx.step('canary', `setWeight ${w}: ${canaryRev.name} to ${canaryN} instances${exact ? '' : `, ${stable.name} to ${stableN}`}`)
      // surge first: the canary's instances are available before any stable instance drains
      if (!(await p.scale(canaryRev, canaryN))) return p.scaleFailure(canaryRev, canaryN)
      if (exact) router.setWeights({ [stable.name]: 100 - w, [canaryRev.name]: w })
      else router.setWeights(w >= 100 ? { [canaryRev.name]: 1 } : null)
      if (w > 0 && exposedAt === undefined) exposedAt = ctx.now()
      weight = w
      if (!exact && stableN < p.ctx.fleet.live(stable.name).length) await p.scale(stable, stableN)
      const achievable = exact ? fractions({ [stable.name]: 100 - w, [canaryRev.name]: w }) : fractions({ [stable.name]: stableN, [canaryRev.name]: canaryN })
      p.period(`weight ${w}`, fractions({ [stable.name]: 100 - w, [canaryRev.name]: w }), achievable)
      return undefined
    }

    const abort = async (reason: string, detectedAt: number | undefined, judgedBad = false): Promise<ProgressiveResult> => {
      const abortAt = ctx.now()
      router.setWeights({ [stable.name]: 1, [canaryRev.name]: 0 })
      const inFlightAtAbort = router.inFlightOlderThan(canaryRev.name, -1)
      p.period('abort: weight 0', { [stable.name]: 1, [canaryRev.name]: 0 }, { [stable.name]: 1, [canaryRev.name]: 0 })
      ctx.step('abort', `${reason}; weight ${weight} → 0, ${canaryRev.name} drained, ${stable.name} back to ${n}`)
      const scaleBack = p.scale(stable, n)
      // the requests the canary had in flight at weight 0 settle before its drain starts: what they
      // cost is the canary's (its blast radius), what its drain costs is the fleet's (drops)
      const abortWall = Date.now()
      await p.waitUntil(Math.min(o.load.timeoutMs, 10_000), () => router.inFlightOlderThan(canaryRev.name, Date.now() - abortWall) === 0)
      if (o.canary.abortScaleDownDelaySeconds > 0) await p.wait(o.canary.abortScaleDownDelaySeconds * 1000)
      const drainAt = ctx.now()
      p.period('abort: canary drains', { [stable.name]: 1, [canaryRev.name]: 0 }, { [stable.name]: 1, [canaryRev.name]: 0 })
      p.terminateAll(canaryRev)
      const back = await scaleBack
      await ctx.fleet.settled()
      const restored = back && p.available(stable) >= n
      const stableRestoredAt = restored ? ctx.now() : undefined
      ctx.step('abort', restored ? `complete: ${stable.name} ${n}/${n} available, ${canaryRev.name} gone` : `${stable.name} could not be scaled back to ${n}`)
      const detection: Detection | undefined =
        detectedAt === undefined
          ? undefined
          : {
              revision: canaryRev.name,
              exposedAt,
              detectedAt,
              detectionMs: detectedAt - (exposedAt ?? detectedAt),
              abortAt,
              stableRestoredAt,
              abortToStableMs: stableRestoredAt === undefined ? undefined : stableRestoredAt - abortAt,
              inFlightAtAbort,
              drainAt,
            }
      await p.close()
      return {
        outcome: restored ? 'rolled-back' : 'rollback-failed',
        reason,
        completedAt: ctx.now(),
        progressive: p.record('canary', judgedBad, detection),
      }
    }

    try {
      if (exact) router.setWeights({ [stable.name]: 100, [canaryRev.name]: 0 })
      p.period('weight 0', { [stable.name]: 1, [canaryRev.name]: 0 }, { [stable.name]: 1, [canaryRev.name]: 0 })
      ctx.step('canary', `start: ${o.canary.steps.length} steps, ${o.router} router (${exact ? 'weights are exact shares of requests' : 'weights approximated by instance counts, new connections only'})`)
      for (const [i, step] of o.canary.steps.entries()) {
        if ('setWeight' in step) {
          const failed = await setWeight(step.setWeight)
          if (failed !== undefined) return await abort(failed, undefined)
        } else if ('pause' in step) {
          ctx.step('canary', `pause ${step.pause.durationMs} ms`)
          await p.wait(step.pause.durationMs)
        } else {
          const run = await p.analyse(`step ${i + 1} (weight ${weight})`, source, weight < 100 ? baseline : undefined)
          // failed, inconclusive or errored: the gate stopped the canary (exit 2, its failures its blast radius)
          if (run.phase !== 'successful') return await abort(`analysis ${run.phase} at weight ${weight}: ${run.message}`, run.endedAt, true)
        }
      }
      // promotion: the canary at full count takes all traffic, then the old stable drains
      if (!(await p.scale(canaryRev, n))) return await abort(p.scaleFailure(canaryRev, n), undefined)
      router.setWeights({ [canaryRev.name]: 1 })
      p.period('promoted', { [canaryRev.name]: 1 }, { [canaryRev.name]: 1 })
      ctx.step('promote', `${canaryRev.name} takes 100 %; ${stable.name} drains`)
      p.terminateAll(stable)
      await ctx.fleet.settled()
      ctx.step('promote', `complete: ${canaryRev.name} ${p.available(canaryRev)}/${n} available, ${stable.name} gone`)
      await p.close()
      return { outcome: 'promoted', completedAt: ctx.now(), progressive: p.record('canary', false, undefined) }
    } finally {
      await p.close()
    }
  },
}
