import type { Instance } from '../runtime/instance.js'
import type { ResolvedRevision } from '../options/deploy.js'
import type { Strategy, StrategyContext, StrategyResult } from './types.js'

const TICK_MS = 100
const PROGRESS_EVERY_MS = 5000

type Converged = { readonly ok: true } | { readonly ok: false; readonly reason: string }

/**
 * The Deployment controller's rolling update (pkg/controller/deployment/rolling.go), replayed
 * against the local fleet: scale the new revision up while the total stays within
 * replicas + maxSurge, scale the old one down while the available count stays at or above
 * replicas − maxUnavailable, unhealthy old instances first. An instance is available after it has
 * been ready for minReadySeconds. Progress is any increase of the new revision's
 * total/ready/available counts or decrease of the old one's; none for progressDeadlineSeconds
 * stops the rollout and — where Kubernetes would only mark it failed — rolls back the same way.
 */
export const rolling: Strategy = {
  name: 'rolling',
  async run(ctx: StrategyContext): Promise<StrategyResult> {
    ctx.step('rollout', `start: ${ctx.to.name} replaces ${ctx.from.name}`)
    const forward = await converge(ctx, ctx.to, ctx.from, 'rollout')
    if (forward.ok) {
      ctx.step('rollout', `complete: ${ctx.to.name} ${ctx.options.replicas}/${ctx.options.replicas} available, ${ctx.from.name} gone`)
      return { outcome: 'promoted', completedAt: ctx.now() }
    }
    ctx.progress(`rollout stopped: ${forward.reason}; rolling back to ${ctx.from.name}`)
    ctx.step('rollback', `start: ${forward.reason}`)
    const back = await converge(ctx, ctx.from, ctx.to, 'rollback')
    if (back.ok) {
      ctx.step('rollback', `complete: ${ctx.from.name} ${ctx.options.replicas}/${ctx.options.replicas} available, ${ctx.to.name} gone`)
      return { outcome: 'rolled-back', reason: forward.reason, completedAt: ctx.now() }
    }
    ctx.step('rollback', `failed: ${back.reason}`)
    return { outcome: 'rollback-failed', reason: `${forward.reason}; then the rollback failed: ${back.reason}`, completedAt: ctx.now() }
  },
}

/** Kubernetes' ReplicaSet deletion ranking, reduced: not ready before ready, then the most recently ready. */
function deletionOrder(minReadyMs: number, now: number) {
  return (a: Instance, b: Instance): number => {
    const rank = (i: Instance): number => (i.ready ? (i.available(minReadyMs, now) ? 2 : 1) : 0)
    const r = rank(a) - rank(b)
    if (r !== 0) return r
    return (b.readySince ?? b.createdAt) - (a.readySince ?? a.createdAt)
  }
}

async function converge(ctx: StrategyContext, target: ResolvedRevision, old: ResolvedRevision, phase: string): Promise<Converged> {
  const { fleet, options } = ctx
  const n = options.replicas
  const { maxSurge, maxUnavailable, minReadySeconds, progressDeadlineSeconds } = options.rolling
  const minReadyMs = minReadySeconds * 1000
  const deadlineMs = progressDeadlineSeconds * 1000
  let lastProgress = Date.now()
  let lastReport = Date.now()
  let best = { total: -1, ready: -1, available: -1, oldTotal: Number.POSITIVE_INFINITY }

  for (;;) {
    ctx.check()
    const cannotStart = fleet.cannotStart(target.name)
    if (cannotStart !== undefined) return { ok: false, reason: cannotStart }
    const now = Date.now()
    const nw = fleet.counts(target.name, minReadyMs)
    const od = fleet.counts(old.name, minReadyMs)
    if (nw.total > best.total || nw.ready > best.ready || nw.available > best.available || od.total < best.oldTotal) {
      lastProgress = now
      best = {
        total: Math.max(best.total, nw.total),
        ready: Math.max(best.ready, nw.ready),
        available: Math.max(best.available, nw.available),
        oldTotal: Math.min(best.oldTotal, od.total),
      }
    }
    if (nw.available >= n && od.total === 0) {
      if (fleet.counts(old.name, minReadyMs).terminating > 0) ctx.progress(`waiting for ${old.name} instances to finish draining`)
      await fleet.settled()
      ctx.check()
      return { ok: true }
    }
    if (now - lastProgress > deadlineMs) {
      return {
        ok: false,
        reason: `progress deadline exceeded: no progress for ${progressDeadlineSeconds} s (${target.name} ${nw.available}/${n} available, ${nw.ready} ready, ${nw.total} created)`,
      }
    }

    // scale up the target, within replicas + maxSurge
    const up = Math.min(n - nw.total, n + maxSurge - (nw.total + od.total))
    if (up > 0) {
      for (let i = 0; i < up; i++) await fleet.create(target)
      ctx.step(phase, `scale up ${target.name} to ${nw.total + up}`)
      continue
    }

    // scale down the old revision, keeping replicas − maxUnavailable available
    if (od.total > 0) {
      const minAvailable = n - maxUnavailable
      const newUnavailable = nw.total - nw.available
      const maxScaledDown = nw.total + od.total - minAvailable - newUnavailable
      const order = deletionOrder(minReadyMs, now)
      const oldInstances = fleet.live(old.name).sort(order)
      const unhealthy = oldInstances.filter((i) => !i.available(minReadyMs, now))
      const healthy = oldInstances.filter((i) => i.available(minReadyMs, now))
      const victims: Instance[] = maxScaledDown > 0 ? unhealthy.slice(0, maxScaledDown) : []
      const healthyDown = Math.max(0, nw.available + od.available - minAvailable)
      victims.push(...healthy.slice(0, healthyDown))
      if (victims.length > 0) {
        for (const v of victims) void fleet.terminate(v)
        ctx.step(phase, `scale down ${old.name} to ${od.total - victims.length} (SIGTERM ${victims.map((v) => v.id).join(', ')})`)
        continue
      }
    }

    if (Date.now() - lastReport >= PROGRESS_EVERY_MS) {
      lastReport = Date.now()
      ctx.progress(
        `${phase}: ${target.name} ${nw.available}/${n} available (${nw.ready} ready, ${nw.total} created), ${old.name} ${od.total} left, ${od.terminating} draining; ` +
          `${Math.round((Date.now() - lastProgress) / 1000)} s without progress (deadline ${progressDeadlineSeconds} s)`,
      )
    }
    await fleet.changed(TICK_MS)
  }
}
