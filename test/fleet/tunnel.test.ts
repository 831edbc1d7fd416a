import http from 'node:http'
import type net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { createRouter, type Router } from '@zerodrop/fleet'
import { account } from '#fleet/report/accounting.js'
import { waitFor } from '../helpers/process.js'

// The tunnel ledger: an upgraded connection (101) is one counted request, then a tunnel. A
// WebSocket echo the upstream cuts with a reset while the client still has it open is a drop of
// that ledger; the same echo closed with 1001 (and a FIN) is the control: no drop. Through l4
// (bytes passed through) and l7 (the upgrade proxied).

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.()
})

/** A WebSocket echo whose message `end` makes it end the connection: `reset` (RST) or `close` (1001, then FIN). */
async function echo(how: 'reset' | 'close'): Promise<number> {
  const wss = new WebSocketServer({ noServer: true })
  const sockets = new Set<net.Socket>()
  const server = http.createServer((_req, res) => res.end('ok'))
  server.on('upgrade', (req, socket: net.Socket, head) => {
    sockets.add(socket)
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data) => {
        if (data.toString() !== 'end') return ws.send(data)
        if (how === 'reset') socket.resetAndDestroy()
        else ws.close(1001, 'going away')
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        wss.close()
        server.close(() => resolve())
      }),
  )
  return (server.address() as net.AddressInfo).port
}

async function through(mode: 'l4' | 'l7', port: number): Promise<Router> {
  const r = await createRouter({ mode })
  cleanups.push(() => r.close())
  r.add({ id: 'a', revision: 'v1', host: '127.0.0.1', port })
  return r
}

/** Opens a WebSocket through the router, has two messages echoed, sends `end`, returns the close code it saw. */
async function session(r: Router): Promise<{ echoed: string[]; code: number }> {
  const ws = new WebSocket(`ws://127.0.0.1:${r.port}/ws`)
  cleanups.push(() => ws.terminate())
  const echoed: string[] = []
  ws.on('message', (d) => echoed.push(d.toString()))
  ws.on('error', () => undefined)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  ws.send('one')
  ws.send('two')
  await waitFor('the echoes', 10_000, () => echoed.length === 2)
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  ws.send('end')
  return { echoed, code: await closed }
}

describe('the tunnel ledger: an upgraded connection cut by the upstream is a drop', () => {
  for (const mode of ['l4', 'l7'] as const) {
    it(`${mode}: a WebSocket the upstream resets mid-tunnel is counted as a broken tunnel and a drop; its handshake stays one ok request`, async () => {
      const r = await through(mode, await echo('reset'))
      const s = await session(r)
      expect(s.echoed).toEqual(['one', 'two'])
      expect(s.code).toBe(1006)
      await waitFor('the broken tunnel counted', 10_000, () => r.stats().total.brokenTunnels === 1)
      const a = account(r.stats().total)
      expect(a).toMatchObject({ requests: 1, ok: 1, non2xx: 0, tunnels: 1, brokenTunnels: 1, dropped: 1 })
      expect(r.stats().byRevision.v1).toMatchObject({ tunnels: 1, brokenTunnels: 1 })
    })

    it(`${mode}: control — the same WebSocket closed with 1001 by the upstream ends normally: no drop`, async () => {
      const r = await through(mode, await echo('close'))
      const s = await session(r)
      expect(s.echoed).toEqual(['one', 'two'])
      expect(s.code).toBe(1001)
      await waitFor('the tunnel gone', 10_000, () => r.stats().openConnections === 0)
      const a = account(r.stats().total)
      expect(a).toMatchObject({ requests: 1, ok: 1, tunnels: 1, brokenTunnels: 0, dropped: 0 })
    })
  }
})
