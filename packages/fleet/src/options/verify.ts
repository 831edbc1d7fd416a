import { InvalidOptionError } from '../core/errors.js'
import { int, intMs, num } from '../core/validate.js'

/**
 * `zerodrop verify`: exact per-request accounting pointed at a URL while the user's own command
 * performs the rollout. The URL is whatever the user names (a non-loopback one is the point of
 * the command) and is never defaulted; the load is bounded in rate and in time.
 */
export interface VerifyOptions {
  /** The URL the load targets, `http:` or `https:`. Required: there is no default target. */
  readonly url: string
  /** The command that performs the rollout, as an argv (no shell; write `sh -c '…'` for one). */
  readonly command: readonly string[]
  /**
   * A shell command polled after the command exits, until it exits 0 (e.g.
   * `kubectl rollout status deploy/api`). Absent: the rollout is over when the command exits.
   */
  readonly until?: string
  /** @default 1000 */
  readonly untilIntervalMs?: number
  /** Requests per second over all connections, evenly paced. @default 100 */
  readonly rate?: number
  /** Keep-alive connections the load spreads its requests over. @default 10 */
  readonly connections?: number
  /** Requests a connection sends back to back, each as soon as the previous answer is in, before it pauses. @default 3 */
  readonly burst?: number
  /** A connection is replaced after this many requests, so new connections keep arriving; 0 never. @default 20 */
  readonly reconnectEvery?: number
  /** Load before the command starts. @default 2000 */
  readonly leadMs?: number
  /** Load after the rollout is over, before the graceful stop. @default 2000 */
  readonly tailMs?: number
  /** Bound on the rollout (command plus `until`), at most 600 s; at the bound the command gets SIGTERM and the run exits 3. @default 300000 */
  readonly durationMs?: number
  /** A request without a complete answer after this long is a timeout. @default 10000 */
  readonly timeoutMs?: number
  /** @default 'GET' */
  readonly method?: string
  /** Request headers, e.g. `{ host: 'api.example.com' }` behind an ingress. */
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string
  /** Response header naming the version that answered, e.g. `x-app-version`. */
  readonly versionHeader?: string
  /**
   * A response header that marks an answer as the load balancer's own, `name` or `name: value`
   * (value matched as a case-insensitive substring), e.g. `server: haproxy`.
   */
  readonly lbHeader?: string
  /** PEM CA certificate(s) to trust for an `https:` URL. */
  readonly ca?: string
  /** Do not verify the server's TLS certificate. @default false */
  readonly insecure?: boolean
  /**
   * Speak HTTP/2: h2 negotiated with ALPN for an `https:` URL, h2c with prior knowledge for an
   * `http:` one; `connections` are then sessions. A refused stream is retried once on a new session. @default false
   */
  readonly http2?: boolean
  /** Exit 0 only if dropped > 0: the negative control of the user's own set-up. @default false */
  readonly expectDrops?: boolean
}

export interface ResolvedVerifyOptions {
  readonly url: URL
  readonly command: readonly string[]
  readonly until: string | undefined
  readonly untilIntervalMs: number
  readonly rate: number
  readonly connections: number
  readonly burst: number
  readonly reconnectEvery: number
  readonly leadMs: number
  readonly tailMs: number
  readonly durationMs: number
  readonly timeoutMs: number
  readonly method: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string | undefined
  readonly versionHeader: string | undefined
  readonly lbHeader: { readonly name: string; readonly value: string | undefined } | undefined
  readonly ca: string | undefined
  readonly insecure: boolean
  readonly http2: boolean
  readonly expectDrops: boolean
}

export const VERIFY_DEFAULTS = Object.freeze({
  untilIntervalMs: 1000,
  rate: 100,
  connections: 10,
  burst: 3,
  reconnectEvery: 20,
  leadMs: 2000,
  tailMs: 2000,
  durationMs: 300_000,
  timeoutMs: 10_000,
  method: 'GET',
})

/** The load is bounded: at most this long a rollout, at most this rate. */
export const VERIFY_LIMITS = Object.freeze({ durationMs: 600_000, rate: 10_000, connections: 1000 })

/** RFC 9113 §8.2.2: connection-specific header fields are malformed in HTTP/2 */
const H2_FORBIDDEN = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'])
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

function headerName(option: string, name: unknown): string {
  if (typeof name !== 'string' || !HEADER_NAME.test(name)) throw new InvalidOptionError(option, 'a header name such as x-app-version', name)
  return name.toLowerCase()
}

export function resolveVerifyOptions(o: VerifyOptions): ResolvedVerifyOptions {
  if (typeof o.url !== 'string' || o.url === '') throw new InvalidOptionError('url', 'the URL to verify, e.g. http://127.0.0.1:8080/ (there is no default)', o.url)
  let url: URL
  try {
    url = new URL(o.url)
  } catch {
    throw new InvalidOptionError('url', 'an absolute http: or https: URL, e.g. http://127.0.0.1:8080/', o.url)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidOptionError('url', 'an http: or https: URL', o.url)
  if (url.username !== '' || url.password !== '') throw new InvalidOptionError('url', "a URL without credentials (send them with a header: --header 'Authorization: …')", o.url)
  if (!Array.isArray(o.command) || o.command.length === 0 || o.command.some((a) => typeof a !== 'string') || o.command[0] === '') {
    throw new InvalidOptionError('command', "the rollout command after '--', e.g. -- kubectl rollout restart deploy/api", o.command)
  }
  if (o.until !== undefined && (typeof o.until !== 'string' || o.until.trim() === '')) throw new InvalidOptionError('until', 'a command, e.g. "kubectl rollout status deploy/api"', o.until)
  const rate = num('rate', o.rate, VERIFY_DEFAULTS.rate, 0, VERIFY_LIMITS.rate)
  if (rate === 0) throw new InvalidOptionError('rate', `a number > 0 (at most ${VERIFY_LIMITS.rate})`, o.rate)
  if (rate > VERIFY_LIMITS.rate) throw new InvalidOptionError('rate', `at most ${VERIFY_LIMITS.rate} requests per second`, o.rate)
  const connections = int('connections', o.connections, VERIFY_DEFAULTS.connections, 1)
  if (connections > VERIFY_LIMITS.connections) throw new InvalidOptionError('connections', `at most ${VERIFY_LIMITS.connections}`, o.connections)
  const durationMs = intMs('durationMs', o.durationMs, VERIFY_DEFAULTS.durationMs, 1)
  if (durationMs > VERIFY_LIMITS.durationMs) throw new InvalidOptionError('durationMs', `at most ${VERIFY_LIMITS.durationMs / 1000} s (the load is bounded in time)`, o.durationMs)
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(o.headers ?? {})) {
    if (typeof v !== 'string') throw new InvalidOptionError('headers', 'header values as strings', o.headers)
    headers[headerName('headers', k)] = v
  }
  const http2 = o.http2 === true
  if (http2) {
    const bad = Object.keys(headers).find((k) => H2_FORBIDDEN.has(k) || (k === 'te' && headers[k]?.toLowerCase() !== 'trailers'))
    if (bad !== undefined) throw new InvalidOptionError('headers', `no connection-specific header with http2 (${[...H2_FORBIDDEN].join(', ')} are malformed in HTTP/2; Host is sent as :authority)`, bad)
  }
  let lbHeader: ResolvedVerifyOptions['lbHeader']
  if (o.lbHeader !== undefined) {
    const raw = String(o.lbHeader)
    const i = raw.indexOf(':')
    const name = headerName('lbHeader', (i < 0 ? raw : raw.slice(0, i)).trim())
    const value = i < 0 ? undefined : raw.slice(i + 1).trim().toLowerCase() || undefined
    lbHeader = { name, value }
  }
  const method = o.method ?? VERIFY_DEFAULTS.method
  if (typeof method !== 'string' || !/^[A-Z]+$/.test(method)) throw new InvalidOptionError('method', 'an HTTP method in capitals, e.g. GET', o.method)
  return Object.freeze({
    url,
    command: Object.freeze([...o.command]),
    until: o.until,
    untilIntervalMs: intMs('untilIntervalMs', o.untilIntervalMs, VERIFY_DEFAULTS.untilIntervalMs, 1),
    rate,
    connections,
    burst: int('burst', o.burst, VERIFY_DEFAULTS.burst, 1),
    reconnectEvery: int('reconnectEvery', o.reconnectEvery, VERIFY_DEFAULTS.reconnectEvery, 0),
    leadMs: intMs('leadMs', o.leadMs, VERIFY_DEFAULTS.leadMs, 0),
    tailMs: intMs('tailMs', o.tailMs, VERIFY_DEFAULTS.tailMs, 0),
    durationMs,
    timeoutMs: intMs('timeoutMs', o.timeoutMs, VERIFY_DEFAULTS.timeoutMs, 1),
    method,
    headers: Object.freeze(headers),
    body: o.body,
    versionHeader: o.versionHeader === undefined ? undefined : headerName('versionHeader', o.versionHeader),
    lbHeader,
    ca: o.ca,
    insecure: o.insecure === true,
    http2,
    expectDrops: o.expectDrops === true,
  })
}
