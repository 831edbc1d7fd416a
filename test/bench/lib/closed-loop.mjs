// Closed-loop load for the instruction count: exactly COUNT requests to URL over CONNECTIONS
// keep-alive connections, each sent when the previous response on its connection has ended.
// Runs in its own process (never under valgrind). Prints {"ok","bad","ms"} as JSON.
import http from 'node:http'

const [url, countArg, connArg = '1', timeoutArg = '600000'] = process.argv.slice(2)
const count = Number(countArg)
const connections = Number(connArg)
const timeoutMs = Number(timeoutArg)
if (!url?.startsWith('http://127.0.0.1:') || !(count > 0) || !(connections > 0)) {
  process.stderr.write(`usage: closed-loop.mjs http://127.0.0.1:PORT/PATH COUNT [CONNECTIONS] [TIMEOUT_MS]; got ${process.argv.slice(2).join(' ')}\n`)
  process.exit(2)
}
const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
let issued = 0
let ok = 0
let bad = 0
const started = performance.now()
function one() {
  return new Promise((resolve) => {
    const req = http.get(url, { agent, timeout: timeoutMs }, (res) => {
      res.resume()
      res.once('end', () => {
        if (res.statusCode === 200) ok++
        else bad++
        resolve()
      })
    })
    req.once('timeout', () => req.destroy(new Error('timeout')))
    req.once('error', () => { bad++; resolve() })
  })
}
async function worker() {
  while (issued < count) {
    issued++
    await one()
  }
}
await Promise.all(Array.from({ length: connections }, worker))
agent.destroy()
process.stdout.write(JSON.stringify({ ok, bad, ms: performance.now() - started }) + '\n')
process.exit(0) // the harness compares ok with the count it asked for
