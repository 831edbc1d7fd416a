// node:http, no lifecycle library.
import http from 'node:http'
import { PAYLOAD, portOf, ready } from './common.mjs'

const body = () => JSON.stringify(PAYLOAD)
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
  res.end(body())
})
server.listen(0, '127.0.0.1', () => ready(portOf(server)))
