import http from 'node:http'

/**
 * An exact keep-alive load client: every request is counted once, as ok (2xx), non-2xx,
 * lost (sent, then the connection reset or hung up before a full response), refused
 * (the connection could not be opened, so nothing was sent) or timeout.
 *
 * autocannon cannot be trusted for this (docs/architecture.md, "Counting a drop"): when a connection
 * ends under an outstanding request its client reconnects and reuses the slot without
 * counting an error. Node's own http client reports every such loss.
 */
export interface ExactLoadOptions {
  /** Target URL on loopback, e.g. `http://127.0.0.1:3000/`. */
  readonly url: string
  /** Clients that send their next request as soon as the previous answer arrives. @default 4 */
  readonly saturating?: number
  /** Clients that wait `pacedIntervalMs` between requests, so their sockets sit idle. @default 4 */
  readonly paced?: number
  /** @default 50 */
  readonly pacedIntervalMs?: number
  /** Hard bound on the run; `stop()` ends it earlier. @default 30000 */
  readonly durationMs?: number
  /** Hard bound on requests per client. @default 100000 */
  readonly maxRequestsPerClient?: number
  /** Per-request timeout. @default 10000 */
  readonly timeoutMs?: number
  readonly method?: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string
}

export type Outcome = 'ok' | 'non2xx' | 'lost' | 'refused' | 'timeout'

export interface RequestRecord {
  /** ms since the load started, when the request was issued */
  readonly start: number
  /** ms since the load started, when the outcome was known */
  readonly end: number
  readonly outcome: Outcome
  readonly status?: number
  /** the response said `Connection: close` */
  readonly connectionClose?: boolean
  /** value of the `x-app-version` response header, when present */
  readonly version?: string
  /** error code for lost / refused / timeout */
  readonly error?: string
  /** the request went out on a keep-alive socket that had already carried a request */
  readonly reused?: boolean
  readonly client: number
}

export interface ExactLoadResult {
  readonly sent: number
  readonly ok: number
  readonly non2xx: number
  readonly lost: number
  readonly refused: number
  readonly timeout: number
  readonly connectionClose: number
  readonly byStatus: Readonly<Record<string, number>>
  readonly byVersion: Readonly<Record<string, number>>
  readonly records: readonly RequestRecord[]
  readonly durationMs: number
}

export interface ExactLoad {
  /** Stops issuing new requests, waits for the outstanding ones, returns the counts. */
  stop(): Promise<ExactLoadResult>
  /** Resolves when the load ends on its own (duration or request bound) or after `stop()`. */
  readonly done: Promise<ExactLoadResult>
  /** Counts so far. */
  snapshot(): ExactLoadResult
}

const REFUSED = new Set(['ECONNREFUSED', 'EADDRNOTAVAIL', 'ENOTFOUND'])

export function startExactLoad(options: ExactLoadOptions): ExactLoad {
  const url = new URL(options.url)
  if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(url.hostname)) {
    throw new Error(`exact load only targets loopback, instead got host '${url.hostname}'`)
  }
  const saturating = options.saturating ?? 4
  const paced = options.paced ?? 4
  const pacedIntervalMs = options.pacedIntervalMs ?? 50
  const durationMs = options.durationMs ?? 30_000
  const maxPerClient = options.maxRequestsPerClient ?? 100_000
  const timeoutMs = options.timeoutMs ?? 10_000
  const method = options.method ?? 'GET'
  const t0 = performance.now()
  const now = (): number => Math.round(performance.now() - t0)
  const records: RequestRecord[] = []
  let stopping = false
  const agents: http.Agent[] = []
  const sleeping = new Map<NodeJS.Timeout, () => void>()

  const hardStop = setTimeout(() => {
    stopping = true
  }, durationMs)
  hardStop.unref()

  function once(client: number, agent: http.Agent): Promise<void> {
    return new Promise((resolve) => {
      const start = now()
      let settled = false
      const finish = (r: Omit<RequestRecord, 'start' | 'end' | 'client'>): void => {
        if (settled) return
        settled = true
        records.push({ start, end: now(), client, reused: req.reusedSocket, ...r })
        resolve()
      }
      const req = http.request(
        {
          host: url.hostname.replace(/^\[|\]$/g, ''),
          port: url.port,
          path: url.pathname + url.search,
          method,
          agent,
          headers: options.headers,
          timeout: timeoutMs,
        },
        (res) => {
          res.on('data', () => {})
          res.on('end', () => {
            const status = res.statusCode ?? 0
            const connectionClose = String(res.headers.connection ?? '').toLowerCase() === 'close'
            const version = res.headers['x-app-version']
            finish({
              outcome: status >= 200 && status < 300 ? 'ok' : 'non2xx',
              status,
              connectionClose,
              ...(typeof version === 'string' ? { version } : {}),
            })
          })
          res.on('error', (err: NodeJS.ErrnoException) => finish({ outcome: 'lost', error: err.code ?? err.message }))
          res.on('aborted', () => finish({ outcome: 'lost', error: 'ABORTED' }))
        },
      )
      req.on('timeout', () => {
        finish({ outcome: 'timeout', error: 'TIMEOUT' })
        req.destroy()
      })
      req.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ?? err.message
        // A connection still in the kernel's accept queue when the listener closes is reset by
        // the kernel: the server never accepted it. On a fresh socket, with nothing received,
        // that is a refused connection, not a request the server lost (it counts as dropped
        // all the same wherever refused connections do).
        const resetBeforeAccept = !req.reusedSocket && code === 'ECONNRESET'
        finish({ outcome: REFUSED.has(code) || resetBeforeAccept ? 'refused' : 'lost', error: code })
      })
      req.end(options.body)
    })
  }

  async function client(id: number, interval: number): Promise<void> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    agents.push(agent)
    for (let i = 0; i < maxPerClient && !stopping; i++) {
      const before = records.length
      await once(id, agent)
      const last = records[before]
      // A refused connection would otherwise spin: back off like a real client would.
      const wait = last?.outcome === 'refused' ? Math.max(interval, 20) : interval
      if (wait > 0 && !stopping) {
        await new Promise<void>((r) => {
          const t = setTimeout(() => {
            sleeping.delete(t)
            r()
          }, wait)
          sleeping.set(t, r)
        })
      }
    }
  }

  function result(): ExactLoadResult {
    const count = (o: Outcome): number => records.filter((r) => r.outcome === o).length
    const byStatus: Record<string, number> = {}
    const byVersion: Record<string, number> = {}
    for (const r of records) {
      if (r.status !== undefined) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1
      if (r.version !== undefined) byVersion[r.version] = (byVersion[r.version] ?? 0) + 1
    }
    return {
      sent: records.length,
      ok: count('ok'),
      non2xx: count('non2xx'),
      lost: count('lost'),
      refused: count('refused'),
      timeout: count('timeout'),
      connectionClose: records.filter((r) => r.connectionClose).length,
      byStatus,
      byVersion,
      records: [...records],
      durationMs: now(),
    }
  }

  const clients: Promise<void>[] = []
  let id = 0
  for (let i = 0; i < saturating; i++) clients.push(client(id++, 0))
  for (let i = 0; i < paced; i++) clients.push(client(id++, pacedIntervalMs))

  const done = Promise.all(clients).then(() => {
    clearTimeout(hardStop)
    for (const a of agents) a.destroy()
    return result()
  })

  return {
    done,
    snapshot: result,
    stop() {
      stopping = true
      // wake paced clients now; outstanding requests still run to their end
      for (const [t, wake] of sleeping) {
        clearTimeout(t)
        sleeping.delete(t)
        wake()
      }
      return done
    },
  }
}
