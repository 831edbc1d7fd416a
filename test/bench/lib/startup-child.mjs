// Measures how fast the demo becomes ready on its own: spawn, poll /readyz every 5 ms.
import { spawn } from 'node:child_process'
import http from 'node:http'
import net from 'node:net'

const demo = process.argv[2]

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port
      s.close(() => resolve(p))
    })
  })
}

function ok(port) {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    }).on('error', () => resolve(false))
  })
}

async function once() {
  const port = await freePort()
  const t0 = performance.now()
  const child = spawn(process.execPath, [demo], { env: { ...process.env, PORT: String(port), HOST: '127.0.0.1' }, stdio: 'ignore' })
  try {
    for (let i = 0; i < 4000; i++) {
      if (await ok(port)) return performance.now() - t0
      await new Promise((r) => setTimeout(r, 5))
    }
    throw new Error('demo not ready within 20 s')
  } finally {
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited
  }
}

process.on('message', async (m) => {
  if (m?.cmd !== 'measure') return
  try {
    const runs = []
    for (let i = 0; i < m.args.runs; i++) runs.push(await once())
    runs.sort((a, b) => a - b)
    process.send({ id: m.id, result: { runs, medianMs: runs[runs.length >> 1] } })
  } catch (err) {
    process.send({ id: m.id, error: String(err) })
  }
})
process.on('disconnect', () => process.exit(0))
process.send({ ready: true })
