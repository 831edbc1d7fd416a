// The growth section's backend behind the router: node:http answering the app route, keeping
// idle keep-alive connections for 10 minutes (node's 5 s default would close them mid-measure).
import http from 'node:http'
import { PAYLOAD, portOf, ready } from '../servers/common.mjs'

const body = JSON.stringify(PAYLOAD)
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
  res.end(body)
})
server.keepAliveTimeout = 600_000
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => ready(portOf(server)))
