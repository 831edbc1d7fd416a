import { InvalidOptionError } from '../core/errors.js'

/**
 * One entry of a request mix, as `--request` takes it:
 *
 *     [WEIGHT*] METHOD PATH [BODY] [=> GET READ_PATH VALUE_FIELD]
 *
 * e.g. `GET /items?limit=5`, `3* GET /`, `POST /items {"name":"{{seq}}"}`. WEIGHT (default 1) is the
 * entry's share of the load against the other entries' weights; BODY is the rest of the line after
 * the path (it may contain spaces). `{{seq}}` in the path or the body becomes a value unique to
 * the request within the run (`<run>-<sequence>`), so a write can be found again.
 *
 * The `=>` clause makes the entry a checked write (the data check, docs/architecture.md): its
 * `{{seq}}` value must come back. READ_PATH holds one `{{.ID_FIELD}}`, the JSON field of the
 * write's 2xx answer that names what was written (`{{.id}}`, `{{.data.id}}`, `{{.}}` for an answer
 * that is the id itself); VALUE_FIELD is the field of the read's answer that must equal the
 * written value (`.name`, `.item.name`, `.` for the whole answer). After the load has stopped,
 * every such write answered 2xx is read back with `GET READ_PATH` through the router, e.g.
 * `POST /items {"name":"{{seq}}"} => GET /items/{{.id}} .name`.
 */
export interface RequestSpec {
  readonly weight: number
  readonly method: string
  readonly path: string
  readonly body: string | undefined
  /** the read-back of a checked write */
  readonly check: ReadBackSpec | undefined
  /** as the user typed it, for messages */
  readonly raw: string
}

/** How a checked write is read back: `=> GET READ_PATH VALUE_FIELD`. */
export interface ReadBackSpec {
  /** the field of the write's answer holding the id, as segments (`[]`: the whole answer) */
  readonly idField: readonly string[]
  /** READ_PATH before and after its `{{.ID_FIELD}}` */
  readonly pathBefore: string
  readonly pathAfter: string
  /** the field of the read's answer that must equal the written value, as segments */
  readonly valueField: readonly string[]
}

const SPEC = /^\s*(?:(\d+)\s*\*\s*)?([A-Za-z]+)\s+(\/\S*)(?:\s+([\s\S]*\S))?\s*$/
const SEQ = /\{\{seq\}\}/g
const HAS_SEQ = /\{\{seq\}\}/
// the clause starts at the last ' => ' followed by a method and a path
const CHECK_START = /\s=>\s+[A-Za-z]+\s+\//g
const CHECK = /^\s=>\s+([A-Za-z]+)\s+(\/\S*)\s+(\S+)\s*$/
const ID_TOKEN = /\{\{(\.[^{}]*)\}\}/g
const FIELD = /^\.$|^(?:\.[^.\s{}]+)+$/
const CHECK_FORM = "'=> GET /PATH/{{.ID_FIELD}} .VALUE_FIELD' after the request, e.g. 'POST /items {\"name\":\"{{seq}}\"} => GET /items/{{.id}} .name'"

/** `.a.b` → ['a', 'b'], `.` → [] */
function field(text: string): readonly string[] | undefined {
  return FIELD.test(text) ? text.split('.').slice(1).filter((s) => s !== '') : undefined
}

function parseCheck(clause: string, raw: string, option: string): ReadBackSpec {
  const m = CHECK.exec(clause)
  if (m === null) throw new InvalidOptionError(option, CHECK_FORM, raw)
  if (m[1]!.toUpperCase() !== 'GET') throw new InvalidOptionError(option, `a read-back with GET (${CHECK_FORM})`, raw)
  const readPath = m[2]!
  const tokens = [...readPath.matchAll(ID_TOKEN)]
  if (tokens.length !== 1) throw new InvalidOptionError(option, `one {{.ID_FIELD}} in the read-back path, the field of the write's answer that holds its id (${CHECK_FORM})`, raw)
  const token = tokens[0]!
  const idField = field(token[1]!)
  if (idField === undefined) throw new InvalidOptionError(option, `a field like {{.id}} or {{.data.id}} in the read-back path, without spaces or empty parts (${CHECK_FORM})`, raw)
  const valueField = field(m[3]!)
  if (valueField === undefined) throw new InvalidOptionError(option, `the field of the read's answer that must equal the written value, like .name or .item.name, after the read-back path (${CHECK_FORM})`, raw)
  return { idField, pathBefore: readPath.slice(0, token.index), pathAfter: readPath.slice(token.index! + token[0].length), valueField }
}

export function parseRequestSpec(raw: string, option = 'load.requests'): RequestSpec {
  let at: number | undefined
  for (const c of raw.matchAll(CHECK_START)) at = c.index
  const request = at === undefined ? raw : raw.slice(0, at)
  const m = SPEC.exec(request)
  if (m === null) throw new InvalidOptionError(option, '\'[WEIGHT*] METHOD /PATH [BODY] [=> GET /PATH/{{.ID_FIELD}} .VALUE_FIELD]\', e.g. \'POST /items {"name":"{{seq}}"}\'', raw)
  const weight = m[1] === undefined ? 1 : Number(m[1])
  if (!Number.isInteger(weight) || weight < 1 || weight > 1000) throw new InvalidOptionError(option, 'a weight from 1 to 1000 before the \'*\'', raw)
  const path = m[3]!
  const body = m[4]
  const check = at === undefined ? undefined : parseCheck(raw.slice(at), raw, option)
  if (check !== undefined && !HAS_SEQ.test(path) && !(body !== undefined && HAS_SEQ.test(body))) {
    throw new InvalidOptionError(option, 'a checked write with {{seq}} in its path or body: the data check reads back the value unique to each write', raw)
  }
  return { weight, method: m[2]!.toUpperCase(), path, body, check, raw }
}

/** A write a deploy verified, to read back again in a later one (`recheckWrites`): its entry as typed, value and id. */
export interface KeptWrite {
  readonly request: string
  readonly value: string
  readonly id: string | number
}

/** A kept write with its entry parsed, ready to read back. */
export interface RecheckWrite extends KeptWrite {
  readonly spec: RequestSpec
}

/** Earlier deploys' writes (each report's `dataCheck.kept`), checked once, at construction. */
export function resolveRecheckWrites(value: unknown, option = 'recheckWrites'): readonly RecheckWrite[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) throw new InvalidOptionError(option, "an array of { request, value, id }: a report's dataCheck.kept", value)
  const specs = new Map<string, RequestSpec>()
  return value.map((w: unknown, i) => {
    const x = (w ?? {}) as Partial<KeptWrite>
    if (typeof x.request !== 'string' || typeof x.value !== 'string' || !(typeof x.id === 'string' || typeof x.id === 'number')) {
      throw new InvalidOptionError(`${option}[${i}]`, '{ request: string, value: string, id: string or number }', w)
    }
    let spec = specs.get(x.request)
    if (spec === undefined) {
      spec = parseRequestSpec(x.request, `${option}[${i}].request`)
      if (spec.check === undefined) throw new InvalidOptionError(`${option}[${i}].request`, "a checked write ('… => GET /PATH/{{.ID}} .FIELD')", x.request)
      specs.set(x.request, spec)
    }
    return { request: x.request, value: x.value, id: x.id, spec }
  })
}

export interface MixedRequest {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string
  /** a checked write: its entry in the mix and the `{{seq}}` value that must read back */
  readonly check?: { readonly entry: number; readonly value: string }
}

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
  const prepared = specs.map((s, entry) => ({
    spec: s,
    entry,
    headers: s.body !== undefined && !hasType && /^\s*[[{]/.test(s.body) ? { ...headers, 'content-type': 'application/json' } : { ...headers },
    templated: HAS_SEQ.test(s.path) || (s.body !== undefined && HAS_SEQ.test(s.body)),
  }))
  return (sequence) => {
    const p = prepared[cycle[sequence % cycle.length]!]!
    const value = `${run}-${sequence}`
    const fill = (t: string): string => (p.templated ? t.replace(SEQ, value) : t)
    return {
      method: p.spec.method,
      path: fill(p.spec.path),
      headers: p.headers,
      ...(p.spec.body === undefined ? {} : { body: fill(p.spec.body) }),
      ...(p.spec.check === undefined ? {} : { check: { entry: p.entry, value } }),
    }
  }
}
