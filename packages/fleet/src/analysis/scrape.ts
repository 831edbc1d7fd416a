import http from 'node:http'
import { ScrapeError } from '../core/errors.js'

/**
 * The embedded metrics source of the analysis: each instance's own `/metrics` (Prometheus text
 * format), scraped on a period like Prometheus does, turned into what `rate()` and
 * `histogram_quantile()` compute from the `http_request_duration_seconds` histogram.
 */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** Parses the Prometheus text exposition format (0.0.4); comments and malformed lines are skipped. */
export function parsePrometheusText(text: string): Sample[] {
  const out: Sample[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line)
    if (m === null) continue
    const value = parseValue(m[3] as string)
    if (value === undefined) continue
    out.push({ name: m[1] as string, labels: m[2] ? parseLabels(m[2]) : {}, value })
  }
  return out
}

function parseValue(s: string): number | undefined {
  if (s === '+Inf' || s === 'Inf') return Number.POSITIVE_INFINITY
  if (s === '-Inf') return Number.NEGATIVE_INFINITY
  if (s === 'NaN') return Number.NaN
  const v = Number(s)
  return Number.isNaN(v) ? undefined : v
}

function parseLabels(block: string): Record<string, string> {
  const labels: Record<string, string> = {}
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"/g
  for (const m of block.slice(1, -1).matchAll(re)) {
    labels[m[1] as string] = (m[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
  }
  return labels
}

export const DURATION_HISTOGRAM = 'http_request_duration_seconds'

/** Cumulative counts of one instance's histogram at one scrape, per series (label set). */
export interface HistogramScrape {
  /** `_count` per series key (labels without `le`) */
  readonly counts: ReadonlyMap<string, { readonly value: number; readonly error: boolean }>
  /** `_bucket` per series key + le */
  readonly buckets: ReadonlyMap<string, { readonly value: number; readonly le: number }>
}

function seriesKey(labels: Readonly<Record<string, string>>, without?: string): string {
  return Object.keys(labels)
    .filter((k) => k !== without)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',')
}

/** The request histogram out of a scrape; a series is an error when its `status_code` is 5xx. */
export function histogramScrape(samples: readonly Sample[], metric = DURATION_HISTOGRAM): HistogramScrape {
  const counts = new Map<string, { value: number; error: boolean }>()
  const buckets = new Map<string, { value: number; le: number }>()
  for (const s of samples) {
    if (s.name === `${metric}_count`) {
      counts.set(seriesKey(s.labels), { value: s.value, error: /^5\d\d$/.test(s.labels.status_code ?? '') })
    } else if (s.name === `${metric}_bucket`) {
      const le = parseValue(s.labels.le ?? '')
      if (le === undefined || Number.isNaN(le)) continue
      buckets.set(`${seriesKey(s.labels, 'le')}|${String(le)}`, { value: s.value, le })
    }
  }
  return { counts, buckets }
}

/**
 * Increase of a counter between two samples as Prometheus' `rate()`/`increase()` compute it:
 * a value lower than the previous one is a counter reset (the process restarted), after which the
 * counter counted up from 0 — so the increase is the new value, not a negative number. A series
 * not seen before started at 0 (prom-client creates a labelled series at its first observation).
 */
export function counterIncrease(previous: number | undefined, current: number): number {
  if (previous === undefined) return current
  return current >= previous ? current - previous : current
}

/** Running totals of the increases seen across scrapes: monotonic even across counter resets. */
export class HistogramTotals {
  requests = 0
  errors = 0
  /** cumulative bucket increases by upper bound */
  readonly buckets = new Map<number, number>()

  add(previous: HistogramScrape | undefined, current: HistogramScrape): void {
    for (const [k, c] of current.counts) {
      const inc = counterIncrease(previous?.counts.get(k)?.value, c.value)
      this.requests += inc
      if (c.error) this.errors += inc
    }
    for (const [k, b] of current.buckets) {
      const inc = counterIncrease(previous?.buckets.get(k)?.value, b.value)
      this.buckets.set(b.le, (this.buckets.get(b.le) ?? 0) + inc)
    }
  }

  snapshot(): TotalsSnapshot {
    return { requests: this.requests, errors: this.errors, buckets: new Map(this.buckets) }
  }
}

export interface TotalsSnapshot {
  readonly requests: number
  readonly errors: number
  readonly buckets: ReadonlyMap<number, number>
}

/** What happened between two snapshots: requests, 5xx, and bucket increases by upper bound. */
export interface WindowDelta {
  readonly requests: number
  readonly errors: number
  readonly buckets: ReadonlyArray<{ readonly le: number; readonly count: number }>
}

export function windowDelta(from: TotalsSnapshot, to: TotalsSnapshot): WindowDelta {
  const buckets = [...to.buckets.entries()]
    .map(([le, v]) => ({ le, count: v - (from.buckets.get(le) ?? 0) }))
    .sort((a, b) => a.le - b.le)
  return { requests: to.requests - from.requests, errors: to.errors - from.errors, buckets }
}

/**
 * Prometheus' `histogram_quantile(q, sum by (le) (rate(..._bucket[w])))` (promql/quantile.go):
 * find the first bucket whose cumulative count reaches q × total, interpolate linearly inside it
 * (the first bucket starts at 0); a rank in the +Inf bucket answers the highest finite bound.
 * Cumulative counts that decrease (possible across scrapes) are made monotonic first, as
 * Prometheus does. NaN when there is no observation, or no +Inf bucket.
 */
export function histogramQuantile(q: number, buckets: ReadonlyArray<{ readonly le: number; readonly count: number }>): number {
  if (q < 0) return Number.NEGATIVE_INFINITY
  if (q > 1) return Number.POSITIVE_INFINITY
  const b = [...buckets].sort((x, y) => x.le - y.le)
  if (b.length < 2 || b[b.length - 1]?.le !== Number.POSITIVE_INFINITY) return Number.NaN
  let max = Number.NEGATIVE_INFINITY
  const cum = b.map((x) => {
    max = Math.max(max, x.count)
    return { le: x.le, count: max }
  })
  const total = cum[cum.length - 1]!.count
  if (total === 0) return Number.NaN
  const rank = q * total
  const i = cum.findIndex((x) => x.count >= rank)
  if (i === cum.length - 1) return cum[cum.length - 2]!.le
  if (i === 0 && cum[0]!.le <= 0) return cum[0]!.le
  let start = 0
  let count = cum[i]!.count
  let r = rank
  if (i > 0) {
    start = cum[i - 1]!.le
    count -= cum[i - 1]!.count
    r -= cum[i - 1]!.count
  }
  const end = cum[i]!.le
  if (count === 0) return end
  return start + (end - start) * (r / count)
}

export interface ScrapeTarget {
  readonly id: string
  readonly host: string
  readonly port: number
}

/** GET `/metrics` of one instance on loopback; rejects on a non-200, a timeout or a closed socket. */
export function fetchMetrics(target: ScrapeTarget, path: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: target.host, port: target.port, path, timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new ScrapeError(`${target.id}: GET ${path} answered ${String(res.statusCode)}`))
        else resolve(Buffer.concat(chunks).toString('utf8'))
      })
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new ScrapeError(`${target.id}: GET ${path} timed out after ${timeoutMs} ms`)))
    req.on('error', reject)
  })
}

/**
 * Scrapes the instances `targets()` returns every `periodMs`, like a Prometheus scrape job, and
 * keeps reset-aware running totals over all of them: the measurement for a window is the
 * difference of two snapshots. An instance that goes away keeps what it contributed.
 */
export class RevisionScraper {
  readonly totals = new HistogramTotals()
  readonly #last = new Map<string, HistogramScrape>()
  readonly #targets: () => readonly ScrapeTarget[]
  readonly #periodMs: number
  readonly #path: string
  #timer: NodeJS.Timeout | undefined
  /** successful / failed scrapes so far */
  scrapes = 0
  failures = 0
  lastError: string | undefined

  constructor(targets: () => readonly ScrapeTarget[], options: { periodMs: number; path?: string }) {
    this.#targets = targets
    this.#periodMs = options.periodMs
    this.#path = options.path ?? '/metrics'
  }

  #chain: Promise<void> = Promise.resolve()

  start(): void {
    if (this.#timer) return
    void this.scrapeOnce()
    this.#timer = setInterval(() => void this.scrapeOnce(), this.#periodMs)
    this.#timer.unref()
  }

  /** One round over every target, after any round under way (rounds never overlap). */
  scrapeOnce(): Promise<void> {
    this.#chain = this.#chain.then(() => this.#round())
    return this.#chain
  }

  async #round(): Promise<void> {
    await Promise.all(
      this.#targets().map(async (t) => {
        try {
          const text = await fetchMetrics(t, this.#path, Math.max(1000, this.#periodMs))
          const scrape = histogramScrape(parsePrometheusText(text))
          this.totals.add(this.#last.get(t.id), scrape)
          this.#last.set(t.id, scrape)
          this.scrapes++
        } catch (err) {
          this.failures++
          this.lastError = (err as Error).message
        }
      }),
    )
  }

  /** A fresh scrape of every target, then the running totals. */
  async snapshot(): Promise<TotalsSnapshot> {
    await this.scrapeOnce()
    return this.totals.snapshot()
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
    await this.#chain
  }
}
