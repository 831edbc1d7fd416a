import net from 'node:net'
import {
  RequestFramingParser,
  ResponseFramingParser,
  type PassthroughReason,
  type RequestHead,
  type ResponseHead,
} from './framing.js'
import type { RouterContext } from './context.js'
import { RESET_AFTER_RESPONSE_MS, type Endpoint, type RouterEngine } from './types.js'
import type { FailureCause, ResponseBucket } from './stats.js'
import { listenRouter } from '../core/ports.js'

const GATEWAY_TIMEOUT = Buffer.from(
  'HTTP/1.1 504 Gateway Timeout\r\nContent-Type: text/plain\r\nContent-Length: 16\r\nConnection: close\r\n\r\ngateway timeout\n',
  'latin1',
)
const EMPTY = Buffer.alloc(0)

/**
 * kube-proxy semantics: a client connection is pinned, when it is accepted, to one endpoint
 * of the pool, with exactly one upstream socket, for its whole life. Bytes are passed through
 * as they come; framing parsers on both directions count requests and responses.
 */
export class L4Proxy implements RouterEngine {
  readonly ctx: RouterContext
  private readonly server: net.Server
  private readonly connections = new Set<L4Connection>()
  private sweeper: NodeJS.Timeout | null = null
  closing = false

  constructor(ctx: RouterContext) {
    this.ctx = ctx
    this.server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true }, (socket) =>
      this.accept(socket),
    )
  }

  async listen(): Promise<number> {
    const port = await listenRouter(this.server, this.ctx.options)
    const period = Math.max(10, Math.min(1000, Math.floor(this.ctx.options.requestTimeoutMs / 4)))
    this.sweeper = setInterval(() => this.sweep(), period)
    this.sweeper.unref()
    return port
  }

  private accept(client: net.Socket): void {
    client.on('error', () => {}) // replaced by the connection's handler; never crash on an early reset
    if (this.closing) {
      client.destroy()
      return
    }
    const endpoint = this.ctx.pool.pick()
    if (endpoint === undefined) {
      // The kernel already completed the handshake; the closest to a refused connection is a reset.
      this.ctx.stats.noEndpoint('connection')
      this.ctx.options.logger.warn({ mode: 'l4' }, 'connection found an empty pool, reset')
      client.resetAndDestroy()
      return
    }
    const conn = new L4Connection(this, client, endpoint)
    this.connections.add(conn)
    this.ctx.stats.openConnections++
  }

  /** called once both sockets of a connection are closed */
  forget(conn: L4Connection): void {
    if (this.connections.delete(conn)) this.ctx.stats.openConnections--
    if (this.closing && this.connections.size === 0) this.drained?.()
  }

  removed(_endpoint: Endpoint): void {
    // kube-proxy: existing connections stay pinned; only new connections see the new pool.
  }

  private sweep(): void {
    const now = Date.now()
    for (const c of this.connections) c.checkTimeout(now)
  }

  private drained: (() => void) | null = null

  async close(): Promise<void> {
    this.closing = true
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    const allGone = new Promise<void>((resolve) => {
      this.drained = resolve
      if (this.connections.size === 0) resolve()
    })
    for (const c of this.connections) c.shutdown()
    let timer: NodeJS.Timeout | undefined
    const bound = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.ctx.options.closeTimeoutMs)
    })
    const outcome = await Promise.race([allGone.then(() => 'drained' as const), bound])
    clearTimeout(timer)
    if (outcome === 'timeout') {
      const left = [...this.connections]
      this.ctx.options.logger.warn({ connections: left.length }, 'router close timeout, destroying connections')
      for (const c of left) c.destroy('lost')
      await allGone
    }
    if (this.sweeper !== null) clearInterval(this.sweeper)
    await serverClosed
  }
}

class L4Connection {
  private readonly proxy: L4Proxy
  private readonly client: net.Socket
  private readonly upstream: net.Socket
  private readonly endpoint: Endpoint
  private readonly revision: string
  private readonly requests: RequestFramingParser
  private readonly responses: ResponseFramingParser
  /** send time (ms) of each request forwarded and not yet answered, oldest first */
  /** requests forwarded and not answered yet: when each was sent, and its in-flight entry */
  private outstanding: Array<{ readonly t: number; readonly id: number }> = []
  private connected = false
  private upstreamEnded = false
  private framed = true
  private dead = false
  /**
   * Dead, but the client may still write before it learns so (a reset or 504 on its way): what a
   * request read then is counted as, since it cannot be forwarded — `reset` when the client is
   * reset, `lost` when it gets a FIN. null: the client is gone, nothing more comes.
   */
  private deadCause: FailureCause | null = null
  private lastUpstreamData = 0
  private clientClosed = false
  private upstreamClosed = false
  /** a 101 made the connection a tunnel */
  private tunnel = false
  /** the client half-closed (or closed): a reset after that does not cut anything it still wanted */
  private clientEnded = false
  /** the last 2xx response, when nothing was outstanding after it and the client has sent nothing since */
  private lastOk: { readonly at: number; readonly bucket: ResponseBucket } | null = null

  constructor(proxy: L4Proxy, client: net.Socket, endpoint: Endpoint) {
    this.proxy = proxy
    this.client = client
    this.endpoint = endpoint
    this.revision = endpoint.revision
    proxy.ctx.stats.connection(this.revision)
    this.requests = new RequestFramingParser({
      onRequest: (h) => this.onRequest(h),
      onPassthrough: (r) => this.onPassthrough(r),
    })
    this.responses = new ResponseFramingParser({
      onResponse: (h) => this.onResponse(h),
      onPassthrough: (r) => this.onPassthrough(r),
    })
    client.removeAllListeners('error')
    client.on('error', (err: NodeJS.ErrnoException) => this.onClientError(err))
    client.on('close', () => {
      this.clientClosed = true
      this.maybeForget()
    })
    const upstream = net.connect({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true, noDelay: true })
    this.upstream = upstream
    upstream.on('error', (err: NodeJS.ErrnoException) => this.onUpstreamError(err))
    upstream.on('close', () => {
      this.upstreamClosed = true
      this.maybeForget()
    })
    upstream.once('connect', () => this.onConnect())
  }

  private get log() {
    return this.proxy.ctx.options.logger
  }

  private onConnect(): void {
    this.connected = true
    const { client, upstream } = this
    client.on('data', (chunk: Buffer) => {
      if (this.dead) {
        // still parsed, so a request written into a dying connection is counted, not lost track of
        if (this.deadCause !== null && this.framed) this.requests.push(chunk)
        return
      }
      // the client sent more after the last response: it had read it
      this.lastOk = null
      if (this.framed) this.requests.push(chunk)
      if (upstream.destroyed || !upstream.writable) return
      if (!upstream.write(chunk)) {
        client.pause()
        upstream.once('drain', () => client.resume())
      }
    })
    client.on('end', () => {
      this.clientEnded = true
      // half-close forwarded as a half-close
      if (!upstream.destroyed) upstream.end()
    })
    upstream.on('data', (chunk: Buffer) => {
      if (this.dead) return
      this.lastUpstreamData = Date.now()
      if (this.framed) this.responses.push(chunk)
      if (client.destroyed || !client.writable) return
      if (!client.write(chunk)) {
        upstream.pause()
        client.once('drain', () => upstream.resume())
      }
    })
    upstream.on('end', () => this.onUpstreamEnd())
    client.resume()
  }

  private onRequest(head: RequestHead): void {
    const stats = this.proxy.ctx.stats
    stats.request(this.revision)
    if (this.dead) {
      const cause = this.deadCause ?? 'lost'
      stats.failure(this.revision, cause, 1, this.endpoint.id)
      this.log.warn({ endpoint: this.endpoint.id, revision: this.revision, method: head.method, cause }, 'request sent on a connection already failing, not forwarded')
      return
    }
    if (this.upstreamEnded) {
      // the instance already closed its side: this request cannot be answered
      stats.failure(this.revision, 'lost', 1, this.endpoint.id)
      this.log.warn({ endpoint: this.endpoint.id, revision: this.revision, method: head.method }, 'request sent after upstream closed, lost')
      return
    }
    this.outstanding.push({ t: Date.now(), id: stats.track(this.revision) })
    stats.inFlight++
    this.responses.expectResponseTo(head.method)
  }

  private onResponse(head: ResponseHead): void {
    if (head.interim) return
    const first = this.outstanding.shift()
    if (first === undefined) {
      // no request of this connection is waiting for it: it settles none, so it is not a response
      this.proxy.ctx.stats.unsolicited(this.revision)
      this.log.warn({ endpoint: this.endpoint.id, revision: this.revision, status: head.status }, 'response with no request outstanding, passed on, not counted')
    } else {
      this.proxy.ctx.stats.untrack(this.revision, first.id)
      this.proxy.ctx.stats.inFlight--
      const bucket = this.proxy.ctx.stats.response(this.revision, head.status, this.endpoint.id)
      const ok = head.status >= 200 && head.status < 300
      this.lastOk = ok && this.outstanding.length === 0 ? { at: Date.now(), bucket } : null
    }
    if (head.status === 101) {
      this.tunnel = true
      this.proxy.ctx.stats.tunnel(this.revision)
      this.requests.switchToPassthrough()
    }
    if (this.proxy.closing) this.shutdown()
  }

  private onPassthrough(reason: PassthroughReason): void {
    if (!this.framed) return
    this.framed = false
    this.requests.switchToPassthrough()
    this.proxy.ctx.stats.passthrough(this.revision)
    const unknown = this.takeOutstanding()
    const fields = { endpoint: this.endpoint.id, revision: this.revision, reason, uncounted: unknown }
    if (reason === 'upgrade' || reason === 'connect') this.log.info(fields, 'connection switched protocols, no longer framed')
    else this.log.warn(fields, 'connection could not be framed, its requests are no longer counted')
  }

  /** Forget every outstanding request; returns how many there were. */
  private takeOutstanding(): number {
    const n = this.outstanding.length
    if (n > 0) {
      for (const o of this.outstanding) this.proxy.ctx.stats.untrack(this.revision, o.id)
      this.outstanding = []
      this.proxy.ctx.stats.inFlight -= n
    }
    return n
  }

  private fail(cause: FailureCause): number {
    const n = this.takeOutstanding()
    if (n > 0) this.proxy.ctx.stats.failure(this.revision, cause, n, this.endpoint.id)
    return n
  }

  private onUpstreamEnd(): void {
    this.upstreamEnded = true
    if (this.framed) this.responses.end()
    const lost = this.fail('lost')
    if (lost > 0) this.log.warn({ endpoint: this.endpoint.id, revision: this.revision, lost }, 'upstream closed with requests outstanding, lost')
    // a FIN is forwarded as a FIN: the client sees what it would see without the router
    if (!this.client.destroyed) this.client.end()
  }

  private onUpstreamError(err: NodeJS.ErrnoException): void {
    if (this.dead) return
    if (!this.connected) {
      this.dead = true
      this.proxy.ctx.stats.refusedConnection(this.revision, this.endpoint.id)
      this.log.warn({ endpoint: this.endpoint.id, revision: this.revision, code: err.code }, 'upstream connect failed, refused')
      this.client.resetAndDestroy()
      return
    }
    const reset = this.fail('reset')
    const last = this.lastOk
    this.lastOk = null
    const msAfterResponse = last === null ? Infinity : Date.now() - last.at
    if (!this.tunnel && reset === 0 && last !== null && !this.clientEnded && msAfterResponse <= RESET_AFTER_RESPONSE_MS) {
      // passed on below, the reset discards whatever of that response the client had not read yet
      this.proxy.ctx.stats.okResponseLost(this.revision, last.bucket, this.endpoint.id)
      this.log.warn(
        { endpoint: this.endpoint.id, revision: this.revision, code: err.code, msAfterResponse },
        'upstream reset right after a complete response: passed on, the reset discards it at a client that had not read it yet, so it is counted lost; the instance should close connections with a FIN (end()), not a reset',
      )
    } else if (this.tunnel && !this.clientEnded && !this.clientClosed) {
      this.proxy.ctx.stats.brokenTunnel(this.revision)
      this.log.warn({ endpoint: this.endpoint.id, revision: this.revision, code: err.code }, 'upstream reset a tunnel the client still had open, dropped')
    } else this.log.warn({ endpoint: this.endpoint.id, revision: this.revision, code: err.code, reset }, 'upstream connection reset')
    this.dead = true
    this.deadCause = 'reset'
    this.resetClient()
  }

  /** Forward a reset to the client, after the bytes already passed on have been flushed. */
  private resetClient(): void {
    const client = this.client
    if (client.destroyed) return
    if (client.writableLength === 0 || !client.writable) {
      client.resetAndDestroy()
      return
    }
    const bound = setTimeout(() => client.resetAndDestroy(), 1000)
    bound.unref()
    client.write(EMPTY, () => {
      clearTimeout(bound)
      if (!client.destroyed) client.resetAndDestroy()
    })
  }

  private onClientError(err: NodeJS.ErrnoException): void {
    if (this.dead) return
    this.dead = true
    const aborted = this.takeOutstanding()
    if (aborted > 0) {
      this.proxy.ctx.stats.aborted(this.revision, aborted, this.endpoint.id)
      this.log.info({ endpoint: this.endpoint.id, revision: this.revision, code: err.code, aborted }, 'client reset with requests outstanding')
    }
    // a reset is forwarded as a reset
    if (!this.upstream.destroyed) this.upstream.resetAndDestroy()
  }

  checkTimeout(now: number): void {
    const oldest = this.outstanding[0]
    if (oldest === undefined || this.dead) return
    const since = Math.max(oldest.t, this.lastUpstreamData)
    if (now - since < this.proxy.ctx.options.requestTimeoutMs) return
    const answerable = this.responses.idle
    const n = this.fail('timeout')
    this.log.warn({ endpoint: this.endpoint.id, revision: this.revision, timeout: n }, 'upstream response timeout')
    this.dead = true
    this.deadCause = answerable ? 'lost' : 'reset'
    this.upstream.destroy()
    if (this.client.destroyed) return
    if (answerable) this.client.end(GATEWAY_TIMEOUT)
    else this.resetClient()
  }

  /** Router closing: end the connection once nothing is outstanding on it. */
  shutdown(): void {
    if (this.dead) return
    // a tunnel has no message boundaries to wait for
    if (this.framed && (this.outstanding.length > 0 || !this.requests.idle || !this.responses.idle)) return
    if (!this.client.destroyed) this.client.end()
    if (!this.upstream.destroyed) this.upstream.end()
  }

  destroy(cause: FailureCause): void {
    if (!this.dead) this.fail(cause)
    this.dead = true
    this.client.destroy()
    this.upstream.destroy()
  }

  private maybeForget(): void {
    if (this.clientClosed && !this.upstreamClosed && !this.upstream.destroyed) {
      // the client is gone for good (both directions): nothing more can be delivered
      const n = this.takeOutstanding()
      if (n > 0 && !this.dead) this.proxy.ctx.stats.aborted(this.revision, n, this.endpoint.id)
      this.dead = true
      this.upstream.destroy()
    }
    if (this.upstreamClosed && !this.clientClosed && !this.client.destroyed && this.dead) this.client.destroy()
    if (this.clientClosed && this.upstreamClosed) this.proxy.forget(this)
  }
}
