import http from 'node:http'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import type { RouterContext } from './context.js'
import { RESET_AFTER_RESPONSE_MS, type Endpoint, type RouterEngine } from './types.js'
import type { FailureCause } from './stats.js'
import { listenRouter } from '../core/ports.js'
import { proxyUpgrade } from './upgrade.js'

/** RFC 9110 §7.6.1 hop-by-hop fields, plus the non-standard ones proxies drop too. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'])

/** The last socket-level error of each pooled upstream socket: tells a reset from a clean close. */
const socketErrors = new WeakMap<Duplex, NodeJS.ErrnoException>()

/** Each pooled upstream socket between a response and its next request: the client connection it answered, and when. */
const lastServed = new WeakMap<Duplex, { readonly client: net.Socket; readonly at: number }>()

/**
 * Client connections whose last response came from an upstream connection that was reset right
 * after it: the response was read in full and delivered (an ingress does not pass a reset on),
 * and the client connection is ended cleanly — its next response says `Connection: close`, then
 * a FIN — never cut, and never closed while the client may be sending on it.
 */
const closeAfterNext = new WeakSet<net.Socket>()

/**
 * One per endpoint: a keep-alive pool that behaves like nginx's upstream `keepalive`: the most
 * recently freed socket is reused first, an idle socket is closed after `idleMs`, and the
 * server's `Keep-Alive: timeout=N` hint is ignored (Node's Agent honours it, which would hide the
 * reuse-vs-close race every ingress meets). A response with `Connection: close` is never
 * pooled (Node's client takes care of that).
 */
class IngressAgent extends http.Agent {
  private readonly idleMs: number
  private readonly opened: () => void

  constructor(idleMs: number, opened: () => void) {
    super({ keepAlive: true, timeout: idleMs, scheduling: 'lifo', maxFreeSockets: 320 })
    this.idleMs = idleMs
    this.opened = opened
  }

  override createConnection(options: http.ClientRequestArgs): Duplex {
    this.opened()
    const socket = net.createConnection(options as net.NetConnectOpts)
    socket.setNoDelay(true)
    socket.on('error', (err: NodeJS.ErrnoException) => {
      socketErrors.set(socket, err)
      const served = lastServed.get(socket)
      if (served !== undefined && Date.now() - served.at <= RESET_AFTER_RESPONSE_MS && !served.client.destroyed) closeAfterNext.add(served.client)
    })
    return socket
  }

  override keepSocketAlive(socket: Duplex): boolean {
    const s = socket as net.Socket
    s.setKeepAlive(true, 1000)
    s.unref()
    s.setTimeout(this.idleMs)
    return true
  }

  /** Close pooled idle sockets (the endpoint left the pool); sockets busy with a request finish it. */
  dropIdle(): void {
    for (const list of Object.values(this.freeSockets)) for (const s of list ?? []) s.destroy()
  }
}

function connectionTokens(value: string | string[] | undefined): Set<string> {
  const out = new Set<string>()
  if (value === undefined) return out
  for (const v of Array.isArray(value) ? value : [value]) {
    for (const t of v.split(',')) {
      const token = t.trim().toLowerCase()
      if (token !== '') out.add(token)
    }
  }
  return out
}

function forwardRequestHeaders(req: http.IncomingMessage): http.OutgoingHttpHeaders {
  const drop = connectionTokens(req.headers.connection)
  const out: http.OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(req.headers)) {
    // Expect: 100-continue was answered by the router's own server already
    if (value === undefined || HOP_BY_HOP.has(name) || drop.has(name) || name === 'expect') continue
    out[name] = value
  }
  const remote = req.socket.remoteAddress ?? ''
  const prior = req.headers['x-forwarded-for']
  out['x-forwarded-for'] = prior === undefined ? remote : `${Array.isArray(prior) ? prior.join(', ') : prior}, ${remote}`
  out['x-forwarded-proto'] = 'http'
  return out
}

function forwardResponseHeaders(res: http.IncomingMessage): string[] {
  const drop = connectionTokens(res.headers.connection)
  const raw = res.rawHeaders
  const out: string[] = []
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string
    const lower = name.toLowerCase()
    if (HOP_BY_HOP.has(lower) || drop.has(lower)) continue
    out.push(name, raw[i + 1] as string)
  }
  return out
}

function classify(err: NodeJS.ErrnoException, socket: Duplex | null): FailureCause {
  if (err.code === 'ECONNREFUSED') return 'refused'
  const sockErr = socket === null ? undefined : socketErrors.get(socket)
  if (sockErr !== undefined) return sockErr.code === 'ECONNREFUSED' ? 'refused' : 'reset'
  // Node's client reports a clean close under an outstanding request as 'socket hang up'
  if (err.message === 'socket hang up' || err.message === 'aborted') return 'lost'
  return 'reset'
}

/** An ingress: each request balanced on its own over per-endpoint keep-alive pools. */
export class L7Proxy implements RouterEngine {
  private readonly ctx: RouterContext
  private readonly server: http.Server
  private readonly agents = new Map<string, IngressAgent>()
  /** client sockets, each with a promise settled once its 'close' has been handled */
  private readonly sockets = new Map<net.Socket, Promise<void>>()
  private inFlight = 0
  private closing = false
  private forced = false
  private idle: (() => void) | null = null

  constructor(ctx: RouterContext) {
    this.ctx = ctx
    this.server = http.createServer({ keepAliveTimeout: ctx.options.clientKeepAliveTimeoutMs, noDelay: true }, (req, res) =>
      this.handle(req, res),
    )
    // WebSockets and other protocol switches: one accounted request, then a tunnel (upgrade.ts)
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => proxyUpgrade(ctx, req, socket, head))
    this.server.on('connection', (socket: net.Socket) => {
      ctx.stats.openConnections++
      const closed = new Promise<void>((resolve) =>
        socket.once('close', () => {
          this.sockets.delete(socket)
          ctx.stats.openConnections--
          resolve()
        }),
      )
      this.sockets.set(socket, closed)
    })
  }

  listen(): Promise<number> {
    return listenRouter(this.server, this.ctx.options)
  }

  private agentFor(endpoint: Endpoint): IngressAgent {
    const key = `${endpoint.id}@${endpoint.host}:${endpoint.port}`
    let agent = this.agents.get(key)
    if (agent === undefined) {
      const revision = endpoint.revision
      agent = new IngressAgent(this.ctx.options.upstreamIdleTimeoutMs, () => this.ctx.stats.connection(revision))
      this.agents.set(key, agent)
    }
    return agent
  }

  removed(endpoint: Endpoint): void {
    this.agents.get(`${endpoint.id}@${endpoint.host}:${endpoint.port}`)?.dropIdle()
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const { stats, options, pool } = this.ctx
    const log = options.logger
    if (this.closing || closeAfterNext.has(req.socket)) res.shouldKeepAlive = false
    const endpoint = pool.pick()
    if (endpoint === undefined) {
      stats.noEndpoint('request')
      log.warn({ mode: 'l7', method: req.method, url: req.url }, 'request found an empty pool, 503')
      reply(res, 503, 'no endpoint\n')
      return
    }
    const revision = endpoint.revision
    stats.request(revision)
    this.inFlight++
    stats.inFlight++
    const tracked = stats.track(revision)
    let settled = false
    const settle = (): void => {
      if (settled) return
      settled = true
      stats.untrack(revision, tracked)
      this.inFlight--
      stats.inFlight--
      if (this.closing && this.inFlight === 0) this.idle?.()
    }
    let upstreamSocket: Duplex | null = null
    const fail = (cause: FailureCause, detail: object): void => {
      if (settled) return
      stats.failure(revision, cause, 1, endpoint.id)
      log.warn({ endpoint: endpoint.id, revision, cause, method: req.method, url: req.url, ...detail }, 'request failed')
      settle()
      if (!res.headersSent) {
        reply(res, cause === 'timeout' ? 504 : 502, cause === 'timeout' ? 'gateway timeout\n' : 'bad gateway\n')
      } else {
        res.destroy()
      }
    }

    const up = http.request({
      host: endpoint.host,
      port: endpoint.port,
      method: req.method,
      path: req.url,
      headers: forwardRequestHeaders(req),
      agent: this.agentFor(endpoint),
      timeout: options.requestTimeoutMs,
      setHost: false,
    })
    up.on('socket', (s) => {
      upstreamSocket = s
      lastServed.delete(s)
    })
    up.on('timeout', () => {
      fail('timeout', {})
      up.destroy()
    })
    up.on('error', (err: NodeJS.ErrnoException) => {
      fail(classify(err, upstreamSocket), { code: err.code, err: err.message })
    })
    up.on('response', (upRes) => {
      const status = upRes.statusCode ?? 502
      res.statusCode = status
      if (upRes.statusMessage) res.statusMessage = upRes.statusMessage
      const headers = forwardResponseHeaders(upRes)
      headers.push('x-zerodrop-endpoint', endpoint.id)
      if (this.closing || closeAfterNext.has(req.socket)) res.shouldKeepAlive = false
      res.writeHead(status, headers)
      upRes.on('error', (err: NodeJS.ErrnoException) => fail(classify(err, upstreamSocket), { code: err.code, err: err.message, during: 'body' }))
      upRes.on('aborted', () => fail(classify(new Error('aborted'), upstreamSocket), { during: 'body' }))
      // the upstream socket goes back to the pool now (its next request's 'socket' event comes on a later tick)
      upRes.once('end', () => {
        if (upstreamSocket !== null) lastServed.set(upstreamSocket, { client: req.socket, at: Date.now() })
      })
      res.on('finish', () => {
        if (settled) return
        stats.response(revision, status, endpoint.id)
        settle()
      })
      upRes.pipe(res)
    })
    res.on('close', () => {
      if (settled) return
      if (this.forced) {
        fail('lost', { reason: 'router closed' })
      } else {
        stats.aborted(revision, 1, endpoint.id)
        log.info({ endpoint: endpoint.id, revision, method: req.method, url: req.url }, 'client closed with request outstanding')
        settle()
      }
      up.destroy()
    })
    req.pipe(up)
  }

  async close(): Promise<void> {
    this.closing = true
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.server.closeIdleConnections()
    if (this.inFlight > 0) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        new Promise<void>((resolve) => {
          this.idle = resolve
        }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.ctx.options.closeTimeoutMs)
        }),
      ])
      clearTimeout(timer)
    }
    // responses sent while closing said Connection: close; whatever is left now is cut
    this.forced = true
    if (this.sockets.size > 0) {
      this.ctx.options.logger.warn({ connections: this.sockets.size, inFlight: this.inFlight }, 'router close, destroying connections')
    }
    const gone = [...this.sockets.values()]
    this.server.closeAllConnections()
    for (const s of this.sockets.keys()) s.destroy()
    for (const agent of this.agents.values()) agent.destroy()
    this.agents.clear()
    await Promise.all(gone)
    await closed
  }
}

function reply(res: http.ServerResponse, status: number, body: string): void {
  if (res.destroyed) return
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}
