import { startExactLoad, type ExactLoad } from '../load/exact-client.js'
import { LOOPBACK } from '../core/ports.js'
import { analysisMaxMs } from '../options/progressive.js'
import { Progressive, type Detection, type ProgressiveResult } from './progressive.js'
import { createRouter, type Router } from '../router/router.js'
import type { Strategy, StrategyContext } from './types.js'

/**
 * Blue-green, as Argo Rollouts runs it (rollout/bluegreen.go):
 *
 * 1. green (the new revision, the same count) starts beside blue; the active router sends users
 *    to blue only, a second router — the preview Service — reaches green only;
 * 2. pre-promotion analysis on synthetic, bounded load sent to the preview: no user sees green
 *    before it is proven; a failure scales green down and users never saw it;
 * 3. the switch: all traffic at once, applied `endpointDelayMs` after it is ordered (a Service
 *    selector change propagates like an endpoints update); with `l4` connections already pinned
 *    to blue stay there until they close or blue's drain closes them;
 * 4. post-promotion analysis on live traffic; a failure flips back to blue, which is still up
 *    (kept for `scaleDownDelaySeconds` after the switch), then green drains;
 * 5. `scaleDownDelaySeconds` after the switch, blue drains gracefully.
 */
export const blueGreen: Strategy = {
  name: 'blue-green',
  async run(ctx: StrategyContext): Promise<ProgressiveResult> {
    const p = new Progressive(ctx)
    const { from: blue, to: green, options: o, router } = ctx
    const bg = o.blueGreen
    const n = o.replicas
    let preview: Router | undefined
    let synthetic: ExactLoad | undefined
    let previewSync: NodeJS.Timeout | undefined
    let scaleDownTimer: NodeJS.Timeout | undefined
    let blueScaledDown = false
    let previewCounts = { requests: 0, ok: 0, failed: 0 }
    const greenSource = p.source(green)

    // A selector change reaches the router after the endpoint lag, like any endpoints update; it is
    // ordered before anything is terminated, so it never lands after the terminated instances left the pool.
    const flipTimers = new Set<NodeJS.Timeout>()
    const flip = (to: string, why: string): Promise<void> => {
      const orderedAt = ctx.now()
      ctx.step('switch', `active → ${to} (${why}); applied after the ${o.endpointDelayMs} ms endpoint lag`)
      const apply = (): void => {
        router.setWeights({ [to]: 1 })
        p.flips.push({ orderedAt, effectiveAt: ctx.now(), to, why })
        p.period(`active ${to}`, { [to]: 1 }, { [to]: 1 })
      }
      if (o.endpointDelayMs === 0) {
        apply()
        return Promise.resolve()
      }
      return new Promise((resolve) => {
        const t = setTimeout(() => {
          flipTimers.delete(t)
          apply()
          resolve()
        }, o.endpointDelayMs)
        flipTimers.add(t)
      })
    }

    const stopPreview = async (): Promise<void> => {
      if (previewSync) clearInterval(previewSync)
      previewSync = undefined
      if (synthetic) {
        const r = await synthetic.stop()
        synthetic = undefined
        previewCounts = { requests: r.sent, ok: r.ok, failed: r.sent - r.ok }
      }
      await preview?.close()
    }

    const finish = async (result: Omit<ProgressiveResult, 'progressive'>, judgedBad: boolean, detection: Detection | undefined): Promise<ProgressiveResult> => {
      await stopPreview()
      await p.close()
      return { ...result, progressive: p.record('blue-green', judgedBad, detection, preview ? { port: preview.port, ...previewCounts } : undefined) }
    }

    try {
      router.setWeights({ [blue.name]: 1 })
      p.period(`active ${blue.name}`, { [blue.name]: 1 }, { [blue.name]: 1 })
      preview = await createRouter({ mode: o.router, host: LOOPBACK, port: bg.previewPort })
      const pv = preview
      p.addRouter(pv)
      // the preview Service's endpoints: green's ready instances, kept in sync like an endpoints controller
      const sync = (): void => {
        const ready = new Set(ctx.fleet.live(green.name).filter((i) => i.ready).map((i) => i.id))
        for (const e of pv.endpoints()) if (!ready.has(e.id)) pv.remove(e.id)
        const have = new Set(pv.endpoints().map((e) => e.id))
        for (const i of ctx.fleet.live(green.name)) if (i.ready && !have.has(i.id)) pv.add({ id: i.id, revision: green.name, host: i.host, port: i.port })
      }
      previewSync = setInterval(sync, 50)
      previewSync.unref()
      ctx.step('blue-green', `start: ${n} × ${green.name} beside ${blue.name}; preview on 127.0.0.1:${pv.port}`)
      if (!(await p.scale(green, n))) {
        const reason = p.scaleFailure(green, n)
        p.terminateAll(green)
        await ctx.fleet.settled()
        return await finish({ outcome: 'rolled-back', reason, completedAt: ctx.now() }, false, undefined)
      }
      sync()
      ctx.step('blue-green', `${green.name} ${n}/${n} available behind the preview; users still on ${blue.name}`)

      if (bg.prePromotionAnalysis) {
        const a = o.analysis
        const clients = Math.max(1, Math.min(20, Math.ceil(bg.previewRate / 5)))
        const maxMs = analysisMaxMs(a) + 30_000
        synthetic = startExactLoad({
          url: `http://127.0.0.1:${pv.port}${o.load.path}`,
          saturating: 0,
          paced: clients,
          pacedIntervalMs: Math.round((1000 * clients) / bg.previewRate),
          durationMs: maxMs,
          maxRequestsPerClient: Math.ceil((bg.previewRate * maxMs) / 1000 / clients),
          timeoutMs: o.load.timeoutMs,
          method: o.load.method,
          headers: o.load.headers,
          ...(o.load.body === undefined ? {} : { body: o.load.body }),
        })
        ctx.progress(`pre-promotion: synthetic load ${bg.previewRate} req/s on the preview`)
        const run = await p.analyse('pre-promotion', greenSource)
        await stopPreview()
        if (run.phase !== 'successful') {
          const reason = `pre-promotion analysis ${run.phase}: ${run.message}`
          ctx.step('abort', `${reason}; no user reached ${green.name}; ${green.name} drains`)
          p.terminateAll(green)
          await ctx.fleet.settled()
          const detection: Detection = {
            revision: green.name,
            exposedAt: undefined,
            detectedAt: run.endedAt,
            detectionMs: run.endedAt - run.startedAt,
            abortAt: ctx.now(),
            stableRestoredAt: ctx.now(),
            abortToStableMs: 0,
          }
          return await finish({ outcome: 'rolled-back', reason, completedAt: ctx.now() }, true, detection)
        }
      } else {
        await stopPreview()
      }

      if (bg.autoPromotionSeconds > 0) {
        ctx.step('blue-green', `green proven; switch in ${bg.autoPromotionSeconds} s (autoPromotionSeconds)`)
        await p.wait(bg.autoPromotionSeconds * 1000)
      }
      // the switch; blue is kept for scaleDownDelaySeconds from the moment it is ordered
      const scaleDownBlue = (): void => {
        if (blueScaledDown) return
        blueScaledDown = true
        ctx.step('scale-down', `${blue.name} drains (scaleDownDelaySeconds ${bg.scaleDownDelaySeconds} after the switch)`)
        p.terminateAll(blue)
      }
      const switchOrdered = Date.now()
      const switched = flip(green.name, 'promotion')
      if (bg.scaleDownDelaySeconds === 0) scaleDownBlue()
      else {
        scaleDownTimer = setTimeout(scaleDownBlue, bg.scaleDownDelaySeconds * 1000)
        scaleDownTimer.unref()
      }
      await switched
      ctx.check()
      const exposedAt = ctx.now()

      if (bg.postPromotionAnalysis) {
        const run = await p.analyse('post-promotion', greenSource)
        if (run.phase !== 'successful') {
          const reason = `post-promotion analysis ${run.phase}: ${run.message}`
          if (scaleDownTimer) clearTimeout(scaleDownTimer)
          const abortAt = ctx.now()
          if (blueScaledDown) {
            ctx.step('abort', `${reason}; ${blue.name} is already gone: scaling it back up before the flip`)
            blueScaledDown = false
            if (!(await p.scale(blue, n))) return await finish({ outcome: 'rollback-failed', reason: `${reason}; ${blue.name} could not be scaled back up`, completedAt: ctx.now() }, true, undefined)
          }
          const back = flip(blue.name, 'post-promotion analysis failed')
          p.terminateAll(green)
          await back
          await ctx.fleet.settled()
          const restoredAt = ctx.now()
          ctx.step('abort', `complete: ${blue.name} ${p.available(blue)}/${n} available and active, ${green.name} gone`)
          const detection: Detection = {
            revision: green.name,
            exposedAt,
            detectedAt: run.endedAt,
            detectionMs: run.endedAt - exposedAt,
            abortAt,
            stableRestoredAt: restoredAt,
            abortToStableMs: restoredAt - abortAt,
          }
          return await finish({ outcome: 'rolled-back', reason, completedAt: ctx.now() }, true, detection)
        }
      }
      const left = switchOrdered + bg.scaleDownDelaySeconds * 1000 - Date.now()
      if (left > 0) {
        ctx.progress(`promoted; ${blue.name} kept ${Math.ceil(left / 1000)} s more for an instant flip back (scaleDownDelaySeconds)`)
        await p.waitUntil(left + 1000, () => blueScaledDown)
      }
      scaleDownBlue()
      await ctx.fleet.settled()
      ctx.step('promote', `complete: ${green.name} ${p.available(green)}/${n} available and active, ${blue.name} gone`)
      return await finish({ outcome: 'promoted', completedAt: ctx.now() }, false, undefined)
    } finally {
      if (scaleDownTimer) clearTimeout(scaleDownTimer)
      for (const t of flipTimers) clearTimeout(t)
      await stopPreview().catch(() => undefined)
      await p.close()
    }
  },
}
