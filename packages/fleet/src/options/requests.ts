import { InvalidOptionError } from '../core/errors.js'

/**
 * One entry of a request mix, as `--request` takes it:
 *
 *     [WEIGHT*] METHOD PATH [BODY]
 *
 * e.g. `GET /items?limit=5`, `3* GET /`, `POST /items {"name":"{{seq}}"}`. WEIGHT (default 1) is the
 * entry's share of the load against the other entries' weights; BODY is the rest of the line after
 * the path (it may contain spaces). `{{seq}}` in the path or the body becomes a value unique to
 * the request within the run (`<run>-<sequence>`), so a write can be found again.
 */
export interface RequestSpec {
  readonly weight: number
  readonly method: string
  readonly path: string
  readonly body: string | undefined
  /** as the user typed it, for messages */
  readonly raw: string
}

const SPEC = /^\s*(?:(\d+)\s*\*\s*)?([A-Za-z]+)\s+(\/\S*)(?:\s+([\s\S]*\S))?\s*$/

export function parseRequestSpec(raw: string, option = 'load.requests'): RequestSpec {
  const m = SPEC.exec(raw)
  if (m === null) throw new InvalidOptionError(option, '\'[WEIGHT*] METHOD /PATH [BODY]\', e.g. \'POST /items {"name":"{{seq}}"}\'', raw)
  const weight = m[1] === undefined ? 1 : Number(m[1])
  if (!Number.isInteger(weight) || weight < 1 || weight > 1000) throw new InvalidOptionError(option, 'a weight from 1 to 1000 before the \'*\'', raw)
  return { weight, method: m[2]!.toUpperCase(), path: m[3]!, body: m[4], raw }
}

export interface MixedRequest {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string
}

const SEQ = /\{\{seq\}\}/g
const HAS_SEQ = /\{\{seq\}\}/

/**
 * The request for each sequence number: entries in proportion to their weights, interleaved (a
 * smooth weighted round-robin, so a 3:1 mix sends A A B A, not A A A B), `{{seq}}` filled in.
 * A body that looks like JSON gets `content-type: application/json` unless a header sets one.
 */
export function mixSource(specs: readonly RequestSpec[], headers: Readonly<Record<string, string>>, run: string): (sequence: number) => MixedRequest {
  if (specs.length === 0) throw new InvalidOptionError('load.requests', 'at least one request', specs)
  const cycle: number[] = []
  const total = specs.reduce((n, s) => n + s.weight, 0)
  const current = specs.map(() => 0)
  for (let k = 0; k < total; k++) {
    let best = 0
    for (let i = 0; i < specs.length; i++) {
      current[i]! += specs[i]!.weight
      if (current[i]! > current[best]!) best = i
    }
    current[best]! -= total
    cycle.push(best)
  }
  const hasType = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')
  const prepared = specs.map((s) => ({
    spec: s,
    headers: s.body !== undefined && !hasType && /^\s*[[{]/.test(s.body) ? { ...headers, 'content-type': 'application/json' } : { ...headers },
    templated: HAS_SEQ.test(s.path) || (s.body !== undefined && HAS_SEQ.test(s.body)),
  }))
  return (sequence) => {
    const p = prepared[cycle[sequence % cycle.length]!]!
    const value = `${run}-${sequence}`
    const fill = (t: string): string => (p.templated ? t.replace(SEQ, value) : t)
    return { method: p.spec.method, path: fill(p.spec.path), headers: p.headers, ...(p.spec.body === undefined ? {} : { body: fill(p.spec.body) }) }
  }
}
