import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import type { MetricsSource, RawMeasurement } from './analysis.js'
import { promDuration } from '../core/durations.js'
import { ERROR_CODES, PrometheusQueryError } from '../core/errors.js'
import type { ResolvedAnalysis } from '../options/progressive.js'

/**
 * The `--prometheus-url` source: the AnalysisTemplate's own PromQL (k8s/canary and
 * k8s/blue-green, template `zerodrop-health`) sent to a Prometheus on loopback through its HTTP
 * API, so a local run exercises the queries that ship. The fleet fills Argo's `{{args.*}}`
 * (`canary-hash` = the revision's name, which the fleet puts on every target as
 * `rollouts_pod_template_hash`), and sets the queries' `[1m]` window to the analysis interval, or
 * to 4 × the scrape interval if that is longer.
 */

/** error-rate query of k8s/canary/analysis-templates.yaml (test/fleet/prometheus.test.ts checks they match). */
export const ERROR_RATE_QUERY = `(
  (
    (sum(rate(http_request_duration_seconds_count{namespace="{{args.namespace}}",rollouts_pod_template_hash="{{args.canary-hash}}",status_code=~"5.."}[1m])) or vector(0))
    /
    sum(rate(http_request_duration_seconds_count{namespace="{{args.namespace}}",rollouts_pod_template_hash="{{args.canary-hash}}"}[1m]))
  )
  and on()
  (sum(increase(http_request_duration_seconds_count{namespace="{{args.namespace}}",rollouts_pod_template_hash="{{args.canary-hash}}"}[1m])) >= {{args.min-samples}})
)
or on() vector(NaN)
`

/** p99-latency query of k8s/canary/analysis-templates.yaml. */
export const P99_QUERY = `(
  histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="{{args.namespace}}",rollouts_pod_template_hash="{{args.canary-hash}}"}[1m])))
  and on()
  (sum(increase(http_request_duration_seconds_count{namespace="{{args.namespace}}",rollouts_pod_template_hash="{{args.canary-hash}}"}[1m])) >= {{args.min-samples}})
)
or on() vector(NaN)
`

/** Requests in the window, for the report (not part of the shipped template). */
const SAMPLES_QUERY = 'sum(increase(http_request_duration_seconds_count{namespace="{{args.namespace}}",rollouts_pod_template_hash="{{args.canary-hash}}"}[1m])) or vector(0)'

export const PROMETHEUS_ERROR_CODE = ERROR_CODES.PROMETHEUS

/** Prometheus could not be queried, or answered something that is not one sample. */
export { PrometheusQueryError }

/** Fills Argo's `{{args.name}}` placeholders and sets every `[1m]` range to the window. */
export function renderQuery(template: string, args: Readonly<Record<string, string>>, windowMs: number): string {
  const filled = template.replace(/\{\{\s*args\.([A-Za-z0-9_-]+)\s*\}\}/g, (whole, name: string) => {
    const v = args[name]
    if (v === undefined) throw new PrometheusQueryError(`query: expected a value for {{args.${name}}}, instead got none; known args: ${Object.keys(args).join(', ')}`)
    return v
  })
  return filled.replace(/\[1m\]/g, `[${promDuration(windowMs)}]`)
}

/** GET /api/v1/query; resolves the first sample's value (NaN for an empty vector). */
export function queryScalar(baseUrl: string, query: string, timeoutMs = 5000): Promise<number> {
  const url = new URL(`${baseUrl}/api/v1/query`)
  url.searchParams.set('query', query)
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let body: { status?: string; error?: string; data?: { resultType?: string; result?: Array<{ value?: [number, string] }> } }
        try {
          body = JSON.parse(text)
        } catch (cause) {
          reject(new PrometheusQueryError(`prometheus ${baseUrl}: expected JSON from /api/v1/query, instead got HTTP ${String(res.statusCode)} '${text.slice(0, 120)}'`, { cause }))
          return
        }
        if (body.status !== 'success') {
          reject(new PrometheusQueryError(`prometheus ${baseUrl}: query failed (HTTP ${String(res.statusCode)}): ${body.error ?? text.slice(0, 200)}`))
          return
        }
        const first = body.data?.result?.[0]?.value?.[1]
        resolve(first === undefined ? Number.NaN : Number(first))
      })
    })
    req.on('timeout', () => req.destroy(new PrometheusQueryError(`timed out after ${timeoutMs} ms`)))
    req.on('error', (err) => reject(new PrometheusQueryError(`prometheus ${baseUrl}: cannot query: ${err.message}; is it running on that port?`, { cause: err })))
  })
}

/** The longest `scrape_interval` in a Prometheus configuration (YAML text); undefined if none. */
export function longestScrapeIntervalMs(configYaml: string): number | undefined {
  let max: number | undefined
  for (const m of configYaml.matchAll(/^\s*scrape_interval:\s*["']?([0-9a-z.]+)["']?\s*$/gm)) {
    const ms = promDurationMs(m[1] as string)
    if (ms !== undefined && (max === undefined || ms > max)) max = ms
  }
  return max
}

/** Prometheus durations (`15s`, `1m30s`, `500ms`) in ms. */
export function promDurationMs(text: string): number | undefined {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 }
  let total = 0
  let rest = text
  while (rest !== '') {
    const m = /^(\d+)(ms|s|m|h|d|w|y)/.exec(rest)
    if (m === null) return undefined
    total += Number(m[1]) * (units[m[2] as string] as number)
    rest = rest.slice(m[0].length)
  }
  return text === '' ? undefined : total
}

/** GET /api/v1/status/config: the running configuration's YAML. */
function fetchConfig(baseUrl: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(`${baseUrl}/api/v1/status/config`), { timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: { yaml?: string } }
          resolve(body.data?.yaml ?? '')
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)))
        }
      })
    })
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)))
    req.on('error', reject)
  })
}

/**
 * `rate()` over a window holding fewer than two scrapes is empty, so every measurement would be
 * inconclusive: the query window is at least 4 × the scrape interval (Prometheus' own advice),
 * taken from `prometheusScrapeIntervalMs` or else from the server's configuration.
 */
export const SCRAPES_PER_WINDOW = 4

export class PrometheusSource implements MetricsSource {
  readonly #settings: ResolvedAnalysis
  readonly #args: Readonly<Record<string, string>>
  #scrapeIntervalMs: number | undefined
  #scrapeIntervalFrom: 'option' | 'config' | 'unknown' = 'unknown'
  /** the last rendered queries, for the report */
  queries: { errorRate: string; p99: string } | undefined

  constructor(settings: ResolvedAnalysis, revision: string) {
    this.#settings = settings
    this.#args = { 'canary-hash': revision, namespace: settings.prometheusNamespace, 'min-samples': String(settings.minSamples) }
    if (settings.prometheusScrapeIntervalMs !== undefined) {
      this.#scrapeIntervalMs = settings.prometheusScrapeIntervalMs
      this.#scrapeIntervalFrom = 'option'
    }
  }

  async begin(): Promise<void> {
    if (this.#scrapeIntervalFrom !== 'unknown') return
    try {
      this.#scrapeIntervalMs = longestScrapeIntervalMs(await fetchConfig(this.#settings.prometheusUrl as string))
      if (this.#scrapeIntervalMs !== undefined) this.#scrapeIntervalFrom = 'config'
    } catch {
      // the queries will say what is wrong with the server
    }
  }

  /** The query window for an analysis interval: at least 4 scrapes. */
  window(intervalMs: number): { windowMs: number; note: string | undefined } {
    const scrape = this.#scrapeIntervalMs
    if (scrape === undefined) return { windowMs: intervalMs, note: 'scrape interval unknown: window = interval' }
    const windowMs = Math.max(intervalMs, SCRAPES_PER_WINDOW * scrape)
    return { windowMs, note: `window ${promDuration(windowMs)} (>= ${SCRAPES_PER_WINDOW} x scrape interval ${promDuration(scrape)}, from the ${this.#scrapeIntervalFrom === 'option' ? 'option' : 'server config'})` }
  }

  async measure(intervalMs: number): Promise<RawMeasurement> {
    const s = this.#settings
    const url = s.prometheusUrl as string
    const { windowMs, note } = this.window(intervalMs)
    const errorRate = renderQuery(s.errorRateQuery ?? ERROR_RATE_QUERY, this.#args, windowMs)
    const p99 = renderQuery(s.p99Query ?? P99_QUERY, this.#args, windowMs)
    this.queries = { errorRate, p99 }
    try {
      const [e, p, n] = await Promise.all([queryScalar(url, errorRate), queryScalar(url, p99), queryScalar(url, renderQuery(SAMPLES_QUERY, this.#args, windowMs))])
      // the shipped queries answer NaN below min-samples (inconclusive); the increase is reported beside them
      return { samples: Math.round(n * 10) / 10, errorRate: e, p99Seconds: p, ...(note === undefined ? {} : { note }) }
    } catch (err) {
      return { samples: Number.NaN, errorRate: Number.NaN, p99Seconds: Number.NaN, error: (err as Error).message, ...(note === undefined ? {} : { note }) }
    }
  }

  async close(): Promise<void> {}
}

export interface PrometheusTarget {
  readonly id: string
  readonly revision: string
  readonly host: string
  readonly port: number
}

/**
 * Keeps a Prometheus `file_sd_configs` file listing the fleet's instances, each labelled like a
 * pod scraped in the cluster (`namespace`, `rollouts_pod_template_hash` = revision, `pod` = id).
 * Written atomically (rename), which Prometheus' file watcher picks up at once.
 */
export function writeTargetsFile(file: string, namespace: string, targets: readonly PrometheusTarget[]): void {
  const body = targets.map((t) => ({
    targets: [`${t.host}:${t.port}`],
    labels: { namespace, rollouts_pod_template_hash: t.revision, pod: t.id },
  }))
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`)
  fs.writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`)
  fs.renameSync(tmp, file)
}
