/**
 * The fleet's router as a standalone process, for docker-compose.yml: it fronts the
 * demo containers (host network, loopback only) and exposes a small admin API on loopback so a
 * script can switch blue to green while load flows.
 *
 *   node packages/fleet/dist/bin/router.js
 *
 * Env:
 * - ROUTER_MODE       `l4` | `l7` (default l4)
 * - ROUTER_PORT       traffic port on 127.0.0.1 (default 3100)
 * - ROUTER_ENDPOINTS  the endpoints it knows, `id=revision@host:port,...`,
 *                     e.g. `blue=v1@127.0.0.1:3101,green=v2@127.0.0.1:3102`
 * - ROUTER_ACTIVE     ids in the pool at start, comma separated (default: none)
 * - ADMIN_PORT        admin API on 127.0.0.1 (default 3199)
 *
 * Admin API (127.0.0.1:ADMIN_PORT):
 * - `GET /readyz`               200 once the router listens
 * - `GET /state`                `{active, endpoints, weights}`
 * - `GET /stats`                the router's exact per-revision counts
 * - `POST /switch?to=id[,id]`   blue-green: checks each target's `/readyz` answers 200 (else 409),
 *                               adds them, then removes every other endpoint, all at once
 * - `POST /add?id=`, `POST /remove?id=`
 * - `POST /weights`             body: JSON `{revision: weight}` or `null`
 * - `POST /reset-stats`
 */
import http from 'node:http'
import { createRouter, type Endpoint, type Router, type RouterMode } from './router.js'
import { ROUTER_MAIN_ERROR_CODES, RouterMainError } from '../core/errors.js'

export interface RouterMainConfig {
  readonly mode: RouterMode
  readonly port: number
  readonly adminPort: number
  readonly endpoints: readonly Endpoint[]
  readonly active: readonly string[]
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new RouterMainError(ROUTER_MAIN_ERROR_CODES.config, `${name} must be a port in 1..65535, instead got '${raw}'`)
  }
  return n
}

const ENDPOINT = /^([\w.-]+)=([\w.-]+)@([^@:]+|\[[^\]]+\]):(\d{1,5})$/

export function parseEndpoints(raw: string): Endpoint[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const m = ENDPOINT.exec(s)
      if (!m) {
        throw new RouterMainError(
          ROUTER_MAIN_ERROR_CODES.config,
          `ROUTER_ENDPOINTS entries must look like 'id=revision@127.0.0.1:3101', instead got '${s}'`,
        )
      }
      return { id: m[1]!, revision: m[2]!, host: m[3]!.replace(/^\[|\]$/g, ''), port: Number(m[4]) }
    })
}

export function readRouterMainConfig(env: NodeJS.ProcessEnv = process.env): RouterMainConfig {
  const mode = env.ROUTER_MODE || 'l4'
  if (mode !== 'l4' && mode !== 'l7') {
    throw new RouterMainError(ROUTER_MAIN_ERROR_CODES.config, `ROUTER_MODE must be 'l4' or 'l7', instead got '${mode}'`)
  }
  const endpoints = parseEndpoints(env.ROUTER_ENDPOINTS ?? '')
  const active = (env.ROUTER_ACTIVE ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
  for (const id of active) {
    if (!endpoints.some((e) => e.id === id)) {
      throw new RouterMainError(
        ROUTER_MAIN_ERROR_CODES.config,
        `ROUTER_ACTIVE names '${id}', which is not in ROUTER_ENDPOINTS (${endpoints.map((e) => e.id).join(', ') || 'empty'})`,
      )
    }
  }
  return { mode, port: port(env, 'ROUTER_PORT', 3100), adminPort: port(env, 'ADMIN_PORT', 3199), endpoints, active }
}

export const log = (level: 'info' | 'warn' | 'error', o: object, msg?: string): void => {
  const line = JSON.stringify({ level, time: Date.now(), pid: process.pid, component: 'router', ...o, msg })
  ;(level === 'info' ? process.stdout : process.stderr).write(line + '\n')
}

function probe(e: Endpoint, timeoutMs = 1000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: e.host, port: e.port, path: '/readyz', agent: false, timeout: timeoutMs }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(0))
  })
}

export interface RouterMain {
  readonly router: Router
  readonly admin: http.Server
  close(): Promise<void>
}

export async function startRouterMain(config: RouterMainConfig): Promise<RouterMain> {
  const router = await createRouter({
    mode: config.mode,
    port: config.port,
    logger: { info: (o, m) => log('info', o, m), warn: (o, m) => log('warn', o, m), error: (o, m) => log('error', o, m) },
  })
  const known = new Map(config.endpoints.map((e) => [e.id, e]))
  let weights: Record<string, number> | null = null
  for (const id of config.active) router.add(known.get(id)!)

  const lookup = (id: string): Endpoint => {
    const e = known.get(id)
    if (!e) {
      throw new RouterMainError(
        ROUTER_MAIN_ERROR_CODES.unknownEndpoint,
        `no endpoint '${id}'; known: ${[...known.keys()].join(', ')} (set them with ROUTER_ENDPOINTS)`,
      )
    }
    return e
  }

  async function handle(req: http.IncomingMessage, body: string): Promise<[number, unknown]> {
    const url = new URL(req.url ?? '/', 'http://admin')
    const route = `${req.method} ${url.pathname}`
    switch (route) {
      case 'GET /readyz':
        return [200, 'ok']
      case 'GET /state':
        return [200, { active: router.endpoints().map((e) => e.id), endpoints: [...known.values()], weights }]
      case 'GET /stats':
        return [200, router.stats()]
      case 'POST /reset-stats':
        router.resetStats()
        return [200, { ok: true }]
      case 'POST /add':
        router.add(lookup(url.searchParams.get('id') ?? ''))
        return [200, { active: router.endpoints().map((e) => e.id) }]
      case 'POST /remove':
        lookup(url.searchParams.get('id') ?? '')
        router.remove(url.searchParams.get('id') ?? '')
        return [200, { active: router.endpoints().map((e) => e.id) }]
      case 'POST /weights':
        weights = body.trim() === '' ? null : (JSON.parse(body) as Record<string, number> | null)
        router.setWeights(weights)
        return [200, { weights }]
      case 'POST /switch': {
        const targets = (url.searchParams.get('to') ?? '').split(',').filter((s) => s !== '').map(lookup)
        if (targets.length === 0) {
          throw new RouterMainError(ROUTER_MAIN_ERROR_CODES.unknownEndpoint, `POST /switch needs ?to=id[,id], instead got '${url.search}'`)
        }
        const statuses = await Promise.all(targets.map((t) => probe(t)))
        const notReady = targets.filter((_, i) => statuses[i] !== 200)
        if (notReady.length > 0) {
          return [
            409,
            {
              code: ROUTER_MAIN_ERROR_CODES.notReady,
              message: `switch refused: expected /readyz 200 from ${notReady.map((t) => `${t.id} (${t.host}:${t.port})`).join(', ')}, instead got ${statuses.filter((s) => s !== 200).join(', ')}; wait until they are ready`,
            },
          ]
        }
        const before = router.endpoints().map((e) => e.id)
        for (const t of targets) router.add(t)
        for (const e of router.endpoints()) if (!targets.some((t) => t.id === e.id)) router.remove(e.id)
        const after = router.endpoints().map((e) => e.id)
        log('info', { from: before, to: after }, 'switched')
        return [200, { from: before, active: after }]
      }
      default:
        return [404, { code: 'ZD_ERR_ROUTER_MAIN_NOT_FOUND', message: `no admin route '${route}'` }]
    }
  }

  const admin = http.createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (d: string) => (body += d))
    req.on('end', () => {
      handle(req, body)
        .catch((err: unknown): [number, unknown] => [
          err instanceof RouterMainError || err instanceof SyntaxError ? 400 : 500,
          { code: (err as { code?: string }).code ?? 'ZD_ERR_ROUTER_MAIN', message: err instanceof Error ? err.message : String(err) },
        ])
        .then(([status, payload]) => {
          const text = typeof payload === 'string' ? payload : JSON.stringify(payload)
          res.writeHead(status, { 'content-type': typeof payload === 'string' ? 'text/plain' : 'application/json' })
          res.end(text)
        })
    })
  })
  await new Promise<void>((resolve, reject) => {
    admin.once('error', reject)
    admin.listen(config.adminPort, '127.0.0.1', resolve)
  })
  log('info', { port: config.adminPort, endpoints: [...known.keys()], active: config.active }, 'router admin listening')

  return {
    router,
    admin,
    async close() {
      admin.closeAllConnections()
      await Promise.all([router.close(), new Promise<void>((r) => admin.close(() => r()))])
    },
  }
}
