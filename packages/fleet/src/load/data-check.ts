import http from 'node:http'
import { InvalidOptionError } from '../core/errors.js'
import { isLoopback } from '../core/ports.js'
import type { KeptWrite, RequestSpec } from '../options/requests.js'

/**
 * The data check (docs/architecture.md, "The data check"): every checked write of the mix
 * (`--request '… => GET /items/{{.id}} .name'`) that was answered 2xx is kept with its unique
 * value and the id from its answer; once the load has stopped, each is read back through the
 * router and its value must be there, unchanged. The ledger is bounded: past `maxWrites` writes
 * are counted, not kept, and their answers no longer buffered.
 */

/** One checked write answered 2xx. */
export interface CheckedWrite {
  /** its entry in the mix */
  readonly entry: number
  /** the `{{seq}}` value it carried */
  readonly value: string
  /** the id from its answer; undefined: the answer had none at the field (or was not JSON) */
  readonly id: string | number | undefined
}

export class WriteLedger {
  readonly writes: CheckedWrite[] = []
  /** checked writes answered 2xx past `maxWrites`: counted, not read back */
  untracked = 0
  readonly #specs: readonly RequestSpec[]
  readonly #max: number

  constructor(specs: readonly RequestSpec[], maxWrites: number) {
    this.#specs = specs
    this.#max = maxWrites
  }

  /** Another write can be kept: until then checked writes buffer their answers. */
  get room(): boolean {
    return this.writes.length < this.#max
  }

  /** A checked write's complete answer. */
  answer(entry: number, value: string, status: number, body: Buffer | undefined): void {
    if (status < 200 || status > 299) return
    if (!this.room) {
      this.untracked++
      return
    }
    const check = this.#specs[entry]?.check
    const id = check === undefined || body === undefined ? undefined : idOf(jsonField(body, check.idField))
    this.writes.push({ entry, value, id })
  }
}

function idOf(x: unknown): string | number | undefined {
  return (typeof x === 'string' && x !== '') || (typeof x === 'number' && Number.isFinite(x)) ? x : undefined
}

const NOT_JSON = Symbol('not JSON')

/** The value at `field` of a JSON body; undefined when absent, NOT_JSON when the body does not parse. */
function jsonField(body: Buffer, field: readonly string[]): unknown {
  let x: unknown
  try {
    x = JSON.parse(body.toString('utf8'))
  } catch {
    return NOT_JSON
  }
  for (const key of field) {
    if (x === null || typeof x !== 'object') return undefined
    x = (x as Record<string, unknown>)[key]
  }
  return x
}

export type DataCheckProblemKind = 'lost' | 'changed' | 'unverified'

export interface DataCheckProblem {
  readonly kind: DataCheckProblemKind
  /** the request entry as typed */
  readonly request: string
  readonly value: string
  readonly id?: string | number
  /** an earlier deploy's write, read again */
  readonly earlier?: true
  /** the read-back's path */
  readonly path?: string
  /** the read-back's status */
  readonly status?: number
  /** what the read-back's field held instead of the value */
  readonly got?: unknown
  /** why it could not be verified */
  readonly error?: string
}

/** How a set of writes read back: `writes = writesVerified + lostWrites + changedWrites + unverifiedWrites`. */
export interface WriteCounts {
  readonly writes: number
  /** read back with the value written */
  readonly writesVerified: number
  /** read back 404 or 410, or without the value (its field absent or null) */
  readonly lostWrites: number
  /** read back with another value at the field */
  readonly changedWrites: number
  /** could not be read back: no id in the write's answer, another status, no answer, or past the time bound */
  readonly unverifiedWrites: number
}

export interface DataCheckResult extends WriteCounts {
  /** the checked entries of the mix, as typed */
  readonly requests: readonly string[]
  /** answered 2xx past the bound on kept writes: counted, not read back */
  readonly untrackedWrites: number
  /** earlier deploys' writes read again (`recheckWrites`), apart from this deploy's own */
  readonly earlier?: WriteCounts
  /** ms the read-back took */
  readonly durationMs: number
  /** the bounds it ran under */
  readonly maxWrites: number
  readonly timeoutMs: number
  /** the first problems (lost, changed, unverified), up to 50 */
  readonly problems: readonly DataCheckProblem[]
  /** every write that read back, this deploy's and earlier ones: a later deploy's `recheckWrites` */
  readonly kept: readonly KeptWrite[]
}

export interface ReadBackOptions {
  /** `http://127.0.0.1:PORT`: the router; loopback only */
  readonly url: string
  readonly specs: readonly RequestSpec[]
  readonly ledger: WriteLedger | undefined
  /** earlier deploys' writes, each with its entry parsed */
  readonly earlier?: ReadonlyArray<KeptWrite & { readonly spec: RequestSpec }>
  readonly maxWrites: number
  readonly headers: Readonly<Record<string, string>>
  /** the whole read-back ends within this; what is not read by then is unverified */
  readonly timeoutMs: number
  /** one read's own bound */
  readonly requestTimeoutMs: number
  /** @default 4 */
  readonly concurrency?: number
  readonly signal?: AbortSignal
}

const MAX_PROBLEMS = 50
const MAX_READ_BYTES = 1024 * 1024

interface Read {
  readonly status?: number
  readonly body?: Buffer
  readonly error?: string
}

function get(agent: http.Agent, url: URL, path: string, headers: Readonly<Record<string, string>>, timeoutMs: number): Promise<Read> {
  return new Promise((resolve) => {
    const req = http.request({ host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port, path, method: 'GET', headers, agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      let bytes = 0
      res.on('data', (c: Buffer) => {
        bytes += c.length
        if (bytes <= MAX_READ_BYTES) chunks.push(c)
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ...(bytes <= MAX_READ_BYTES ? { body: Buffer.concat(chunks) } : {}) }))
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }))
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })))
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }))
    req.end()
  })
}

interface Item {
  readonly spec: RequestSpec
  readonly value: string
  readonly id: string | number | undefined
  readonly earlier: boolean
}

type Kind = 'verified' | DataCheckProblemKind

/** Reads every kept write (and every earlier one) back through `url`, `concurrency` at a time, within `timeoutMs`. */
export async function readBack(o: ReadBackOptions): Promise<DataCheckResult> {
  const url = new URL(o.url)
  if (url.protocol !== 'http:' || !isLoopback(url.hostname.replace(/^\[|\]$/g, ''))) throw new InvalidOptionError('dataCheck.url', 'an http:// URL on a loopback host', o.url)
  const t0 = performance.now()
  const deadline = t0 + o.timeoutMs
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(o.headers)) if (k.toLowerCase() !== 'content-type') headers[k] = v
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency ?? 4 })
  const zero = (): Record<Kind, number> => ({ verified: 0, lost: 0, changed: 0, unverified: 0 })
  const own = zero()
  const again = zero()
  const problems: DataCheckProblem[] = []
  const kept: KeptWrite[] = []
  const items: Item[] = [
    ...(o.ledger?.writes ?? []).map((w) => ({ spec: o.specs[w.entry]!, value: w.value, id: w.id, earlier: false })),
    ...(o.earlier ?? []).map((w) => ({ spec: w.spec, value: w.value, id: w.id, earlier: true })),
  ]
  const settle = (item: Item, p: Omit<DataCheckProblem, 'request' | 'value' | 'earlier'> | 'verified'): void => {
    const counts = item.earlier ? again : own
    if (p === 'verified') {
      counts.verified++
      kept.push({ request: item.spec.raw, value: item.value, id: item.id! })
      return
    }
    counts[p.kind]++
    if (problems.length < MAX_PROBLEMS) problems.push({ request: item.spec.raw, value: item.value, ...(item.earlier ? { earlier: true as const } : {}), ...p })
  }
  const one = async (item: Item): Promise<void> => {
    const check = item.spec.check!
    if (item.id === undefined) return settle(item, { kind: 'unverified', error: `its 2xx answer had no id at {{.${check.idField.join('.')}}}` })
    const path = `${check.pathBefore}${encodeURIComponent(String(item.id))}${check.pathAfter}`
    const where = { id: item.id, path }
    const left = deadline - performance.now()
    if (left <= 0 || o.signal?.aborted) return settle(item, { kind: 'unverified', ...where, error: `not read back within the data check's ${o.timeoutMs} ms` })
    const r = await get(agent, url, path, headers, Math.min(left, o.requestTimeoutMs))
    if (r.status === undefined) return settle(item, { kind: 'unverified', ...where, error: r.error ?? 'no answer' })
    if (r.status === 404 || r.status === 410) return settle(item, { kind: 'lost', ...where, status: r.status })
    if (r.status < 200 || r.status > 299 || r.body === undefined) return settle(item, { kind: 'unverified', ...where, status: r.status, error: r.body === undefined ? 'answer larger than 1 MiB' : `answered ${r.status}` })
    const got = jsonField(r.body, check.valueField)
    if (got === NOT_JSON) return settle(item, { kind: 'unverified', ...where, status: r.status, error: 'answer is not JSON' })
    if (got === item.value) return settle(item, 'verified')
    settle(item, { kind: got === undefined || got === null ? 'lost' : 'changed', ...where, status: r.status, got: got ?? null })
  }
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await one(items[next++]!)
  }
  try {
    await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 4, Math.max(1, items.length)) }, worker))
  } finally {
    agent.destroy()
  }
  const counts = (c: Record<Kind, number>, writes: number): WriteCounts => ({ writes, writesVerified: c.verified, lostWrites: c.lost, changedWrites: c.changed, unverifiedWrites: c.unverified })
  const earlierCount = o.earlier?.length ?? 0
  return {
    requests: o.specs.filter((s) => s.check !== undefined).map((s) => s.raw),
    ...counts(own, items.length - earlierCount),
    untrackedWrites: o.ledger?.untracked ?? 0,
    ...(earlierCount === 0 ? {} : { earlier: counts(again, earlierCount) }),
    durationMs: Math.round(performance.now() - t0),
    maxWrites: o.maxWrites,
    timeoutMs: o.timeoutMs,
    problems,
    kept,
  }
}

/** Writes that failed the check, this deploy's and earlier ones: lost, changed or not verified. */
export function writesFailed(d: WriteCounts & { readonly earlier?: WriteCounts }): number {
  const e = d.earlier
  return d.lostWrites + d.changedWrites + d.unverifiedWrites + (e === undefined ? 0 : e.lostWrites + e.changedWrites + e.unverifiedWrites)
}
