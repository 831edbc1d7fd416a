import net from 'node:net'
import tls from 'node:tls'
import type http from 'node:http'
import http2 from 'node:http2'

/** Any server zerodrop can drain: node:http, node:https, node:http2 (secure or not). */
export type DrainableServer = http.Server | http2.Http2Server | http2.Http2SecureServer | net.Server

interface SocketState {
  readonly socket: net.Socket
  /** responses on this socket not yet settled, oldest first (pipelined requests queue up) */
  readonly pending: TrackedResponse[]
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

// Per-request bookkeeping lives on the socket and the response themselves: no Map lookup, no
// closure and no once-wrapper per request on the hot path.
const kState = Symbol('zerodrop.socketState')
const kTracker = Symbol('zerodrop.tracker')
const kSettled = Symbol('zerodrop.settled')
type TrackedSocket = net.Socket & { [kState]?: SocketState }
type TrackedResponse = (http.ServerResponse | http2.Http2ServerResponse) & {
  [kTracker]?: ServerTracker
  [kState]?: SocketState | undefined
  [kSettled]?: boolean
}
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

  constructor(server: DrainableServer, options: TrackerOptions = {}) {
    this.server = server
    this.#h2 = H2_SERVER.test(server.constructor.name)
    this.#exempt = options.exempt ?? (() => false)
    this.#onActivity = options.onActivity
    const connectionEvent = server instanceof tls.Server ? 'secureConnection' : 'connection'
    server.on(connectionEvent, this.#onConnection)
    server.prependListener('request', this.#onRequest)
    if (this.#h2) server.on('session', this.#onSession)
    // Listening to these changes what Node does (a 100 Continue it no longer sends, an Upgrade
    // it no longer treats as a plain request): follow them only once the application does.
    this.#follow('checkContinue', this.#onRequest)
    this.#follow('checkExpectation', this.#onRequest)
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
    if (known !== undefined && this.#sockets.get(socket) === known) return known
    const state: SocketState = { socket, pending: [], served: 0, upgraded: false, newTimer: undefined }
    this.#sockets.set(socket, state)
    ;(socket as TrackedSocket)[kState] = state
    socket.once('close', () => {
      if (state.newTimer) clearTimeout(state.newTimer)
      this.#sockets.delete(socket)
      // A pipelined response queued behind the one in progress never emits 'close' when its
      // socket dies: settle whatever the socket still owed, or in-flight never reaches zero.
      for (const res of state.pending.splice(0)) this.#settleResponse(res)
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
    // A session opened during the drain serves what it is sent, and learns at once that it should move.
    if (this.#phase === 'delay') goawayAnnounce(session)
    else if (this.#phase === 'closing') session.once('stream', () => session.close())
  }

  #onRequest = (req: AnyRequest, res: http.ServerResponse | http2.Http2ServerResponse): void => {
    const tracked = res as TrackedResponse
    if (tracked[kTracker] !== undefined) return // 'checkContinue' already counted it
    this.#inFlight++
    this.#noteArrival(req.url)
    const h1 = req.httpVersionMajor !== 2
    let state: SocketState | undefined
    if (h1) {
      const socket = req.socket as TrackedSocket
      state = socket[kState] ?? this.adopt(socket)
    }
    tracked[kTracker] = this
    tracked[kState] = state
    if (state) {
      state.pending.push(tracked)
      if (state.newTimer) {
        clearTimeout(state.newTimer)
        state.newTimer = undefined
      }
      // The load balancer may still send traffic: serve it, but move the client elsewhere.
      if (this.#phase !== 'serving') (res as http.ServerResponse).setHeader('connection', 'close')
    }
    // 'close' is emitted once per response, finished or aborted (not for a queued pipelined one: see adopt)
    res.on('close', ServerTracker.#onResponseClose)
  }

  #onUpgrade = (req: http.IncomingMessage, socket: net.Socket): void => {
    this.#noteArrival(req.url)
    const state = (socket as TrackedSocket)[kState] ?? this.adopt(socket)
    state.upgraded = true
    if (state.newTimer) {
      clearTimeout(state.newTimer)
      state.newTimer = undefined
    }
  }

  /** Only the drain delay needs to know: nothing on the hot path while serving. */
  #noteArrival(url: string | undefined): void {
    if (this.#phase !== 'delay' || this.#exempt(url)) return
    this.#servedDuringDelay++
    this.#onActivity?.(performance.now())
  }

  static #onResponseClose = function (this: TrackedResponse): void {
    const tracker = this[kTracker] as ServerTracker
    const state = this[kState]
    if (!tracker.#settleResponse(this)) return
    if (state) {
      const i = state.pending.indexOf(this)
      if (i !== -1) state.pending.splice(i, 1)
      state.served++
      if (tracker.#phase === 'closing' && state.pending.length === 0) state.socket.end()
    }
    tracker.#settle()
  }

  /** Counts a response out of in-flight, once. */
  #settleResponse(res: TrackedResponse): boolean {
    if (res[kSettled] === true) return false
    res[kSettled] = true
    this.#inFlight--
    return true
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
