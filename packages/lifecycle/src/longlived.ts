import type http from 'node:http'

/** What a long-lived connection does when the drain delay ends (called once, with the drain's reason). */
export type GoAway = (reason: string) => void

/** Call it once the connection has ended, whichever side ended it. */
export type Release = () => void

/** The part of a `ws` WebSocket (or any compatible one) the helper uses. */
export interface WebSocketLike {
  close(code?: number, reason?: string): void
  once(event: 'close', listener: () => void): unknown
}

export interface EventStreamOptions {
  /** Name of the final event. @default 'draining' */
  readonly event?: string
  /** Its data line. @default 'server draining' */
  readonly data?: string
  /** The `retry:` hint, in ms: how soon the client reconnects (to another instance by then). @default 1000 */
  readonly retryMs?: number
}

/** WebSocket close code 1001: the endpoint is going away (RFC 6455 §7.4.1). */
export const WS_GOING_AWAY = 1001

interface Entry {
  readonly goAway: GoAway
  told: boolean
}

/**
 * The long-lived connections of one lifecycle (WebSockets, SSE streams, long polls): each is
 * told to go when the drain delay ends — not at drain start, when a reconnect would land on
 * this same instance — and the drain waits until each has released, up to its timeout.
 */
export class LongLivedSet {
  readonly #open = new Set<Entry>()
  #reason: string | undefined
  #emptyWaiters: Array<() => void> = []

  get size(): number {
    return this.#open.size
  }

  add(goAway: GoAway, onError: (err: unknown) => void): Release {
    const entry: Entry = { goAway, told: false }
    this.#open.add(entry)
    // Registered after the delay ended: it is told to go at once (on the next tick, once set up).
    if (this.#reason !== undefined) {
      const reason = this.#reason
      queueMicrotask(() => this.#tell(entry, reason, onError))
    }
    return () => {
      if (!this.#open.delete(entry)) return
      if (this.#open.size === 0) {
        const waiters = this.#emptyWaiters
        this.#emptyWaiters = []
        for (const w of waiters) w()
      }
    }
  }

  /** The drain delay is over: tell every connection to go. */
  goAway(reason: string, onError: (err: unknown) => void): void {
    this.#reason = reason
    for (const entry of [...this.#open]) this.#tell(entry, reason, onError)
  }

  whenEmpty(): Promise<void> {
    if (this.#open.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.#emptyWaiters.push(resolve))
  }

  #tell(entry: Entry, reason: string, onError: (err: unknown) => void): void {
    if (entry.told || !this.#open.has(entry)) return
    entry.told = true
    try {
      entry.goAway(reason)
    } catch (err) {
      onError(err)
    }
  }
}

/** Closes a WebSocket with 1001 when told to go; releases when it has closed. */
export function webSocketGoAway(ws: WebSocketLike, add: (goAway: GoAway) => Release): void {
  const release = add(() => ws.close(WS_GOING_AWAY, 'server draining'))
  ws.once('close', release)
}

/** Ends an SSE response with a final event and a `retry:` hint when told to go; releases when it has closed. */
export function eventStreamGoAway(res: http.ServerResponse, options: EventStreamOptions, add: (goAway: GoAway) => Release): void {
  const event = options.event ?? 'draining'
  const data = options.data ?? 'server draining'
  const retryMs = options.retryMs ?? 1000
  const release = add(() => {
    if (res.writableEnded || res.destroyed) return
    res.end(`event: ${event}\ndata: ${data}\nretry: ${retryMs}\n\n`)
  })
  res.once('close', release)
}
