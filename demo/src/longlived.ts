import type http from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import type { Lifecycle } from '@zerodrop/lifecycle'
import type { DemoConfig } from './config.js'

/**
 * `GET /ws` (WebSocket): every message is answered `ack <message> <version>`, so a client knows
 * what the server accepted and which revision did. Each socket is held by the lifecycle: it is
 * closed with 1001 when the drain delay ends.
 */
export function addWebSockets(server: http.Server, lifecycle: Lifecycle, config: DemoConfig): void {
  const wss = new WebSocketServer({ noServer: true })
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!(req.url ?? '').startsWith('/ws')) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      lifecycle.holdWebSocket(ws)
      ws.on('message', (data) => ws.send(`ack ${String(data)} ${config.version}`))
    })
  })
}

/**
 * `GET /sse`: an event stream every instance can resume: event n carries id n, so a client that
 * reconnects with `Last-Event-ID: n` (to any instance) continues at n + 1. Ended with a final
 * event and a `retry:` hint when the drain delay ends.
 */
export function serveEventStream(lifecycle: Lifecycle, config: DemoConfig, req: http.IncomingMessage, res: http.ServerResponse): void {
  const last = Number(req.headers['last-event-id'] ?? -1)
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-app-version': config.version })
  let n = Number.isInteger(last) && last >= -1 ? last + 1 : 0
  const tick = setInterval(() => res.write(`id: ${n}\ndata: ${n++} ${config.version}\n\n`), 50)
  res.once('close', () => clearInterval(tick))
  res.once('finish', () => clearInterval(tick))
  lifecycle.holdEventStream(res, { retryMs: 500 })
}
