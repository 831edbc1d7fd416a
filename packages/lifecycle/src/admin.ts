import http from 'node:http'
import type { Logger } from './options.js'

/** The admin server: probes and metrics on their own port, never drained (the kubelet keeps probing). */
export function startAdmin(port: number, host: string, handleProbe: (req: http.IncomingMessage, res: http.ServerResponse) => boolean, logger: Logger): http.Server {
  const admin = http.createServer((req, res) => {
    if (!handleProbe(req, res)) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('not found: the admin port serves probes and metrics only')
    }
  })
  admin.on('error', (err) => logger.error({ err, port }, 'admin server failed: probes and metrics are not served on the admin port'))
  admin.listen(port, host)
  admin.unref()
  return admin
}

export async function closeAdmin(admin: http.Server | undefined): Promise<void> {
  if (admin === undefined || !admin.listening) return
  await new Promise<void>((resolve) => {
    admin.close(() => resolve())
    admin.closeAllConnections()
  })
}
