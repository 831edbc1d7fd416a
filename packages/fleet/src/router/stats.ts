import type { FailureLog, FailureRecord, FailureRecordCause, RevisionStats, RouterStats } from './types.js'

export type FailureCause = 'refused' | 'reset' | 'lost' | 'timeout'

/** Key of the per-second bucket that holds requests/connections that found an empty pool. */
export const NO_ENDPOINT_BUCKET = '(none)'

/** Bound on kept failure records; later failures are counted in `omitted` only. */
export const FAILURE_RECORDS_CAP = 10_000

/** Bound on kept per-second buckets (one hour); older ones are dropped. */
const MAX_BUCKETS = 3600

interface Bucket {
  t: number
  byRevision: Record<string, ResponseBucket>
}

/** One revision's counts in one second. */
export interface ResponseBucket {
  requests: number
  ok: number
  failed: number
}

export function emptyRevisionStats(): RevisionStats {
  return {
    connections: 0,
    requests: 0,
    responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    failures: { refused: 0, reset: 0, lost: 0, timeout: 0 },
    aborted: 0,
    passthrough: 0,
    tunnels: 0,
    brokenTunnels: 0,
    refusedConnections: 0,
    unsolicited: 0,
  }
}

function emptyTotal(): RevisionStats & { noEndpoint: { requests: number; connections: number } } {
  return { ...emptyRevisionStats(), noEndpoint: { requests: 0, connections: 0 } }
}

function copy(s: RevisionStats): RevisionStats {
  return { ...s, responses: { ...s.responses }, failures: { ...s.failures } }
}

function statusClass(status: number): keyof RevisionStats['responses'] {
  // 101 Switching Protocols is the answer an upgrade request asks for: a success, counted with 2xx
  if (status === 101) return '2xx'
  if (status < 200) return '1xx'
  if (status < 300) return '2xx'
  if (status < 400) return '3xx'
  if (status < 500) return '4xx'
  return '5xx'
}

/**
 * Exact counters, per revision and in total, plus per-second buckets.
 * Every method is O(1); the hot path calls `request` and `response` once per message.
 */
export class StatsRecorder {
  private total: RevisionStats & { noEndpoint: { requests: number; connections: number } } = emptyTotal()
  private byRevision = new Map<string, RevisionStats>()
  private buckets: Bucket[] = []
  private current: Bucket | null = null
  private failures: FailureRecord[] = []
  private omitted = 0
  openConnections = 0
  /** requests forwarded and not yet answered, failed or aborted (live, not reset by `reset()`) */
  inFlight = 0
  /** per revision, when each request in flight was forwarded: the gate's view of hanging requests */
  private readonly sentAt = new Map<string, Map<number, number>>()
  private nextId = 0

  /** A request forwarded to the revision is in flight from now; returns its entry for `untrack`. */
  track(revision: string): number {
    let m = this.sentAt.get(revision)
    if (m === undefined) {
      m = new Map()
      this.sentAt.set(revision, m)
    }
    const id = this.nextId++
    m.set(id, Date.now())
    return id
  }

  untrack(revision: string, id: number): void {
    this.sentAt.get(revision)?.delete(id)
  }

  /** The revision's requests in flight for longer than ms, now. */
  inFlightOlderThan(revision: string, ms: number, now = Date.now()): number {
    let n = 0
    for (const t of this.sentAt.get(revision)?.values() ?? []) if (now - t > ms) n++
    return n
  }

  private rev(revision: string): RevisionStats {
    let s = this.byRevision.get(revision)
    if (s === undefined) {
      s = emptyRevisionStats()
      this.byRevision.set(revision, s)
    }
    return s
  }

  private bucket(revision: string): { requests: number; ok: number; failed: number } {
    const t = Math.floor(Date.now() / 1000)
    let b = this.current
    if (b === null || b.t !== t) {
      b = { t, byRevision: {} }
      this.current = b
      this.buckets.push(b)
      if (this.buckets.length > MAX_BUCKETS) this.buckets.shift()
    }
    let r = b.byRevision[revision]
    if (r === undefined) {
      r = { requests: 0, ok: 0, failed: 0 }
      b.byRevision[revision] = r
    }
    return r
  }

  private record(cause: FailureRecordCause, revision: string, instance: string | undefined, count: number, status?: number, connection = false): void {
    if (this.failures.length >= FAILURE_RECORDS_CAP) {
      this.omitted += count
      return
    }
    this.failures.push({
      t: Date.now(),
      cause,
      revision,
      instance,
      ...(status === undefined ? {} : { status }),
      ...(count === 1 ? {} : { count }),
      ...(connection ? { connection: true as const } : {}),
    })
  }

  connection(revision: string): void {
    this.rev(revision).connections++
    this.total.connections++
  }

  request(revision: string): void {
    this.rev(revision).requests++
    this.total.requests++
    this.bucket(revision).requests++
  }

  /**
   * `instance`: the endpoint that answered, so a non-2xx can be placed on its lane. Returns the
   * per-second bucket it was counted in, for `okResponseLost`.
   */
  response(revision: string, status: number, instance?: string): ResponseBucket {
    const c = statusClass(status)
    this.rev(revision).responses[c]++
    this.total.responses[c]++
    const b = this.bucket(revision)
    if (c === '2xx') {
      b.ok++
    } else {
      b.failed++
      this.record('non-2xx', revision, instance, 1, status)
    }
    return b
  }

  /**
   * A 2xx response already counted (`response`, which returned `bucket`) turns out not to have
   * been delivered: l4, the upstream reset the connection right after it, and the reset, passed
   * on, makes the client's kernel discard what the client had not read yet. It moves from 2xx to
   * lost, in its revision, the total and the second it was counted in.
   */
  okResponseLost(revision: string, bucket: ResponseBucket, instance?: string): void {
    this.rev(revision).responses['2xx']--
    this.total.responses['2xx']--
    this.rev(revision).failures.lost++
    this.total.failures.lost++
    bucket.ok--
    bucket.failed++
    this.record('lost', revision, instance, 1)
  }

  failure(revision: string, cause: FailureCause, count = 1, instance?: string): void {
    if (count <= 0) return
    this.rev(revision).failures[cause] += count
    this.total.failures[cause] += count
    this.bucket(revision).failed += count
    this.record(cause, revision, instance, count)
  }

  /**
   * An empty pool. A request (l7) is counted in `total.requests` and `total.failures.refused`; a
   * connection (l4) in `total.refusedConnections`: the two ledgers never mix.
   */
  noEndpoint(kind: 'request' | 'connection'): void {
    const b = this.bucket(NO_ENDPOINT_BUCKET)
    if (kind === 'request') {
      this.total.noEndpoint.requests++
      this.total.requests++
      this.total.failures.refused++
      b.requests++
    } else {
      this.total.noEndpoint.connections++
      this.total.refusedConnections++
    }
    b.failed++
    this.record('refused', NO_ENDPOINT_BUCKET, undefined, 1, undefined, kind === 'connection')
  }

  /** A connection that never carried a request because its upstream connect failed (l4). */
  refusedConnection(revision: string, instance?: string): void {
    this.rev(revision).refusedConnections++
    this.total.refusedConnections++
    this.bucket(revision).failed++
    this.record('refused', revision, instance, 1, undefined, true)
  }

  unsolicited(revision: string): void {
    this.rev(revision).unsolicited++
    this.total.unsolicited++
  }

  aborted(revision: string, count = 1, instance?: string): void {
    if (count <= 0) return
    this.rev(revision).aborted += count
    this.total.aborted += count
    this.record('aborted', revision, instance, count)
  }

  /** The failure records since the last reset (a copy of the list; the records themselves are frozen in use). */
  failureLog(): FailureLog {
    return { records: this.failures.slice(), omitted: this.omitted }
  }

  passthrough(revision: string): void {
    this.rev(revision).passthrough++
    this.total.passthrough++
  }

  tunnel(revision: string): void {
    this.rev(revision).tunnels++
    this.total.tunnels++
  }

  /** A tunnel the upstream reset under an open client: a drop of the tunnel ledger. */
  brokenTunnel(revision: string): void {
    this.rev(revision).brokenTunnels++
    this.total.brokenTunnels++
  }

  snapshot(): RouterStats {
    const byRevision: Record<string, RevisionStats> = {}
    for (const [k, v] of this.byRevision) byRevision[k] = copy(v)
    return {
      total: { ...copy(this.total), noEndpoint: { ...this.total.noEndpoint } },
      byRevision,
      perSecond: this.buckets.map((b) => {
        const r: Record<string, { requests: number; ok: number; failed: number }> = {}
        for (const [k, v] of Object.entries(b.byRevision)) r[k] = { ...v }
        return { t: b.t, byRevision: r }
      }),
      openConnections: this.openConnections,
      inFlight: this.inFlight,
    }
  }

  reset(): void {
    this.total = emptyTotal()
    this.byRevision = new Map()
    this.buckets = []
    this.current = null
    this.failures = []
    this.omitted = 0
  }
}
