// Express + express-prom-bundle with the same labels as zerodrop (method, path, status code)
// and prom-client's default metrics, the middleware mounted before the routes as its README says.
import http from 'node:http'
import express from 'express'
import promBundle from 'express-prom-bundle'
import { PAYLOAD, portOf, ready } from './common.mjs'

const app = express()
app.use(promBundle({ includeMethod: true, includePath: true, promClient: { collectDefaultMetrics: {} } }))
app.get('/', (req, res) => res.json(PAYLOAD))
const server = http.createServer(app)
server.listen(0, '127.0.0.1', () => ready(portOf(server)))
