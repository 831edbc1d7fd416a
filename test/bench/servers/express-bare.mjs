// Express, no lifecycle library.
import http from 'node:http'
import express from 'express'
import { PAYLOAD, portOf, ready } from './common.mjs'

const app = express()
app.get('/', (req, res) => res.json(PAYLOAD))
const server = http.createServer(app)
server.listen(0, '127.0.0.1', () => ready(portOf(server)))
