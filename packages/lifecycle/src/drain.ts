import net from 'node:net'
import tls from 'node:tls'
import type http from 'node:http'
import type http2 from 'node:http2'

/** Any server zerodrop can drain: node:http, node:https, node:http2 (secure or not). */
export type DrainableServer = http.Server | http2.Http2Server | http2.Http2SecureServer | net.Server

interface SocketState {
  readonly socket: net.Socket
  /** requests on this socket whose response has not finished */
  active: number
  /** requests answered on this socket */
  served: number
  /** accepted during a phase where its first request may still come */
  newTimer: NodeJS.Timeout | undefined
}

export interface DrainResult {
  /** sockets still open when the drain was forced */
  readonly destroyed: number
  /** requests still in flight when the drain was forced */
  readonly unfinished: number
}

type Phase = 'serving' | 'delay' | 'closing'

// Per-request bookkeeping lives on the socket and the response themselves: no Map lookup, no
// closure and no once-wrapper per request on the hot path.
const kState = Symbol('zerodrop.socketState')
const kTracker = Symbol('zerodrop.tracker')
type TrackedSocket = net.Socket & { [kState]?: SocketState }
type TrackedResponse = http.ServerResponse & { [kTracker]?: ServerTracker; [kState]?: SocketState | undefined }

const H2_SERVER = /^Http2(Secure)?Server$/

/**
 * Tracks one server's connections and in-flight requests, and drains it following the
 * contract in docs/architecture.md:
 * - during the delay every response carries `Connection: close` and no socket is touched;
 * - then the listener closes, idle sockets are ended (FIN, not RST), busy ones right after
 *   their response, and a socket that has not sent its first request yet gets a short grace.
 * It listens to the server's own events, so the request handler is never wrapped.
 */
export class ServerTracker {
  readonly server: DrainableServer
  readonly #sockets = new Map<net.Socket, SocketState>()
  readonly #sessions = new Set<http2.Http2Session>()
  readonly #h2: boolean
  #phase: Phase = 'serving'
  #inFlight = 0
  #newConnectionGraceMs = 1000
  #idleWaiters: Array<() => void> = []
  #closeWaiters: Array<() => void> = []

  constructor(server: DrainableServer) {
    this.server = server
    this.#h2 = H2_SERVER.test(server.constructor.name)
    const connectionEvent = server instanceof tls.Server ? 'secureConnection' : 'connection'
    server.on(connectionEvent, this.#onConnection)
    server.prependListener('request', this.#onRequest)
    if (this.#h2) server.on('session', this.#onSession)
  }

  get inFlight(): number {
    return this.#inFlight
  }

  get openConnections(): number {
    return this.#sockets.size + this.#sessions.size
  }

  detach(): void {
    const connectionEvent = this.server instanceof tls.Server ? 'secureConnection' : 'connection'
    this.server.off(connectionEvent, this.#onConnection)
    this.server.off('request', this.#onRequest)
    this.server.off('session', this.#onSession)
  }

  #onConnection = (socket: net.Socket): void => {
    if (this.#h2) return // HTTP/2 connections are tracked as sessions
    const state: SocketState = { socket, active: 0, served: 0, newTimer: undefined }
    this.#sockets.set(socket, state)
    ;(socket as TrackedSocket)[kState] = state
    socket.once('close', () => {
      if (state.newTimer) clearTimeout(state.newTimer)
      this.#sockets.delete(socket)
      this.#settle()
    })
    if (this.#phase === 'closing') this.#graceNew(socket, state)
  }

  #onSession = (session: http2.Http2Session): void => {
    this.#sessions.add(session)
    session.once('close', () => {
      this.#sessions.delete(session)
      this.#settle()
    })
    // A session opened during the drain serves what it is sent, then is told to go away.
    if (this.#phase !== 'serving') session.once('stream', () => session.close())
  }

  #onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    this.#inFlight++
    const state = req.httpVersionMajor === 2 ? undefined : (req.socket as TrackedSocket)[kState]
    const tracked = res as TrackedResponse
    tracked[kTracker] = this
    tracked[kState] = state
    if (state) {
      state.active++
      if (state.newTimer) {
        clearTimeout(state.newTimer)
        state.newTimer = undefined
      }
      // The load balancer may still send traffic: serve it, but move the client elsewhere.
      if (this.#phase !== 'serving') res.setHeader('connection', 'close')
    }
    // 'close' is emitted once per response, finished or aborted
    res.on('close', ServerTracker.#onResponseClose)
  }

  static #onResponseClose = function (this: TrackedResponse): void {
    const tracker = this[kTracker] as ServerTracker
    const state = this[kState]
    tracker.#inFlight--
    if (state) {
      state.active--
      state.served++
      if (tracker.#phase === 'closing' && state.active === 0) state.socket.end()
    }
    tracker.#settle()
  }

  /** Drain step 1: from now on every response says `Connection: close`; HTTP/2 sessions get GOAWAY. */
  beginDelay(): void {
    if (this.#phase !== 'serving') return
    this.#phase = 'delay'
    for (const [socket, state] of this.#sockets) {
      if (state.active > 0) {
        const res = (socket as net.Socket & { _httpMessage?: http.ServerResponse })._httpMessage
        if (res && !res.headersSent) res.setHeader('connection', 'close')
      }
    }
    // GOAWAY: open streams finish, new requests go to a new connection (through the balancer).
    for (const session of this.#sessions) session.close()
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
    for (const [socket, state] of this.#sockets) {
      if (state.active > 0) continue
      if (state.served > 0) socket.end()
      else this.#graceNew(socket, state)
    }
    for (const session of this.#sessions) session.close()
    this.#settle()
  }

  /** A connection whose first request has not arrived yet is not idle: give it a short grace. */
  #graceNew(socket: net.Socket, state: SocketState): void {
    if (state.newTimer) return
    state.newTimer = setTimeout(() => {
      state.newTimer = undefined
      if (state.active === 0) socket.end()
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
