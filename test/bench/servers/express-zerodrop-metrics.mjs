// Express + zerodrop with metrics (probes, drain, request histogram, default metrics).
import http from 'node:http'
import express from 'express'
import { expressLifecycle } from '@zerodrop/lifecycle/express'
import { DRAIN_DELAY_MS, PAYLOAD, portOf, ready } from './common.mjs'

const app = express()
const lifecycle = expressLifecycle(app, { drainDelayMs: DRAIN_DELAY_MS })
app.get('/', (req, res) => res.json(PAYLOAD))
const server = http.createServer(app)
lifecycle.attach(server)
server.listen(0, '127.0.0.1', () => {
  lifecycle.markReady()
  ready(portOf(server), { port: portOf(server), path: '/readyz' })
})
