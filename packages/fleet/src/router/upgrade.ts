import type http from 'node:http'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import type { RouterContext } from './context.js'

/**
 * l7: a request that asks to switch protocols (`Upgrade: websocket`) is one accounted request,
 * then a tunnel, as an ingress proxies it (nginx `proxy_set_header Upgrade $http_upgrade`): the
 * request head goes to one endpoint with its `Connection`/`Upgrade` fields kept, the endpoint's
 * answer is passed back as is, and after a `101` bytes flow both ways until either side closes.
 * Counted: the request; its answer (`101` is a successful one, anything else by its class); a
 * failure before the answer (refused, reset, lost); the client going away before it (aborted).
 * What happens in the tunnel afterwards is not a request; the tunnel is counted in its own
 * ledger, and the upstream resetting it while the client still has it open is a drop there
 * (`brokenTunnels`); either side closing it (a FIN, after a close frame) is its normal end.
 */
export function proxyUpgrade(ctx: RouterContext, req: http.IncomingMessage, client: Duplex, head: Buffer): void {
  const { stats, pool, options } = ctx
  const log = options.logger
  const endpoint = pool.pick()
  if (endpoint === undefined) {
    stats.noEndpoint('request')
    log.warn({ mode: 'l7', method: req.method, url: req.url }, 'upgrade request found an empty pool, 503')
    client.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 12\r\nconnection: close\r\n\r\nno endpoint\n')
    return
  }
  const revision = endpoint.revision
  stats.request(revision)
  stats.inFlight++
  const tracked = stats.track(revision)
  let settled = false
  const settle = (): void => {
    if (settled) return
    settled = true
    stats.inFlight--
    stats.untrack(revision, tracked)
  }
  let connected = false
  let answered = false
  let tunnel = false
  let clientEnded = false
  const upstream = net.connect({ host: endpoint.host, port: endpoint.port })
  upstream.setNoDelay(true)
  const fail = (cause: 'refused' | 'reset' | 'lost', detail: object): void => {
    if (settled) return
    stats.failure(revision, cause)
    settle()
    log.warn({ endpoint: endpoint.id, revision, cause, url: req.url, ...detail }, 'upgrade request failed')
    if (!client.destroyed) client.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 12\r\nconnection: close\r\n\r\nbad gateway\n')
  }
  upstream.once('connect', () => {
    connected = true
    const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}`]
    const raw = req.rawHeaders
    for (let i = 0; i + 1 < raw.length; i += 2) lines.push(`${raw[i] as string}: ${raw[i + 1] as string}`)
    lines.push(`x-forwarded-for: ${req.socket.remoteAddress ?? ''}`, 'x-forwarded-proto: http')
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`)
    if (head.length > 0) upstream.write(head)
  })
  // the answer's status line, read from the first bytes; everything is passed on untouched
  let seen = Buffer.alloc(0)
  upstream.on('data', (chunk: Buffer) => {
    if (!answered) {
      seen = Buffer.concat([seen, chunk])
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(seen.subarray(0, 16).toString('latin1'))
      if (m !== null && seen.includes('\r\n\r\n')) {
        answered = true
        const status = Number(m[1])
        // an interim 100/102/103 before the final answer is passed on, not counted
        if (status >= 200 || status === 101) {
          stats.response(revision, status)
          if (status === 101) {
            tunnel = true
            stats.tunnel(revision)
          }
          settle()
        } else {
          answered = false
          seen = seen.subarray(seen.indexOf('\r\n\r\n') + 4)
        }
      }
    }
    if (!client.destroyed) client.write(chunk)
  })
  upstream.on('end', () => {
    if (!answered) fail('lost', {})
    else if (!client.destroyed) client.end()
  })
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    if (!connected) fail('refused', { code: err.code })
    else if (!answered) fail('reset', { code: err.code })
    else if (tunnel && !clientEnded && !client.destroyed) {
      stats.brokenTunnel(revision)
      log.warn({ endpoint: endpoint.id, revision, code: err.code, url: req.url }, 'upstream reset a tunnel the client still had open, dropped')
    }
    if (!client.destroyed) client.destroy()
  })
  client.on('data', (chunk: Buffer) => {
    if (!upstream.destroyed) upstream.write(chunk)
  })
  client.on('end', () => {
    clientEnded = true
    if (!upstream.destroyed) upstream.end()
  })
  client.on('error', () => undefined)
  client.on('close', () => {
    if (!settled) {
      stats.aborted(revision)
      settle()
    }
    if (!upstream.destroyed) upstream.destroy()
  })
}
