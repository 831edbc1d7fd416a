import http2 from 'node:http2'
import type { ResolvedVerifyOptions } from '../options/verify.js'
import { runPaced, sideOf, type VerifyLoad, type VerifyOutcome, type VerifyRecord } from './client.js'

/**
 * The load of `zerodrop verify --http2`: the HTTP/1.1 client's rate, pacing, timeout and
 * accounting (client.ts), over a pool of `connections` HTTP/2 sessions (h2 with ALPN for
 * https:, h2c with prior knowledge for http:). Each session sends its share of the rate in
 * bursts of `burst` streams opened together (multiplexed, as h2 clients do), the bursts paced
 * and phase-shifted across sessions; a session that got a GOAWAY, or carried `reconnectEvery`
 * streams, is closed gracefully and replaced by a new one at its next burst.
 *
 * A stream the server never processed — reset with REFUSED_STREAM, or above the last stream id
 * of a GOAWAY it received (RFC 9113 §8.7, §6.8) — is safe to retry: it is retried once, on a new
 * session, as browsers, Envoy and gRPC do, and the request is marked `retried` (counted apart,
 * never a drop unless the retry fails too). Everything else the fleet's rules count as a drop: a
 * reset with any other code, a GOAWAY with an error code under an accepted stream (`reset`), the
 * session closed under it (`lost`), no complete answer within the timeout (`timeout`), a session
 * that could not be opened (`refusedConnection`: nothing was sent).
 */

const H2_ERRORS = ['NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED', 'FRAME_SIZE_ERROR',
  'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED']
const { NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL } = http2.constants

/** The RFC 9113 name of an HTTP/2 error code. */
export function h2ErrorName(code: number): string {
  return H2_ERRORS[code] ?? `0x${code.toString(16)}`
}

interface Pooled {
  readonly session: http2.ClientHttp2Session
  readonly id: number
  connected: boolean
  streams: number
  error: NodeJS.ErrnoException | undefined
  /** its failure to connect is in the records already (once per session, not per stream) */
  refusedCounted: boolean
  goaway: { readonly code: number; readonly lastStreamId: number } | undefined
}

type Fields = Omit<VerifyRecord, 'start' | 'end' | 'connection' | 'reused'>
/** A stream's end: an outcome for the record, or `refused` (never processed: may be retried). */
type Attempt = { readonly refused: false; readonly fields: Fields } | { readonly refused: true; readonly error: string }

/** The request headers for HTTP/2: `host` becomes `:authority`; connection-specific ones were rejected with the options. */
export function h2RequestHeaders(o: Pick<ResolvedVerifyOptions, 'url' | 'method' | 'headers'>): http2.OutgoingHttpHeaders {
  const headers: http2.OutgoingHttpHeaders = { ':method': o.method, ':path': `${o.url.pathname}${o.url.search}` }
  for (const [k, v] of Object.entries(o.headers)) headers[k === 'host' ? ':authority' : k] = v
  return headers
}

function connectOptions(o: ResolvedVerifyOptions): http2.SecureClientSessionOptions {
  return o.url.protocol === 'https:' ? { rejectUnauthorized: !o.insecure, ...(o.ca === undefined ? {} : { ca: o.ca }) } : {}
}

/**
 * How a stream that closed without a complete answer ends. `refused` only when the server cannot
 * have processed it: no response, and a REFUSED_STREAM reset or an id above a GOAWAY's last one.
 */
export function h2StreamEnd(s: {
  readonly gotResponse: boolean
  readonly rstCode: number | undefined
  readonly streamId: number | undefined
  readonly goaway: Pooled['goaway']
  readonly connected: boolean
  readonly sessionError: NodeJS.ErrnoException | undefined
  readonly streamError: NodeJS.ErrnoException | undefined
}): Attempt {
  if (!s.connected) {
    // the session never opened (refused, TLS or ALPN failed): nothing was sent
    const err = s.sessionError ?? s.streamError
    return { refused: false, fields: { outcome: 'refusedConnection', error: err?.code ?? err?.message ?? 'SESSION_CLOSED' } }
  }
  if (!s.gotResponse) {
    if (s.rstCode === NGHTTP2_REFUSED_STREAM) return { refused: true, error: 'REFUSED_STREAM' }
    if (s.goaway !== undefined && s.streamId !== undefined && s.streamId > s.goaway.lastStreamId) return { refused: true, error: `GOAWAY ${h2ErrorName(s.goaway.code)} last stream ${s.goaway.lastStreamId}` }
  }
  if (s.goaway !== undefined && s.goaway.code !== 0) return { refused: false, fields: { outcome: 'reset', error: `GOAWAY ${h2ErrorName(s.goaway.code)}` } }
  if (s.sessionError !== undefined && (s.sessionError.code === 'ECONNRESET' || s.sessionError.code === 'EPIPE')) return { refused: false, fields: { outcome: 'reset', error: s.sessionError.code } }
  // a reset by the peer (RST_STREAM); Node reports a stream cut by its closing session as CANCEL
  if (s.rstCode !== undefined && s.rstCode !== 0 && s.rstCode !== NGHTTP2_CANCEL) return { refused: false, fields: { outcome: 'reset', error: h2ErrorName(s.rstCode) } }
  return { refused: false, fields: { outcome: 'lost', error: s.sessionError?.code ?? 'SESSION_CLOSED' } }
}

export function startVerifyLoadH2(o: ResolvedVerifyOptions): VerifyLoad {
  const t0 = performance.now()
  const now = (): number => Math.round(performance.now() - t0)
  const records: VerifyRecord[] = []
  const sessions = new Set<Pooled>()
  const headers = h2RequestHeaders(o)
  const origin = o.url.origin
  let serial = 0

  const open = (): Pooled => {
    const session = http2.connect(origin, connectOptions(o))
    const p: Pooled = { session, id: serial++, connected: false, streams: 0, error: undefined, refusedCounted: false, goaway: undefined }
    sessions.add(p)
    session.on('error', (err: NodeJS.ErrnoException) => (p.error ??= err))
    session.once('connect', () => (p.connected = true))
    session.on('goaway', (code, lastStreamId) => (p.goaway ??= { code, lastStreamId }))
    session.once('close', () => sessions.delete(p))
    return p
  }
  const usable = (p: Pooled): boolean => !p.session.closed && !p.session.destroyed && p.goaway === undefined && p.error === undefined
  const retire = (p: Pooled): void => {
    if (!p.session.closed && !p.session.destroyed) p.session.close()
  }

  function attempt(p: Pooled): Promise<Attempt> {
    return new Promise((resolve) => {
      let stream: http2.ClientHttp2Stream
      try {
        stream = p.session.request(headers, { endStream: o.body === undefined })
      } catch (err) {
        // the session went away between the check and the call: nothing was sent
        resolve({ refused: true, error: (err as NodeJS.ErrnoException).code ?? 'ERR_HTTP2_INVALID_SESSION' })
        return
      }
      let status = 0
      let responseHeaders: http2.IncomingHttpHeaders = {}
      let ended = false
      let timedOut = false
      let streamError: NodeJS.ErrnoException | undefined
      stream.on('response', (h) => {
        status = Number(h[':status'] ?? 0)
        responseHeaders = h
      })
      stream.on('data', () => {})
      stream.on('end', () => (ended = true))
      stream.on('error', (err: NodeJS.ErrnoException) => (streamError ??= err))
      const timer = setTimeout(() => {
        timedOut = true
        stream.close(NGHTTP2_CANCEL)
      }, o.timeoutMs)
      stream.once('close', () => {
        clearTimeout(timer)
        if (timedOut) return resolve({ refused: false, fields: { outcome: 'timeout', error: 'TIMEOUT' } })
        if (ended && status > 0) {
          const v = o.versionHeader === undefined ? undefined : responseHeaders[o.versionHeader]
          const version = Array.isArray(v) ? v[0] : v
          const ok = status >= 200 && status < 300
          resolve({ refused: false, fields: { outcome: ok ? 'ok' : 'non2xx', status, ...(ok ? {} : { side: sideOf(status, responseHeaders, o) }), ...(version === undefined ? {} : { version }) } })
          return
        }
        const end = (): void => resolve(h2StreamEnd({ gotResponse: status > 0, rstCode: stream.rstCode, streamId: stream.id, goaway: p.goaway, connected: p.connected, sessionError: p.error, streamError }))
        // a session that failed to connect cancels its streams before it emits its error
        if (p.connected) end()
        else setImmediate(end)
      })
      if (o.body !== undefined) stream.end(o.body)
    })
  }

  /** One request: on `slot.p`, and once more on a new session if the first stream was refused. */
  async function once(slot: { p: Pooled }): Promise<void> {
    const start = now()
    const first = slot.p
    const reused = first.streams++ > 0
    const a = await attempt(first)
    let fields: Fields
    let retried = false
    let connection = first.id
    if (!a.refused) fields = a.fields
    else {
      retried = true
      retire(first)
      if (slot.p === first || !usable(slot.p)) slot.p = open()
      const again = slot.p
      again.streams++
      connection = again.id
      const b = await attempt(again)
      fields = b.refused ? { outcome: 'refused' satisfies VerifyOutcome, error: `${b.error} on the retry (first: ${a.error})` } : b.fields
      if (!b.refused && fields.outcome !== 'refusedConnection') fields = { ...fields, error: fields.error ?? `retried after ${a.error}` }
    }
    if (fields.outcome === 'refusedConnection') {
      const failed = retried ? slot.p : first
      if (failed.refusedCounted) return
      failed.refusedCounted = true
    }
    records.push({ start, end: now(), connection, reused, ...fields, ...(retried ? { retried: true } : {}) })
  }

  const stopLoops = runPaced(o, t0, () => {
    const slot = { p: open() }
    return {
      async burst() {
        if (!usable(slot.p) || (o.reconnectEvery > 0 && slot.p.streams >= o.reconnectEvery)) {
          retire(slot.p)
          slot.p = open()
        }
        await Promise.all(Array.from({ length: o.burst }, () => once(slot)))
      },
    }
  })

  return {
    elapsed: now,
    records: () => records,
    async stop() {
      await stopLoops()
      // every stream has settled: close() ends each session once its (no) streams are done
      await Promise.all([...sessions].map((p) => new Promise<void>((resolve) => {
        if (p.session.destroyed) return resolve()
        p.session.once('close', () => resolve())
        p.session.close()
        setTimeout(() => p.session.destroy(), 1000).unref()
      })))
      return records
    },
  }
}

/** One h2 request as the load will send it: its status, or why it failed. */
export function probeH2(o: ResolvedVerifyOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(o.url.origin, connectOptions(o))
    const fail = (err: Error): void => {
      session.destroy()
      reject(err)
    }
    session.once('error', fail)
    const timer = setTimeout(() => fail(new Error(`no answer within ${o.timeoutMs} ms`)), o.timeoutMs)
    const stream = session.request(h2RequestHeaders(o), { endStream: o.body === undefined })
    let status = 0
    stream.on('response', (h) => (status = Number(h[':status'] ?? 0)))
    stream.on('data', () => {})
    stream.on('error', () => {})
    stream.once('close', () => {
      clearTimeout(timer)
      if (status > 0 && stream.rstCode === 0) {
        session.close()
        resolve(status)
      } else fail(new Error(`the h2 stream closed without an answer (${h2ErrorName(stream.rstCode ?? 0)})`))
    })
    if (o.body !== undefined) stream.end(o.body)
  })
}
