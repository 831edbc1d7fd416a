import net from 'node:net'
import tls from 'node:tls'
import type http from 'node:http'
import http2 from 'node:http2'

/** Any server zerodrop can drain: node:http, node:https, node:http2 (secure or not). */
export type DrainableServer = http.Server | http2.Http2Server | http2.Http2SecureServer | net.Server

interface SocketState {
  readonly socket: net.Socket
  /** the tracker this state belongs to (two lifecycles may track the same server) */
  readonly owner: ServerTracker
  /** responses on this socket not yet settled, oldest first (pipelined requests queue up) */
  readonly pending: Response[]
  /** the `'close'` listener of every response on this socket: one function per socket, not per request */
  readonly onResponseClose: (this: Response) => void
  /** requests answered on this socket */
  served: number
  /** taken over by an `'upgrade'` listener (a WebSocket): no longer HTTP, ended when the listener closes */
  upgraded: boolean
  /** accepted during a phase where its first request may still come */
  newTimer: NodeJS.Timeout | undefined
}

export interface DrainResult {
  /** sockets still open when the drain was forced */
  readonly destroyed: number
  /** requests still in flight when the drain was forced */
  readonly unfinished: number
}

export interface TrackerOptions {
  /** Probe and metrics requests: served, but not evidence that the load balancer still sends traffic. */
  readonly exempt?: (url: string | undefined) => boolean
  /** Called for every other request (and upgrade) that arrives during the drain delay, with the time it arrived. */
  readonly onActivity?: (at: number) => void
}

type Phase = 'serving' | 'delay' | 'closing'

// Per-request bookkeeping on the hot path: one property read on the socket, a push and a
// listener whose function is made once per socket. Nothing is stored on the HTTP/1 response:
// a new property on every response was a map transition and a megamorphic store per request
// (profiled in test/bench: about 1.5 k of the 3.8 k instructions zerodrop added per request).
// A response is in flight exactly while it is in its socket's `pending` list.
const kState = Symbol('zerodrop.socketState')
const kSettled = Symbol('zerodrop.settled')
type TrackedSocket = net.Socket & { [kState]?: SocketState }
type Response = http.ServerResponse | http2.Http2ServerResponse
type H2Response = http2.Http2ServerResponse & { [kSettled]?: boolean }
type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest

const H2_SERVER = /^Http2(Secure)?Server$/
/** The highest stream id: a GOAWAY carrying it announces the shutdown and refuses nothing (RFC 9113 §6.8). */
const MAX_STREAM_ID = 2 ** 31 - 1

/**
 * Tracks one server's connections and in-flight requests, and drains it following the
 * contract in docs/architecture.md ("drain contract"):
 * - during the delay every HTTP/1 response carries `Connection: close`, HTTP/2 sessions have a
 *   GOAWAY with the maximum stream id (shutdown announced, nothing refused), and no socket is touched;
 * - then the listener closes, HTTP/2 sessions get the final GOAWAY (the real last stream id), idle
 *   sockets are ended (FIN, not RST), busy ones right after their response, upgraded ones at
 *   once (the long-lived helper has sent their close frame by then), and a socket that has not
 *   sent its first request yet gets a short grace.
 * An HTTP/2 server with `allowHTTP1` serves both kinds; each is drained by its own rules.
 * It listens to the server's own events, so the request handler is never wrapped.
 */
export class ServerTracker {
  readonly server: DrainableServer
  readonly #sockets = new Map<net.Socket, SocketState>()
  readonly #sessions = new Set<http2.Http2Session>()
  readonly #h2: boolean
  readonly #exempt: (url: string | undefined) => boolean
  readonly #onActivity: ((at: number) => void) | undefined
  readonly #unwatch: Array<() => void> = []
  #phase: Phase = 'serving'
  #inFlight = 0
  #servedDuringDelay = 0
  #newConnectionGraceMs = 1000
  #idleWaiters: Array<() => void> = []
  #closeWaiters: Array<() => void> = []
  /** responses first seen on 'checkContinue' / 'checkExpectation': the application may emit 'request' for them again */
  #continued: WeakSet<Response> | undefined
  readonly #onH2ResponseClose: (this: H2Response) => void

  constructor(server: DrainableServer, options: TrackerOptions = {}) {
    this.server = server
    this.#h2 = H2_SERVER.test(server.constructor.name)
    this.#exempt = options.exempt ?? (() => false)
    this.#onActivity = options.onActivity
    const tracker = this
    this.#onH2ResponseClose = function (this: H2Response): void {
      if (this[kSettled] === true) return
      this[kSettled] = true
      tracker.#inFlight--
      tracker.#settle()
    }
    const connectionEvent = server instanceof tls.Server ? 'secureConnection' : 'connection'
    server.on(connectionEvent, this.#onConnection)
    server.prependListener('request', this.#onRequest)
    if (this.#h2) server.on('session', this.#onSession)
    // Listening to these changes what Node does (a 100 Continue it no longer sends, an Upgrade
    // it no longer treats as a plain request): follow them only once the application does.
    this.#follow('checkContinue', this.#onContinue)
    this.#follow('checkExpectation', this.#onContinue)
    this.#follow('upgrade', this.#onUpgrade)
  }

  get inFlight(): number {
    return this.#inFlight
  }

  get openConnections(): number {
    return this.#sockets.size + this.#sessions.size
  }

  /** Requests (probes aside) that arrived during the drain delay. */
  get servedDuringDelay(): number {
    return this.#servedDuringDelay
  }

  detach(): void {
    const connectionEvent = this.server instanceof tls.Server ? 'secureConnection' : 'connection'
    this.server.off(connectionEvent, this.#onConnection)
    this.server.off('request', this.#onRequest)
    this.server.off('session', this.#onSession)
    for (const unwatch of this.#unwatch) unwatch()
  }

  /**
   * Follows `event` before the application's own listener: at once if it already has one,
   * else from the moment it adds one.
   */
  #follow(event: string, listener: (...args: never[]) => void): void {
    const server = this.server as net.Server
    const l = listener as (...args: unknown[]) => void
    if (server.listenerCount(event) > 0) {
      server.prependListener(event, l)
      this.#unwatch.push(() => server.off(event, l))
      return
    }
    const onNew = (name: string | symbol, fn: unknown): void => {
      if (name !== event || fn === l) return
      server.off('newListener', onNew)
      server.prependListener(event, l)
    }
    server.on('newListener', onNew)
    this.#unwatch.push(() => {
      server.off('newListener', onNew)
      server.off(event, l)
    })
  }

  #onConnection = (socket: net.Socket): void => {
    // HTTP/2 connections are tracked as sessions; with allowHTTP1 the others are HTTP/1.1 sockets.
    if (this.#h2 && (!(socket instanceof tls.TLSSocket) || socket.alpnProtocol === 'h2')) return
    this.adopt(socket)
  }

  /**
   * Tracks a socket the server accepted before the tracker saw it (a server attached late, or
   * one a framework created on its own). Returns its state.
   */
  adopt(socket: net.Socket): SocketState {
    const known = (socket as TrackedSocket)[kState]
    if (known !== undefined && known.owner === this) return known
    const mine = this.#sockets.get(socket)
    if (mine !== undefined) return mine
    const tracker = this
    const state: SocketState = {
      socket,
      owner: this,
      pending: [],
      onResponseClose(this: Response): void {
        tracker.#onResponseClose(state, this)
      },
      served: 0,
      upgraded: false,
      newTimer: undefined,
    }
    this.#sockets.set(socket, state)
    ;(socket as TrackedSocket)[kState] = state
    socket.once('close', () => {
      if (state.newTimer) clearTimeout(state.newTimer)
      this.#sockets.delete(socket)
      // A pipelined response queued behind the one in progress never emits 'close' when its
      // socket dies: settle whatever the socket still owed, or in-flight never reaches zero.
      // Their own 'close', if it comes later, finds them no longer pending.
      this.#inFlight -= state.pending.length
      state.pending.length = 0
      this.#settle()
    })
    if (this.#phase === 'closing') this.#graceNew(socket, state)
    return state
  }

  #onSession = (session: http2.Http2Session): void => {
    this.#sessions.add(session)
    session.once('close', () => {
      this.#sessions.delete(session)
      this.#settle()
    })
    // A session opened during the drain serves what it is sent, and learns with its first stream
    // that it should move: not before, since streams that reach nghttp2 after any GOAWAY went out
    // wait unprocessed until the final one refuses them (docs/architecture.md, "HTTP/2"); and not
    // from inside nghttp2's callback, with the rest of the client's frames still being read.
    if (this.#phase === 'delay') session.once('stream', () => setImmediate(goawayAnnounce, session))
    else if (this.#phase === 'closing') session.once('stream', () => session.close())
  }

  #onRequest = (req: AnyRequest, res: Response): void => {
    if (this.#continued !== undefined && this.#continued.has(res)) return // 'checkContinue' already counted it
    this.#count(req, res)
  }

  #onContinue = (req: AnyRequest, res: Response): void => {
    if (this.#continued !== undefined && this.#continued.has(res)) return
    ;(this.#continued ??= new WeakSet()).add(res)
    this.#count(req, res)
  }

  #count(req: AnyRequest, res: Response): void {
    this.#inFlight++
    if (this.#phase === 'delay') this.#noteArrival(req.url)
    if (req.httpVersionMajor === 2) {
      res.on('close', this.#onH2ResponseClose)
      return
    }
    const socket = req.socket as TrackedSocket
    let state = socket[kState]
    if (state === undefined || state.owner !== this) state = this.adopt(socket)
    state.pending.push(res)
    if (state.newTimer) {
      clearTimeout(state.newTimer)
      state.newTimer = undefined
    }
    // The load balancer may still send traffic: serve it, but move the client elsewhere.
    if (this.#phase !== 'serving') (res as http.ServerResponse).setHeader('connection', 'close')
    // 'close' is emitted once per response, finished or aborted (not for a queued pipelined one: see adopt)
    res.on('close', state.onResponseClose)
  }

  #onUpgrade = (req: http.IncomingMessage, socket: net.Socket): void => {
    if (this.#phase === 'delay') this.#noteArrival(req.url)
    const state = this.adopt(socket)
    state.upgraded = true
    if (state.newTimer) {
      clearTimeout(state.newTimer)
      state.newTimer = undefined
    }
  }

  /** Only the drain delay needs to know (callers check the phase): nothing on the hot path while serving. */
  #noteArrival(url: string | undefined): void {
    if (this.#exempt(url)) return
    this.#servedDuringDelay++
    this.#onActivity?.(performance.now())
  }

  /** An HTTP/1 response closed: out of in-flight, once (not at all if its socket's close settled it). */
  #onResponseClose(state: SocketState, res: Response): void {
    const pending = state.pending
    const i = pending[0] === res ? 0 : pending.indexOf(res)
    if (i === -1) return
    if (i === pending.length - 1) pending.pop()
    else pending.splice(i, 1)
    this.#inFlight--
    state.served++
    if (this.#phase === 'closing' && pending.length === 0) state.socket.end()
    this.#settle()
  }

  /** Drain step 1: from now on every response says `Connection: close`; HTTP/2 sessions get the first GOAWAY. */
  beginDelay(): void {
    if (this.#phase !== 'serving') return
    this.#phase = 'delay'
    for (const state of this.#sockets.values()) {
      const res = state.pending[0] as http.ServerResponse | undefined
      if (res !== undefined && !res.headersSent) res.setHeader('connection', 'close')
    }
    // Not session.close(): its GOAWAY carries the last stream id processed, so streams the
    // client opened before it saw the GOAWAY would be refused. This one refuses nothing.
    for (const session of this.#sessions) goawayAnnounce(session)
  }

  /** Drain step 3: stop listening, end idle sockets, end busy ones after their response. */
  beginClose(newConnectionGraceMs: number): void {
    if (this.#phase === 'closing') return
    if (this.#phase === 'serving') this.beginDelay()
    this.#phase = 'closing'
    this.#newConnectionGraceMs = newConnectionGraceMs
    // net.Server's close only: http.Server#close would also destroy idle sockets at once. It
    // stops accepting now; its callback waits for every connection, which a client that never
    // closes its side would hold until the timeout, so nothing waits for it.
    if (this.server.listening) net.Server.prototype.close.call(this.server)
    // attached after the delay and not listening yet: it closes as soon as it does
    else this.server.once('listening', () => net.Server.prototype.close.call(this.server))
    for (const [socket, state] of this.#sockets) {
      if (state.upgraded) socket.end()
      else if (state.pending.length > 0) continue
      else if (state.served > 0) socket.end()
      else this.#graceNew(socket, state)
    }
    // The final GOAWAY (the real last stream id); each session ends once its streams have.
    for (const session of this.#sessions) session.close()
    this.#settle()
  }

  /** Upgraded sockets still open (WebSockets and the like). */
  get upgradedConnections(): number {
    let n = 0
    for (const state of this.#sockets.values()) if (state.upgraded) n++
    return n
  }

  /** A connection whose first request has not arrived yet is not idle: give it a short grace. */
  #graceNew(socket: net.Socket, state: SocketState): void {
    if (state.newTimer) return
    state.newTimer = setTimeout(() => {
      state.newTimer = undefined
      if (state.pending.length === 0) socket.end()
      this.#settle()
    }, this.#newConnectionGraceMs)
    state.newTimer.unref()
  }

  /** Resolves once nothing is in flight, no new connection is in its grace, and the listener is closed. */
  whenIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  /** Resolves when every socket and session has closed, or after `ms`, destroying what is left. */
  async closeAll(ms: number): Promise<number> {
    if (this.openConnections === 0) return 0
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      timer.unref()
      this.#closeWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
      this.#settle()
    })
    return this.destroyAll().destroyed
  }

  /** Force: destroy whatever is still open. */
  destroyAll(): DrainResult {
    const destroyed = this.openConnections
    const unfinished = this.#inFlight
    for (const socket of this.#sockets.keys()) socket.destroy()
    for (const session of this.#sessions) session.destroy()
    if (this.server.listening) net.Server.prototype.close.call(this.server)
    return { destroyed, unfinished }
  }

  #isIdle(): boolean {
    if (this.#phase !== 'closing' || this.#inFlight > 0) return false
    for (const state of this.#sockets.values()) if (state.newTimer) return false
    return true
  }

  #settle(): void {
    if (this.#idleWaiters.length > 0 && this.#isIdle()) {
      const waiters = this.#idleWaiters
      this.#idleWaiters = []
      for (const w of waiters) w()
    }
    if (this.#closeWaiters.length > 0 && this.openConnections === 0) {
      const waiters = this.#closeWaiters
      this.#closeWaiters = []
      for (const w of waiters) w()
    }
  }
}

function goawayAnnounce(session: http2.Http2Session): void {
  if (session.closed || session.destroyed) return
  session.goaway(http2.constants.NGHTTP2_NO_ERROR, MAX_STREAM_ID)
}
