// node:http + stoppable (drain benchmark only): on SIGTERM wait the drain delay, then
// `server.stop()` as its README shows, then exit.
import http from 'node:http'
import stoppable from 'stoppable'
import { DRAIN_DELAY_MS, PAYLOAD, portOf, ready, sleep } from './common.mjs'

const body = () => JSON.stringify(PAYLOAD)
const server = stoppable(http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
  res.end(body())
}), 10_000)
process.once('SIGTERM', async () => {
  await sleep(DRAIN_DELAY_MS)
  server.stop((err) => process.exit(err ? 1 : 0))
})
server.listen(0, '127.0.0.1', () => ready(portOf(server)))
