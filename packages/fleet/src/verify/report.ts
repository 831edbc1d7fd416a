import type { VerifyRecord } from './client.js'
import type { VerifyResult, VerifySecond } from './verify.js'

/**
 * `--json FILE`: exactly these fields (schema `zerodrop.verify/v1`); `dropped` = every request not
 * answered 2xx plus every refused connection (which carried no request). `protocol` and
 * `refusedStreamsRetried` were added to v1 (additive: a v1 reader ignores them; 0 over HTTP/1.1).
 */
export type VerifyJson = Pick<VerifyResult, 'dropped' | 'requests' | 'ok' | 'non2xx' | 'lost' | 'reset' | 'refused' | 'timeout' | 'refusedConnections' | 'refusedStreamsRetried' | 'perSecond'> & {
  readonly schema: 'zerodrop.verify/v1'
  readonly protocol: VerifyProtocol
  readonly exitCode: number
  readonly command: { readonly argv: readonly string[]; readonly exitCode: number | null }
}

export type VerifyProtocol = 'http/1.1' | 'h2' | 'h2c'

export function protocolOf(o: VerifyResult['options']): VerifyProtocol {
  if (!o.http2) return 'http/1.1'
  return o.url.protocol === 'https:' ? 'h2' : 'h2c'
}

export function verifyJson(r: VerifyResult): VerifyJson {
  return {
    schema: 'zerodrop.verify/v1',
    protocol: protocolOf(r.options),
    dropped: r.dropped,
    exitCode: r.exitCode,
    requests: r.requests,
    ok: r.ok,
    non2xx: r.non2xx,
    lost: r.lost,
    reset: r.reset,
    refused: r.refused,
    timeout: r.timeout,
    refusedConnections: r.refusedConnections,
    refusedStreamsRetried: r.refusedStreamsRetried,
    command: { argv: r.command.argv, exitCode: r.command.exitCode },
    perSecond: r.perSecond,
  }
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`
const pad = (s: string, n: number): string => (s.length >= n ? s + ' ' : s + ' '.repeat(n - s.length))

function mix(byVersion: Readonly<Record<string, number>>, ok: number): string {
  const parts = Object.entries(byVersion).sort(([a], [b]) => a.localeCompare(b))
  if (parts.length === 0) return '-'
  return parts.map(([v, n]) => `${v} ${Math.round((n / Math.max(1, ok)) * 100)}%`).join(' ')
}

/** Seconds with the same version mix and no drops are folded into one line, so a long run stays short. */
function timeline(perSecond: readonly VerifySecond[]): string[] {
  const out: string[] = []
  let i = 0
  while (i < perSecond.length) {
    const s = perSecond[i]!
    const label = mix(s.byVersion, s.ok)
    let j = i
    let requests = 0
    let ok = 0
    let dropped = 0
    while (j < perSecond.length) {
      const x = perSecond[j]!
      if (j > i && (x.dropped > 0 || dropped > 0 || mix(x.byVersion, x.ok) !== label)) break
      requests += x.requests
      ok += x.ok
      dropped += x.dropped
      j++
    }
    const span = j - i === 1 ? `${s.t}` : `${s.t}-${j - 1}`
    out.push(`  ${pad(`${span} s`, 10)}${pad(`${requests} requests`, 15)}${pad(`${ok} ok`, 10)}${pad(`${dropped} dropped`, 12)}${label}`)
    i = j
  }
  return out
}

function failureLine(f: VerifyRecord): string {
  if (f.outcome === 'refusedConnection') return `  +${secs(f.start)} connection ${f.connection}: could not connect (${f.error ?? '?'})`
  const retried = f.retried === true ? ' after a refused stream was retried' : ''
  const what = f.outcome === 'non2xx' ? `${f.status ?? '?'} from the ${f.side === 'lb' ? 'load balancer' : 'application'}` : `${f.outcome} (${f.error ?? '?'})`
  return `  +${secs(f.start)} connection ${f.connection}${f.reused ? ' (reused)' : ' (new)'}: ${what}${retried}${f.version ? `, version ${f.version}` : ''}`
}

/** The terminal summary, in the style of `zerodrop deploy`'s. */
export function formatVerifyReport(r: VerifyResult): string {
  const o = r.options
  const out: string[] = []
  const h2 = o.http2 ? `${protocolOf(o)} sessions` : 'keep-alive connections'
  out.push(`zerodrop verify: ${o.method} ${o.url.href} at ${o.rate} req/s over ${o.connections} ${h2} in bursts of ${o.burst} (each ${o.http2 ? 'session' : 'connection'} replaced every ${o.reconnectEvery || 'never'} requests)`)
  out.push(`  command: ${r.command.argv.join(' ')}${r.until ? `; until: ${r.until.command} (every ${o.untilIntervalMs} ms)` : ''}`)
  out.push(`  lead ${o.leadMs} ms, tail ${o.tailMs} ms, duration bound ${o.durationMs / 1000} s, timeout ${o.timeoutMs} ms` +
    `${o.versionHeader ? `, version from ${o.versionHeader}` : ''}${o.lbHeader ? `, balancer's answers marked by ${o.lbHeader.name}${o.lbHeader.value ? `: ${o.lbHeader.value}` : ''}` : ''}`)
  out.push('')
  out.push('events')
  for (const e of r.events) out.push(`  ${pad(`+${secs(e.t)}`, 9)}${e.message}`)
  out.push('')
  out.push(`timeline (per second of load; share of ok answers per version${o.versionHeader ? '' : ': no --version-header given'})`)
  out.push(...timeline(r.perSecond))
  out.push('')
  const loadS = Math.max(0.001, r.timing.loadMs / 1000)
  out.push(`load      ${r.requests} requests in ${secs(r.timing.loadMs)} = ${(r.requests / loadS).toFixed(0)} req/s; latency of ok answers p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms`)
  out.push(
    `accounting ${r.requests} sent = ${r.ok} ok + ${r.non2xx.lb + r.non2xx.app} non-2xx (${r.non2xx.lb} from the load balancer, ${r.non2xx.app} from the application) + ` +
      `${r.lost} lost + ${r.reset} reset + ${r.refused} refused + ${r.timeout} timeout (counted per request by the load side)`,
  )
  out.push(`conns     ${r.refusedConnections} connection attempts refused (never carried a request; counted as drops)`)
  if (o.http2) out.push(`streams   ${r.refusedStreamsRetried} requests retried on a new session after the server refused their stream unprocessed (REFUSED_STREAM or above a GOAWAY's last stream id; not drops, their final outcome is counted above)`)
  const statuses = Object.entries(r.byStatus).map(([s, n]) => `${s} × ${n}`).join(', ')
  if (statuses) out.push(`  status codes: ${statuses}`)
  if (Object.keys(r.byVersion).length > 0) out.push(`  versions: ${Object.entries(r.byVersion).map(([v, n]) => `${v} ${n}`).join(', ')}`)
  if (r.failures.length > 0) {
    out.push(`  first ${Math.min(10, r.failures.length)} of ${r.dropped} dropped:`)
    for (const f of r.failures.slice(0, 10)) out.push(`  ${failureLine(f)}`)
  }
  out.push('')
  const c = r.command
  const cmd = c.error !== undefined ? `could not start: ${c.error}` : `${c.timedOut ? 'stopped at --duration, ' : ''}exited ${c.exitCode === null ? `by ${c.signal ?? 'a signal'}` : `with code ${c.exitCode}`} after ${secs(c.durationMs)}`
  out.push(`command   ${cmd}${r.until ? `; until ${r.until.succeeded ? `succeeded after ${r.until.polls} poll(s)` : `never succeeded (${r.until.polls} polls)`}` : ''}`)
  out.push(`verdict   ${r.verdict}; ${r.dropped} dropped; exit ${r.exitCode}`)
  return out.join('\n')
}
