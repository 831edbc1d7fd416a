/**
 * The HTTP/1.1 client side the load generator needs, over a plain socket: serialise a request,
 * parse responses incrementally (RFC 9112 message framing: Content-Length, chunked, no body for
 * HEAD/1xx/204/304, or delimited by the connection closing) and say whether the connection may
 * carry another request. The generator owns the socket so that it writes the next request the
 * moment a response is complete (docs/architecture.md, "Counting a drop").
 */
import { InvalidOptionError } from '../core/errors.js'

export interface ParsedResponse {
  readonly status: number
  /** header names lower-cased; repeated headers joined with ', ' */
  readonly headers: Readonly<Record<string, string>>
  /** the server said `Connection: close`, answered HTTP/1.0 without keep-alive, or ended the body by closing */
  readonly close: boolean
  /** `Keep-Alive: timeout=N` hint in ms, when given */
  readonly keepAliveMs: number | undefined
  /** the body, only when the request asked for it (`expect(head, true)`) and it fit in MAX_KEPT_BODY_BYTES */
  readonly body?: Buffer
}

/** A response that is not HTTP/1.1 as RFC 9112 frames it; the request it answered counts as lost. */
export class ResponseParseError extends Error {
  readonly code = 'BAD_RESPONSE'
  constructor(message: string) {
    super(message)
    this.name = 'ResponseParseError'
  }
}

const MAX_HEAD_BYTES = 64 * 1024
/** A kept body larger than this is dropped (the response still completes): a checked write's answer is small. */
export const MAX_KEPT_BODY_BYTES = 1024 * 1024
const CRLF = Buffer.from('\r\n')
const HEAD_END = Buffer.from('\r\n\r\n')
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

type State = 'head' | 'fixed' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'until-close'

/** Parses the responses to the requests sent on one connection, in order. */
export class ResponseParser {
  #buf: Buffer = Buffer.alloc(0)
  #state: State = 'head'
  #remaining = 0
  #current: Omit<ParsedResponse, 'close'> & { close: boolean } | undefined
  #head = false
  #received = false
  // only the responses whose request asked for the body buffer it: every other body is skipped
  #keep = false
  #body: Buffer[] | undefined
  #bodyBytes = 0
  readonly #onResponse: (response: ParsedResponse) => void

  constructor(onResponse: (response: ParsedResponse) => void) {
    this.#onResponse = onResponse
  }

  /** The next response answers a HEAD request (no body whatever its headers say); `keepBody`: hand its body to the callback. */
  expect(head: boolean, keepBody = false): void {
    this.#head = head
    this.#received = false
    this.#keep = keepBody
  }

  /** Some byte of the response to the current request has arrived. */
  get received(): boolean {
    return this.#received
  }

  /** Feeds bytes from the socket; calls back for each complete response. Throws ResponseParseError. */
  push(chunk: Buffer): void {
    if (chunk.length > 0) this.#received = true
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk])
    while (this.#step());
  }

  /** The server closed the connection. True when that completed a response (its body was delimited by the close). */
  end(): boolean {
    if (this.#state !== 'until-close' || !this.#current) return false
    this.#complete()
    return true
  }

  #step(): boolean {
    switch (this.#state) {
      case 'head': {
        const at = this.#buf.indexOf(HEAD_END)
        if (at < 0) {
          if (this.#buf.length > MAX_HEAD_BYTES) throw new ResponseParseError(`response head larger than ${MAX_HEAD_BYTES} bytes`)
          return false
        }
        const head = this.#buf.subarray(0, at).toString('latin1')
        this.#buf = this.#buf.subarray(at + HEAD_END.length)
        this.#parseHead(head)
        return true
      }
      case 'fixed': {
        const n = Math.min(this.#remaining, this.#buf.length)
        if (this.#body) this.#keepBytes(this.#buf.subarray(0, n))
        this.#remaining -= n
        this.#buf = this.#buf.subarray(n)
        if (this.#remaining > 0) return false
        this.#complete()
        return true
      }
      case 'chunk-size': {
        const at = this.#buf.indexOf(CRLF)
        if (at < 0) {
          if (this.#buf.length > 1024) throw new ResponseParseError('chunk size line longer than 1024 bytes')
          return false
        }
        const line = this.#buf.subarray(0, at).toString('latin1')
        this.#buf = this.#buf.subarray(at + 2)
        const size = /^([0-9a-fA-F]{1,12})[ \t]*(;.*)?$/.exec(line)
        if (!size) throw new ResponseParseError(`bad chunk size line '${line.slice(0, 40)}'`)
        this.#remaining = Number.parseInt(size[1]!, 16)
        this.#state = this.#remaining === 0 ? 'trailers' : 'chunk-data'
        return true
      }
      case 'chunk-data': {
        const n = Math.min(this.#remaining, this.#buf.length)
        if (this.#body) this.#keepBytes(this.#buf.subarray(0, n))
        this.#remaining -= n
        this.#buf = this.#buf.subarray(n)
        if (this.#remaining > 0) return false
        this.#state = 'chunk-end'
        return true
      }
      case 'chunk-end': {
        if (this.#buf.length < 2) return false
        if (this.#buf[0] !== 13 || this.#buf[1] !== 10) throw new ResponseParseError('chunk data not followed by CRLF')
        this.#buf = this.#buf.subarray(2)
        this.#state = 'chunk-size'
        return true
      }
      case 'trailers': {
        const at = this.#buf.indexOf(CRLF)
        if (at < 0) return false
        this.#buf = this.#buf.subarray(at + 2)
        if (at === 0) this.#complete() // the empty line ends the trailer section
        return true
      }
      case 'until-close':
        if (this.#body && this.#buf.length > 0) this.#keepBytes(this.#buf)
        this.#buf = Buffer.alloc(0)
        return false
    }
  }

  #parseHead(head: string): void {
    const lines = head.split('\r\n')
    const status = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: .*)?$/.exec(lines[0] ?? '')
    if (!status) throw new ResponseParseError(`bad status line '${(lines[0] ?? '').slice(0, 60)}'`)
    const headers: Record<string, string> = {}
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':')
      const name = colon > 0 ? line.slice(0, colon) : ''
      const value = line.slice(colon + 1).trim()
      if (!TOKEN.test(name) || !FIELD_VALUE.test(value)) throw new ResponseParseError(`bad header line '${line.slice(0, 60)}'`)
      const key = name.toLowerCase()
      headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`
    }
    const code = Number(status[2])
    if (code >= 100 && code < 200 && code !== 101) return // interim response: the real one follows
    const tokens = (headers.connection ?? '').toLowerCase().split(',').map((t) => t.trim())
    const http10 = status[1] === '0'
    const keepAliveHint = /(?:^|,)\s*timeout=(\d+)/i.exec(headers['keep-alive'] ?? '')
    this.#current = {
      status: code,
      headers,
      // a 101 hands the connection to another protocol: it carries no further HTTP/1.1 request
      close: tokens.includes('close') || (http10 && !tokens.includes('keep-alive')) || code === 101,
      keepAliveMs: keepAliveHint ? Number(keepAliveHint[1]) * 1000 : undefined,
    }
    this.#body = this.#keep ? [] : undefined
    this.#bodyBytes = 0
    const te = (headers['transfer-encoding'] ?? '').toLowerCase()
    if (this.#head || code === 204 || code === 304 || code === 101) {
      this.#complete()
    } else if (te !== '') {
      if (!/(?:^|,)\s*chunked\s*$/.test(te)) {
        this.#current.close = true
        this.#state = 'until-close'
      } else {
        this.#state = 'chunk-size'
      }
    } else if (headers['content-length'] !== undefined) {
      if (!/^\d{1,15}$/.test(headers['content-length'])) throw new ResponseParseError(`bad content-length '${headers['content-length'].slice(0, 40)}'`)
      this.#remaining = Number(headers['content-length'])
      if (this.#remaining === 0) this.#complete()
      else this.#state = 'fixed'
    } else {
      this.#current.close = true
      this.#state = 'until-close'
    }
  }

  #keepBytes(bytes: Buffer): void {
    this.#bodyBytes += bytes.length
    if (this.#bodyBytes > MAX_KEPT_BODY_BYTES) this.#body = undefined
    else this.#body!.push(bytes)
  }

  #complete(): void {
    const kept = this.#body
    this.#body = undefined
    const response = kept === undefined ? this.#current! : { ...this.#current!, body: Buffer.concat(kept) }
    this.#current = undefined
    this.#state = 'head'
    this.#onResponse(response)
  }
}

export interface RequestLine {
  readonly method: string
  readonly path: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string | Uint8Array
}

const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH'])

/** One request as bytes: the caller's headers, plus Host and Content-Length (computed from the body). */
export function serializeRequest(r: RequestLine, host: string): Buffer {
  if (!TOKEN.test(r.method)) throw new InvalidOptionError('request.method', 'an HTTP method like GET or POST', r.method)
  if (!/^\/[\x21-\x7e]*$/.test(r.path)) throw new InvalidOptionError('request.path', "a path starting with '/', printable ASCII without spaces", r.path)
  const body = r.body === undefined ? undefined : typeof r.body === 'string' ? Buffer.from(r.body) : Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength)
  let head = `${r.method} ${r.path} HTTP/1.1\r\n`
  let hasHost = false
  for (const [name, value] of Object.entries(r.headers ?? {})) {
    if (!TOKEN.test(name)) throw new InvalidOptionError('request.headers', 'header names that are HTTP tokens', name)
    if (typeof value !== 'string' || !FIELD_VALUE.test(value)) throw new InvalidOptionError(`request.headers.${name}`, 'a header value without control characters', value)
    const key = name.toLowerCase()
    if (key === 'content-length' || key === 'transfer-encoding') continue
    if (key === 'host') hasHost = true
    head += `${name}: ${value}\r\n`
  }
  if (!hasHost) head += `Host: ${host}\r\n`
  if (body !== undefined || METHODS_WITH_BODY.has(r.method)) head += `Content-Length: ${body?.length ?? 0}\r\n`
  head += '\r\n'
  return body === undefined || body.length === 0 ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), body])
}
