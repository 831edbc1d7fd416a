import type { Express, NextFunction, Request, Response } from 'express'
import { Lifecycle } from '../lifecycle.js'
import type { LifecycleOptions } from '../options.js'
import { UNMATCHED_ROUTE } from '../metrics.js'

/** The route template Express matched (`/users/:id`), never the raw URL. */
function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path
  return typeof path === 'string' ? req.baseUrl + path : UNMATCHED_ROUTE
}

/**
 * Mounts probes, metrics and request tracking on an Express app. Call it before the app's
 * own routes, then `lifecycle.attach(server)` and `lifecycle.markReady()` once listening:
 *
 *     const lifecycle = expressLifecycle(app)
 *     const server = app.listen(port, () => lifecycle.markReady())
 *     lifecycle.attach(server)
 */
export function expressLifecycle(app: Express, options?: LifecycleOptions): Lifecycle {
  const lifecycle = new Lifecycle(options)
  const metrics = lifecycle.metrics
  app.use(function zerodropLifecycle(req: Request, res: Response, next: NextFunction) {
    if (lifecycle.handleProbe(req, res)) return
    if (lifecycle.shed(res)) return
    if (metrics !== undefined) {
      const start = performance.now()
      // 'finish' comes once per response: on(), not once(), which wraps the listener per request
      res.on('finish', () => metrics.observe(req.method, routeOf(req), res.statusCode, (performance.now() - start) / 1000))
    }
    next()
  })
  return lifecycle
}

export type { Lifecycle }
