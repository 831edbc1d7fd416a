/**
 * Incremental HTTP/1.x message framing for one direction of a connection (RFC 9112 §6).
 *
 * The l4 router passes bytes through untouched and only needs to know where each message
 * ends, so it can count every request it forwards and every response it returns. This parser
 * does just that: it reads heads (request line or status line, plus the few framing headers),
 * then skips bodies by count (Content-Length, chunk sizes) without looking at body bytes.
 * Only an incomplete head, chunk-size line or trailer section is ever buffered.
 *
 * Considered instead: Node's own llhttp (not reachable without `node:http` taking over the
 * socket, which breaks the 1:1 pass-through) and http-parser-js (a full pure-JS parser that
 * materialises every header and body callback: more work per message and a dependency).
 *
 * On input it cannot frame (not HTTP/1.x, an ambiguous length, a head over `maxHeadBytes`) or
 * after a protocol switch (101, a successful CONNECT) it stops framing and reports
 * pass-through: bytes still flow, but no more messages are counted on that connection.
 */

const CRLF = Buffer.from('\r\n')
const CRLFCRLF = Buffer.from('\r\n\r\n')

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  Trailers,
  UntilClose,
  Passthrough,
}

export type PassthroughReason = 'upgrade' | 'connect' | 'malformed' | 'head-too-large'

export interface RequestHead {
  readonly method: string
  /** the request asked to switch protocols (`Upgrade` header) */
  readonly upgrade: boolean
}

export interface ResponseHead {
  readonly status: number
  /** the method of the request this response answers (`undefined` for an unsolicited response) */
  readonly method: string | undefined
  /** 100, 102, 103: an interim response, the request still waits for its final one */
  readonly interim: boolean
}

export interface RequestFramingHandler {
  /** A request head was read; the request's body (if any) follows. */
  onRequest(head: RequestHead): void
  onPassthrough(reason: PassthroughReason): void
}

export interface ResponseFramingHandler {
  /** A complete response (head and body) was read. Interim 1xx responses are reported too, with `interim: true`. */
  onResponse(head: ResponseHead): void
  onPassthrough(reason: PassthroughReason): void
}

abstract class FramingParser {
  protected state: State = State.Head
  protected remaining = 0
  private pending: Buffer | null = null
  private readonly maxHeadBytes: number

  constructor(maxHeadBytes: number) {
    this.maxHeadBytes = maxHeadBytes
  }

  /** Between messages, nothing partial pending. */
  get idle(): boolean {
    return this.state === State.Head && this.pending === null
  }

  get passthrough(): boolean {
    return this.state === State.Passthrough
  }

  push(chunk: Buffer): void {
    if (this.state === State.Passthrough || this.state === State.UntilClose) return
    let buf = chunk
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk])
      this.pending = null
    }
    let i = 0
    const n = buf.length
    while (i < n) {
      switch (this.state) {
        case State.Head: {
          // RFC 9112 §2.2: a recipient should ignore at least one empty line before a request-line
          while (i + 1 < n && buf[i] === 13 && buf[i + 1] === 10) i += 2
          if (i >= n) return
          const end = buf.indexOf(CRLFCRLF, i)
          if (end === -1) {
            if (n - i > this.maxHeadBytes) return this.toPassthrough('head-too-large')
            this.pending = buf.subarray(i)
            return
          }
          if (end - i > this.maxHeadBytes) return this.toPassthrough('head-too-large')
          const head = buf.toString('latin1', i, end)
          i = end + 4
          this.onHead(head)
          break
        }
        case State.Length:
        case State.ChunkData: {
          const take = Math.min(this.remaining, n - i)
          this.remaining -= take
          i += take
          if (this.remaining === 0) {
            if (this.state === State.Length) this.complete()
            else this.state = State.ChunkSize
          }
          break
        }
        case State.ChunkSize: {
          const end = buf.indexOf(CRLF, i)
          if (end === -1) {
            if (n - i > 4096) return this.toPassthrough('malformed')
            this.pending = buf.subarray(i)
            return
          }
          const line = buf.toString('latin1', i, end)
          i = end + 2
          const semi = line.indexOf(';')
          const hex = (semi === -1 ? line : line.slice(0, semi)).trim()
          if (!/^[0-9a-fA-F]{1,15}$/.test(hex)) return this.toPassthrough('malformed')
          const size = parseInt(hex, 16)
          if (size === 0) {
            this.state = State.Trailers
          } else {
            this.state = State.ChunkData
            this.remaining = size + 2 // chunk data and its CRLF
          }
          break
        }
        case State.Trailers: {
          if (n - i < 2) {
            this.pending = buf.subarray(i)
            return
          }
          if (buf[i] === 13 && buf[i + 1] === 10) {
            i += 2
            this.complete()
            break
          }
          const end = buf.indexOf(CRLFCRLF, i)
          if (end === -1) {
            if (n - i > this.maxHeadBytes) return this.toPassthrough('head-too-large')
            this.pending = buf.subarray(i)
            return
          }
          i = end + 4
          this.complete()
          break
        }
        default:
          // UntilClose, Passthrough: nothing left to frame
          return
      }
    }
  }

  protected toPassthrough(reason: PassthroughReason): void {
    this.state = State.Passthrough
    this.pending = null
    this.passthroughReason(reason)
  }

  protected abstract onHead(head: string): void
  protected abstract complete(): void
  protected abstract passthroughReason(reason: PassthroughReason): void
}

interface Framing {
  contentLength: number // -1 when absent
  chunked: boolean
  otherCoding: boolean // Transfer-Encoding present but chunked is not the final coding
  upgrade: boolean
  ambiguous: boolean
}

function readFraming(lines: string[]): Framing {
  const f: Framing = { contentLength: -1, chunked: false, otherCoding: false, upgrade: false, ambiguous: false }
  let te = false
  for (let k = 1; k < lines.length; k++) {
    const line = lines[k] as string
    const colon = line.indexOf(':')
    if (colon <= 0) {
      f.ambiguous = true
      continue
    }
    const name = line.slice(0, colon)
    // only three header names matter for framing: compare by length first to stay cheap
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      const value = line.slice(colon + 1).trim()
      if (!/^\d{1,15}$/.test(value)) {
        f.ambiguous = true
        continue
      }
      const cl = Number(value)
      if (f.contentLength !== -1 && f.contentLength !== cl) f.ambiguous = true
      f.contentLength = cl
    } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
      te = true
      const codings = line.slice(colon + 1).split(',')
      const last = (codings[codings.length - 1] ?? '').trim().toLowerCase()
      f.chunked = last === 'chunked'
      f.otherCoding = !f.chunked
    } else if (name.length === 7 && name.toLowerCase() === 'upgrade') {
      f.upgrade = true
    }
  }
  // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length (and is a smuggling smell: we just follow the RFC)
  if (te) f.contentLength = -1
  return f
}

export class RequestFramingParser extends FramingParser {
  private readonly handler: RequestFramingHandler

  constructor(handler: RequestFramingHandler, maxHeadBytes = 64 * 1024) {
    super(maxHeadBytes)
    this.handler = handler
  }

  protected onHead(head: string): void {
    const lines = head.split('\r\n')
    const first = lines[0] ?? ''
    const sp = first.indexOf(' ')
    if (sp <= 0 || !/ HTTP\/1\.[01]$/.test(first)) return this.toPassthrough('malformed')
    const method = first.slice(0, sp)
    const f = readFraming(lines)
    if (f.ambiguous || f.otherCoding) return this.toPassthrough('malformed')
    this.handler.onRequest({ method, upgrade: f.upgrade })
    if (this.state === State.Passthrough) return
    if (method === 'CONNECT') {
      // whatever follows belongs to the tunnel (or to nothing, when refused and closed)
      this.state = State.Passthrough
      return
    }
    if (f.chunked) {
      this.state = State.ChunkSize
    } else if (f.contentLength > 0) {
      this.state = State.Length
      this.remaining = f.contentLength
    } else {
      this.state = State.Head
    }
  }

  protected complete(): void {
    this.state = State.Head
  }

  protected passthroughReason(reason: PassthroughReason): void {
    this.handler.onPassthrough(reason)
  }

  /** The other direction switched protocols: stop framing requests. */
  switchToPassthrough(): void {
    if (this.state !== State.Passthrough) {
      this.state = State.Passthrough
    }
  }
}

export class ResponseFramingParser extends FramingParser {
  private readonly handler: ResponseFramingHandler
  private readonly methods: string[] = []
  private current: ResponseHead | null = null

  constructor(handler: ResponseFramingHandler, maxHeadBytes = 64 * 1024) {
    super(maxHeadBytes)
    this.handler = handler
  }

  /** Tell the parser a request was sent, so it knows how the response to it is framed (HEAD, CONNECT). */
  expectResponseTo(method: string): void {
    this.methods.push(method)
  }

  /** The connection ended cleanly. A response delimited by the close is complete now; returns whether a partial response was cut. */
  end(): boolean {
    if (this.state === State.UntilClose) {
      this.complete()
      return false
    }
    return !this.idle && this.state !== State.Passthrough
  }

  protected onHead(head: string): void {
    const lines = head.split('\r\n')
    const first = lines[0] ?? ''
    const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(first)
    if (m === null) return this.toPassthrough('malformed')
    const status = Number(m[1])
    const method = this.methods[0]
    const interim = status >= 100 && status < 200 && status !== 101
    this.current = { status, method, interim }
    if (interim) return this.complete()
    if (status === 101) {
      this.complete()
      return this.toPassthrough('upgrade')
    }
    if (method === 'CONNECT' && status >= 200 && status < 300) {
      this.complete()
      return this.toPassthrough('connect')
    }
    if (method === 'HEAD' || status === 204 || status === 304) return this.complete()
    const f = readFraming(lines)
    if (f.ambiguous) return this.toPassthrough('malformed')
    if (f.chunked) {
      this.state = State.ChunkSize
    } else if (f.otherCoding) {
      this.state = State.UntilClose
    } else if (f.contentLength >= 0) {
      if (f.contentLength === 0) return this.complete()
      this.state = State.Length
      this.remaining = f.contentLength
    } else {
      this.state = State.UntilClose
    }
  }

  protected complete(): void {
    const head = this.current
    this.current = null
    this.state = State.Head
    if (head === null) return
    if (!head.interim) this.methods.shift()
    this.handler.onResponse(head)
  }

  protected passthroughReason(reason: PassthroughReason): void {
    this.handler.onPassthrough(reason)
  }
}
