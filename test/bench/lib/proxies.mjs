// The fleet's routers against HAProxy and nginx, instructions per proxied request (callgrind),
// same backend (bare node:http, not under valgrind), same closed-loop client, one run.
// The zerodrop routers are counted like the servers in instructions.mjs (dumps between phases,
// past JIT warm-up). HAProxy and nginx have no JIT: each runs twice, serving W + N1 and W + N2
// requests, and the figure is the difference of the two whole-process counts / (N2 − N1).
// Every proxy is started on a loopback port with a generated config and stopped by its PID.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { BENCH_DIR, startChild } from './proc.mjs'
import { NODE_FLAGS, VALGRIND, closedLoop, totals } from './instructions.mjs'

const has = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

async function waitListening(port, ms = 120_000) {
  const until = performance.now() + ms
  while (performance.now() < until) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true) })
      c.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`nothing listened on 127.0.0.1:${port} within ${ms} ms`)
}

const CONFIGS = {
  'haproxy-tcp': (dir, port, backend) => ['haproxy', ['-db', '-f', write(dir, 'haproxy-tcp.cfg', haproxy('tcp', port, backend))]],
  'haproxy-http': (dir, port, backend) => ['haproxy', ['-db', '-f', write(dir, 'haproxy-http.cfg', haproxy('http', port, backend))]],
  'nginx-stream': (dir, port, backend) => ['nginx', ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', write(dir, 'nginx-stream.conf', nginx(dir, `stream { server { listen 127.0.0.1:${port}; proxy_pass 127.0.0.1:${backend}; } }`, true))]],
  'nginx-http': (dir, port, backend) => ['nginx', ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', write(dir, 'nginx-http.conf', nginx(dir, `http { access_log off; upstream b { server 127.0.0.1:${backend}; keepalive 16; } server { listen 127.0.0.1:${port}; location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; } } }`, false))]],
}

export const PROXY_LABELS = {
  l4: 'zerodrop router l4 (per connection; parses HTTP to count requests)',
  l7: 'zerodrop router l7 (per request, upstream keep-alive pool)',
  'haproxy-tcp': 'HAProxy 2.6, TCP mode',
  'haproxy-http': 'HAProxy 2.6, HTTP mode',
  'nginx-stream': 'nginx 1.22, stream proxy',
  'nginx-http': 'nginx 1.22, http proxy (upstream keepalive)',
}

function write(dir, name, text) {
  const file = path.join(dir, name)
  fs.writeFileSync(file, text)
  return file
}

function haproxy(mode, port, backend) {
  return `global\n  nbthread 1\n  maxconn 1000\ndefaults\n  mode ${mode}\n  timeout connect 5s\n  timeout client 120s\n  timeout server 120s\nfrontend f\n  bind 127.0.0.1:${port}\n  default_backend b\nbackend b\n  server s1 127.0.0.1:${backend}\n`
}

function nginx(dir, block, stream) {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${path.join(dir, t)};`).join(' ')
  return `${stream ? 'load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n' : ''}daemon off;\nmaster_process off;\nworker_processes 1;\npid ${path.join(dir, 'nginx.pid')};\nerror_log ${path.join(dir, 'error.log')} warn;\nevents { worker_connections 1024; }\n${stream ? block : block.replace('http {', `http { ${temp}`)}\n`
}

async function countExternal(name, o, dir, backend, log) {
  const runs = []
  for (const n of [o.n1, o.n2]) {
    const port = await freePort()
    const [cmd, args] = CONFIGS[name](dir, port, backend)
    const out = path.join(dir, `${name}-${n}.callgrind`)
    const child = spawn('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d) => { err = (err + d).slice(-4000) })
    const exited = new Promise((resolve) => child.once('exit', resolve))
    try {
      await waitListening(port)
      const r = await closedLoop(`http://127.0.0.1:${port}/`, o.warmup + n, o.connections)
      if (r.ok !== o.warmup + n) throw new Error(`${name}: ${o.warmup + n} requests sent, ${r.ok} answered 200`)
    } catch (e) {
      child.kill('SIGKILL')
      throw new Error(`${e.message}\n${name} stderr: ${err}`)
    }
    child.kill(name.startsWith('nginx') ? 'SIGQUIT' : 'SIGTERM')
    await exited
    runs.push(totals(out))
  }
  const perReq = (runs[1] - runs[0]) / (o.n2 - o.n1)
  log(`router ${name}: ${Math.round(perReq)} instructions per request`)
  return { proxy: name, label: PROXY_LABELS[name], instructionsPerReq: perReq, wholeProcess: runs }
}

async function countRouter(mode, o, dir, backend, log) {
  const s = startChild(`${BENCH_DIR}lib/router-child.mjs`, {
    wrap: ['valgrind', '--tool=callgrind', '--dump-before=uv_loadavg', `--callgrind-out-file=${path.join(dir, `${mode}.%p`)}`],
    nodeArgs: NODE_FLAGS,
    args: [mode, String(backend)],
    readyTimeoutMs: 300_000,
  })
  try {
    const { port } = await s.ready
    const phases = [o.nodeWarmup, o.n1, o.n2 - o.n1]
    for (const n of phases) {
      const r = await closedLoop(`http://127.0.0.1:${port}/`, n, o.connections)
      if (r.ok !== n) throw new Error(`router ${mode}: ${n} requests sent, ${r.ok} answered 200`)
      await s.call('mark', undefined, 120_000)
    }
    const [, i1, i2] = phases.map((_, i) => totals(path.join(dir, `${mode}.${s.pid}.${i + 1}`)))
    const perReq = i2 / (o.n2 - o.n1)
    log(`router ${mode}: ${Math.round(perReq)} instructions per request (phase N1: ${Math.round(i1 / o.n1)})`)
    return { proxy: mode, label: PROXY_LABELS[mode], instructionsPerReq: perReq, instructionsPerReqN1: i1 / o.n1 }
  } finally {
    await s.stop()
  }
}

export async function runProxies(o, log) {
  const c = o.proxies
  const missing = [['valgrind', VALGRIND], ['haproxy', has('haproxy', ['-v'])], ['nginx', has('nginx', ['-v'])]].filter(([, ok]) => !ok).map(([n]) => n)
  if (missing.length > 0) {
    log(`router comparison: SKIPPED — not installed: ${missing.join(', ')} (apt-get install valgrind haproxy nginx-light libnginx-mod-stream)`)
    return { measured: false, reason: `not installed: ${missing.join(', ')}` }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-proxies-'))
  const backend = startChild(`${BENCH_DIR}servers/http-bare.mjs`)
  try {
    const { port } = await backend.ready
    log(`router comparison: backend node:http on ${port}; W=${c.warmup} (zerodrop routers ${c.nodeWarmup}), N1=${c.n1}, N2=${c.n2}; files in ${dir}`)
    const rows = []
    for (const name of Object.keys(CONFIGS)) rows.push(await countExternal(name, c, dir, port, log))
    const routers = await Promise.all(['l4', 'l7'].map((m) => countRouter(m, c, dir, port, log)))
    rows.unshift(...routers)
    const by = Object.fromEntries(rows.map((r) => [r.proxy, r]))
    by.l4.vsReference = by.l4.instructionsPerReq / by['haproxy-tcp'].instructionsPerReq
    by.l7.vsReference = by.l7.instructionsPerReq / by['haproxy-http'].instructionsPerReq
    return { measured: true, method: { ...c, tool: 'valgrind --tool=callgrind (user-space instructions)' }, rows }
  } finally {
    await backend.stop()
  }
}
