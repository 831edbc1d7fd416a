import net from 'node:net'
import { PortUnavailableError, ROUTER_ERROR_CODES, RouterError } from './errors.js'

/** The fleet only ever listens and connects on loopback (every test's traffic stays on this machine). */
export const LOOPBACK = '127.0.0.1'

const LOOPBACK_BLOCK = new net.BlockList()
LOOPBACK_BLOCK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK_BLOCK.addAddress('::1', 'ipv6')
LOOPBACK_BLOCK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6')

/**
 * The one loopback rule, for every address the fleet listens on or sends traffic to (router,
 * endpoints, load clients, a Prometheus URL): 127.0.0.0/8, ::1 (any spelling, `[::1]` as a URL
 * writes it, IPv4-mapped 127/8) and the name `localhost`. Any other name is refused rather than
 * resolved: a resolver could point it anywhere.
 */
export function isLoopback(host: string): boolean {
  if (typeof host !== 'string') return false
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  if (h.toLowerCase() === 'localhost') return true
  const family = net.isIP(h)
  if (family === 4) return LOOPBACK_BLOCK.check(h, 'ipv4')
  if (family === 6) return LOOPBACK_BLOCK.check(h, 'ipv6')
  return false
}

/** An `http://` URL on loopback (see isLoopback), or undefined when it is not one. */
export function loopbackHttpUrl(value: unknown): URL | undefined {
  if (typeof value !== 'string') return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  return url.protocol === 'http:' && isLoopback(url.hostname) ? url : undefined
}

/**
 * A port that was free on 127.0.0.1 a moment ago: the kernel picks it for a listener on port 0,
 * which is then closed. Another process could take it before the instance binds it; the
 * instance then exits with EADDRINUSE and the fleet reports that with the instance's log.
 */
export function freePort(host = LOOPBACK): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Throws a PortUnavailableError naming `option` when `port` cannot be bound on `host`. */
export function assertBindable(port: number, option: string, host = LOOPBACK): Promise<void> {
  if (port === 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new PortUnavailableError(
          `${option}: expected a port the router can listen on at ${host}, instead got ${port}, which cannot be bound (${err.code ?? err.message}); choose another port or 0 for a free one`,
          err,
          option,
        ),
      )
    })
    server.listen(port, host, () => server.close(() => resolve()))
  })
}

/** Listens a router's front server; a port that cannot be bound is a RouterError naming it. */
export function listenRouter(
  server: net.Server,
  options: { readonly host: string; readonly port: number; readonly logger: { error(o: object, msg?: string): void } },
): Promise<number> {
  const { host, port, logger } = options
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(new RouterError(ROUTER_ERROR_CODES.listen, `router could not listen on ${host}:${port}: ${err.message}; pick another port or 0`, { cause: err }))
    server.once('error', onError)
    server.listen({ host, port }, () => {
      server.off('error', onError)
      server.on('error', (err) => logger.error({ err: err.message }, 'router server error'))
      resolve((server.address() as net.AddressInfo).port)
    })
  })
}
