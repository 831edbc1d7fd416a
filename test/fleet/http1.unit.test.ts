import { describe, expect, it } from 'vitest'
import { ResponseParseError, ResponseParser, serializeRequest, type ParsedResponse } from '#fleet/load/http1.js'

// The load generator's HTTP/1.1 framing (RFC 9112 §6): every way a response body can end, fed
// whole and split at every byte, since a socket can deliver any split.

function parseAll(wire: string, opts: { head?: boolean; splitAt?: number; keepBody?: boolean } = {}): { responses: ParsedResponse[]; parser: ResponseParser } {
  const responses: ParsedResponse[] = []
  const parser = new ResponseParser((r) => responses.push(r))
  parser.expect(opts.head ?? false, opts.keepBody ?? false)
  const bytes = Buffer.from(wire, 'latin1')
  if (opts.splitAt === undefined) parser.push(bytes)
  else {
    parser.push(bytes.subarray(0, opts.splitAt))
    parser.push(bytes.subarray(opts.splitAt))
  }
  return { responses, parser }
}

const CASES: Array<[string, string, Partial<ParsedResponse> & { count?: number }]> = [
  ['content-length', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-App-Version: v2\r\n\r\nhello', { status: 200, close: false }],
  ['chunked with extension and trailer', 'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nTrailer: 1\r\n\r\n', { status: 201, close: false }],
  ['interim 100 then the response', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n', { status: 204, close: false }],
  ['304 without body', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n', { status: 304 }],
  ['Connection: close', 'HTTP/1.1 503 Service Unavailable\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n', { status: 503, close: true }],
  ['HTTP/1.0 without keep-alive', 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', { status: 200, close: true }],
  ['keep-alive hint', 'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n', { keepAliveMs: 5000, close: false }],
  ['two pipelined responses', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\nb', { count: 2 }],
]

describe('ResponseParser', () => {
  for (const [name, wire, want] of CASES) {
    it(`${name}: one complete response, at any split`, () => {
      for (let split = 0; split <= wire.length; split++) {
        const { responses } = parseAll(wire, { splitAt: split })
        expect(responses, `split at ${split}`).toHaveLength(want.count ?? 1)
        const { count: _count, ...fields } = want
        expect(responses[0], `split at ${split}`).toMatchObject(fields)
      }
    })
  }

  it('keeps the body only when the request asked for it, however it is framed and split', () => {
    const bodies: Array<[string, string]> = [
      ['HTTP/1.1 201 Created\r\nContent-Length: 12\r\n\r\n{"id":42}\r\n ', '{"id":42}\r\n '],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"id\r\n5\r\n":42}\r\n0\r\n\r\n', '{"id":42}'],
    ]
    for (const [wire, body] of bodies) {
      for (let split = 1; split < wire.length; split++) {
        const kept = parseAll(wire, { splitAt: split, keepBody: true }).responses
        expect(kept[0]?.body?.toString('latin1'), `split at ${split}`).toBe(body)
        expect(parseAll(wire, { splitAt: split }).responses[0]?.body, `not asked, split at ${split}`).toBeUndefined()
      }
    }
    const { parser, responses } = parseAll('HTTP/1.1 200 OK\r\n\r\n{"id"', { keepBody: true })
    parser.push(Buffer.from(':7}'))
    expect(parser.end()).toBe(true)
    expect(responses[0]?.body?.toString()).toBe('{"id":7}')
  })

  it('a HEAD response has no body whatever its Content-Length says', () => {
    const { responses } = parseAll('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', { head: true })
    expect(responses).toHaveLength(1)
  })

  it('a body without length ends with the connection, which then closes', () => {
    const { responses, parser } = parseAll('HTTP/1.1 200 OK\r\n\r\npartial body')
    expect(responses).toHaveLength(0)
    expect(parser.received).toBe(true)
    expect(parser.end()).toBe(true)
    expect(responses[0]).toMatchObject({ status: 200, close: true })
  })

  it('a response cut short is not complete: the close does not finish it', () => {
    const { responses, parser } = parseAll('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort')
    expect(parser.end()).toBe(false)
    expect(responses).toHaveLength(0)
  })

  it('headers are lower-cased, repeated ones joined', () => {
    const { responses } = parseAll('HTTP/1.1 200 OK\r\nX-App-Version: v1\r\nVary: a\r\nvary: b\r\nContent-Length: 0\r\n\r\n')
    expect(responses[0]?.headers).toMatchObject({ 'x-app-version': 'v1', vary: 'a, b' })
  })

  for (const bad of ['HTTP/2 200 OK\r\n\r\n', 'HTTP/1.1 200 OK\r\nBad Header\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n']) {
    it(`rejects ${JSON.stringify(bad.split('\r\n').slice(0, 2).join(' | '))}`, () => {
      expect(() => parseAll(bad)).toThrow(ResponseParseError)
    })
  }
})

describe('serializeRequest', () => {
  it('adds Host and a computed Content-Length, drops the caller\'s framing headers', () => {
    const wire = serializeRequest({ method: 'POST', path: '/items?a=1', headers: { 'content-type': 'application/json', 'content-length': '999' }, body: '{"a":1}' }, '127.0.0.1:8080').toString()
    expect(wire).toBe('POST /items?a=1 HTTP/1.1\r\ncontent-type: application/json\r\nHost: 127.0.0.1:8080\r\nContent-Length: 7\r\n\r\n{"a":1}')
  })

  it('a GET has no Content-Length; a POST without body says 0', () => {
    expect(serializeRequest({ method: 'GET', path: '/' }, 'h').toString()).toBe('GET / HTTP/1.1\r\nHost: h\r\n\r\n')
    expect(serializeRequest({ method: 'POST', path: '/' }, 'h').toString()).toContain('Content-Length: 0\r\n')
  })

  it('names what was wrong in a request from the source', () => {
    expect(() => serializeRequest({ method: 'GE T', path: '/' }, 'h')).toThrow(/request\.method: expected an HTTP method/)
    expect(() => serializeRequest({ method: 'GET', path: 'items' }, 'h')).toThrow(/request\.path: expected a path starting with '\/'/)
    expect(() => serializeRequest({ method: 'GET', path: '/', headers: { 'x-a': 'b\r\nInjected: 1' } }, 'h')).toThrow(/request\.headers\.x-a: expected a header value without control characters/)
  })
})
