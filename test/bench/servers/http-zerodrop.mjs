// node:http + zerodrop: probes and the drain contract (lifecycle.wrap + attach), no metrics.
import http from 'node:http'
import { createLifecycle } from '@zerodrop/lifecycle'
import { DRAIN_DELAY_MS, PAYLOAD, portOf, ready } from './common.mjs'

const body = () => JSON.stringify(PAYLOAD)
const lifecycle = createLifecycle({ metrics: false, drainDelayMs: DRAIN_DELAY_MS })
const server = http.createServer(lifecycle.wrap((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
  res.end(body())
}))
lifecycle.attach(server)
server.listen(0, '127.0.0.1', () => {
  lifecycle.markReady()
  ready(portOf(server), { port: portOf(server), path: '/readyz' })
})
