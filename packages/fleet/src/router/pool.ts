import type { Endpoint } from './types.js'
import { ROUTER_ERROR_CODES, RouterError } from '../core/errors.js'
import { isLoopback } from '../core/ports.js'

/**
 * The router's pool of ready endpoints and its balancing.
 *
 * Without weights: plain round robin over all endpoints in the order they were added.
 * With weights: smooth weighted round robin over revisions (nginx's algorithm, so a 95/5 split
 * is exact over every 20 picks, not just on average), then round robin within the revision.
 * Only revisions with a weight > 0 and at least one endpoint take part; a revision missing from
 * the weights gets no traffic; when no revision qualifies, the pick finds nothing (an empty pool),
 * as a Service whose selector matches no ready pod.
 */
export class EndpointPool {
  private readonly byId = new Map<string, Endpoint>()
  private ordered: Endpoint[] = []
  private readonly byRevision = new Map<string, Endpoint[]>()
  private rr = 0
  private readonly revisionRr = new Map<string, number>()
  private weights: Map<string, number> | null = null
  private readonly currentWeight = new Map<string, number>()

  add(endpoint: Endpoint): void {
    validateEndpoint(endpoint)
    const e: Endpoint = Object.freeze({ id: endpoint.id, revision: endpoint.revision, host: endpoint.host, port: endpoint.port })
    if (this.byId.has(e.id)) this.remove(e.id)
    this.byId.set(e.id, e)
    this.ordered.push(e)
    const list = this.byRevision.get(e.revision)
    if (list === undefined) this.byRevision.set(e.revision, [e])
    else list.push(e)
  }

  remove(id: string): Endpoint | undefined {
    const e = this.byId.get(id)
    if (e === undefined) return undefined
    this.byId.delete(id)
    this.ordered = this.ordered.filter((x) => x.id !== id)
    const list = (this.byRevision.get(e.revision) ?? []).filter((x) => x.id !== id)
    if (list.length === 0) this.byRevision.delete(e.revision)
    else this.byRevision.set(e.revision, list)
    return e
  }

  get(id: string): Endpoint | undefined {
    return this.byId.get(id)
  }

  list(): Endpoint[] {
    return [...this.ordered]
  }

  setWeights(weights: Record<string, number> | null): void {
    if (weights === null) {
      this.weights = null
      this.currentWeight.clear()
      return
    }
    if (typeof weights !== 'object') {
      throw new RouterError(
        ROUTER_ERROR_CODES.invalidWeights,
        `router weights must be an object of revision -> number or null, instead got ${typeof weights}; pass e.g. {v1: 95, v2: 5}`,
      )
    }
    const m = new Map<string, number>()
    for (const [rev, w] of Object.entries(weights)) {
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
        throw new RouterError(
          ROUTER_ERROR_CODES.invalidWeights,
          `router weight for revision '${rev}' must be a finite number >= 0, instead got ${String(w)}`,
        )
      }
      m.set(rev, w)
    }
    this.weights = m
    this.currentWeight.clear()
  }

  pick(): Endpoint | undefined {
    if (this.weights === null) {
      const n = this.ordered.length
      if (n === 0) return undefined
      const e = this.ordered[this.rr % n]
      this.rr = (this.rr + 1) % n
      return e
    }
    let total = 0
    let best: string | undefined
    let bestWeight = -Infinity
    for (const [rev, w] of this.weights) {
      if (w <= 0 || !this.byRevision.has(rev)) continue
      total += w
      const cw = (this.currentWeight.get(rev) ?? 0) + w
      this.currentWeight.set(rev, cw)
      if (cw > bestWeight) {
        bestWeight = cw
        best = rev
      }
    }
    if (best === undefined) return undefined
    this.currentWeight.set(best, bestWeight - total)
    const list = this.byRevision.get(best) as Endpoint[]
    const i = (this.revisionRr.get(best) ?? 0) % list.length
    this.revisionRr.set(best, (i + 1) % list.length)
    return list[i]
  }
}

function validateEndpoint(e: Endpoint): void {
  const bad = (what: string): never => {
    throw new RouterError(ROUTER_ERROR_CODES.invalidEndpoint, `router endpoint ${what}; received ${JSON.stringify(e)}`)
  }
  if (e === null || typeof e !== 'object') bad('must be an object {id, revision, host, port}')
  if (typeof e.id !== 'string' || e.id === '') bad('id must be a non-empty string')
  if (typeof e.revision !== 'string' || e.revision === '') bad(`'${e.id}' revision must be a non-empty string`)
  if (!Number.isInteger(e.port) || e.port <= 0 || e.port > 65535) bad(`'${e.id}' port must be an integer in 1..65535`)
  if (typeof e.host !== 'string' || !isLoopback(e.host)) {
    throw new RouterError(
      ROUTER_ERROR_CODES.notLoopback,
      `router endpoint '${String(e.id)}' host must be loopback (127.0.0.1, ::1 or localhost), instead got '${String(e.host)}'`,
    )
  }
}
