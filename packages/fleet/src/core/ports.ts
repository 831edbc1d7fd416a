import net from 'node:net'
import { PortUnavailableError, ROUTER_ERROR_CODES, RouterError } from './errors.js'

/** The fleet only ever listens and connects on loopback (every test's traffic stays on this machine). */
export const LOOPBACK = '127.0.0.1'

const LOOPBACK_HOST = /^(127(?:\.\d{1,3}){3}|::1|localhost)$/

/** Every address the fleet sends traffic to must be on this machine. */
export function isLoopback(host: string): boolean {
  return LOOPBACK_HOST.test(host)
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
