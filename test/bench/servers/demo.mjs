// The fleet's demo service (demo/dist/server.js, Fastify flavour with zerodrop) as a bench
// server: picks a free port, starts the demo in this process, reports ready once /readyz is 200.
import net from 'node:net'
import http from 'node:http'
import { ready, sleep } from './common.mjs'

const port = await new Promise((resolve, reject) => {
  const s = net.createServer()
  s.on('error', reject)
  s.listen(0, '127.0.0.1', () => {
    const p = s.address().port
    s.close(() => resolve(p))
  })
})
process.env.PORT = String(port)
process.env.HOST = '127.0.0.1'
await import('../../../demo/dist/server.js')
const ok = () => new Promise((resolve) => {
  http.get({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (res) => {
    res.resume()
    resolve(res.statusCode === 200)
  }).on('error', () => resolve(false))
})
for (let i = 0; i < 1000 && !(await ok()); i++) await sleep(10)
ready(port, { port, path: '/readyz' })
