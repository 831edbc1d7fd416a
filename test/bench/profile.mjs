#!/usr/bin/env node
// Where a configuration's CPU goes: `node test/bench/profile.mjs <server> [<server>…] [--seconds 6] [--rate 3000] [--diff]`
// (--diff: the first server is the baseline; prints each function's extra µs per request in the others).
// Starts each server, warms it up, profiles it (inspector, started and stopped over IPC) while it drives a paced load at a fixed rate (autocannon in
// the load-generator child), stops it with SIGTERM and summarises the profile: self time by
// package and the top functions, plus inclusive time of every frame from @zerodrop/lifecycle,
// prom-client and the peers.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { BENCH_DIR, LOAD_CPU, SERVER_CPU, pinSelf, startChild, stopAll } from './lib/proc.mjs'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { seconds: { type: 'string', default: '6' }, rate: { type: 'string', default: '3000' }, top: { type: 'string', default: '25' }, keep: { type: 'string' }, diff: { type: 'boolean', default: false } },
})
const seconds = Number(values.seconds)
const rate = Number(values.rate)

function pkgOf(url) {
  if (!url) return '(native / gc / idle)'
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)
  if (m) return m[1]
  if (url.includes('/packages/lifecycle/')) return '@zerodrop/lifecycle'
  if (url.startsWith('node:')) return 'node core'
  if (url.includes('/test/bench/')) return 'bench server'
  return url
}

/** µs per request spent in each function (self time), and in total, for a diff against a baseline. */
function perRequest(file, requests) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'))
  const byId = new Map(prof.nodes.map((n) => [n.id, n]))
  const usPerSample = (prof.endTime - prof.startTime) / prof.samples.length
  const fn = new Map()
  let busy = 0
  for (const id of prof.samples) {
    const cf = byId.get(id).callFrame
    if (cf.functionName === '(idle)' || cf.functionName === '(program)') continue
    busy++
    const key = `${cf.functionName || '(anonymous)'} ${cf.url ? cf.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/packages\//, 'packages/') : ''}:${cf.lineNumber + 1}`
    fn.set(key, (fn.get(key) ?? 0) + usPerSample / requests)
  }
  return { total: (busy * usPerSample) / requests, fn }
}

function diff(base, variant, topN) {
  const lines = [`busy µs/request: baseline ${base.total.toFixed(1)}, variant ${variant.total.toFixed(1)} (${(variant.total / base.total).toFixed(3)} ×)`]
  const keys = new Set([...base.fn.keys(), ...variant.fn.keys()])
  const d = [...keys].map((k) => [k, (variant.fn.get(k) ?? 0) - (base.fn.get(k) ?? 0)]).sort((a, b) => b[1] - a[1])
  lines.push('largest increases (µs/request):')
  for (const [k, v] of d.slice(0, topN)) lines.push(`  ${v >= 0 ? '+' : ''}${v.toFixed(2).padStart(6)}  ${k}`)
  return lines.join('\n')
}

function summarise(file, topN) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'))
  const byId = new Map(prof.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfSamples = new Map()
  for (const id of prof.samples) selfSamples.set(id, (selfSamples.get(id) ?? 0) + 1)
  const dt = (prof.endTime - prof.startTime) / prof.samples.length / 1000 // ms per sample
  let idle = 0
  let total = 0
  const byPkg = new Map()
  const byFn = new Map()
  const inclusive = new Map() // frames of interest, counted once per sample
  const interesting = /@zerodrop\/lifecycle|packages\/lifecycle|prom-client|fastify-metrics|terminus|stoppable|lightship|express-prom-bundle|on-finished|url-value-parser/
  for (const [id, count] of selfSamples) {
    const n = byId.get(id)
    const cf = n.callFrame
    if (cf.functionName === '(idle)' || cf.functionName === '(program)') { idle += count; continue }
    total += count
    const pkg = pkgOf(cf.url)
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + count)
    const key = `${cf.functionName || '(anonymous)'} ${cf.url ? cf.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/packages\//, 'packages/') : ''}:${cf.lineNumber + 1}`
    byFn.set(key, (byFn.get(key) ?? 0) + count)
    const seen = new Set()
    for (let p = id; p !== undefined; p = parent.get(p)) {
      const f = byId.get(p).callFrame
      if (!interesting.test(f.url)) continue
      const k = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/packages\//, 'packages/')}:${f.lineNumber + 1}`
      if (seen.has(k)) continue
      seen.add(k)
      inclusive.set(k, (inclusive.get(k) ?? 0) + count)
    }
  }
  const pct = (c) => `${((100 * c) / total).toFixed(1).padStart(5)} %`
  const lines = []
  lines.push(`busy samples ${total} (${(total * dt).toFixed(0)} ms), idle/program ${idle}`)
  lines.push('self time by package:')
  for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 12)) lines.push(`  ${pct(v)}  ${k}`)
  lines.push(`top ${topN} functions by self time:`)
  for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, topN)) lines.push(`  ${pct(v)}  ${k}`)
  lines.push('inclusive time of library frames:')
  for (const [k, v] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 20)) lines.push(`  ${pct(v)}  ${k}`)
  return lines.join('\n')
}

pinSelf(LOAD_CPU)
const dir = values.keep ? path.resolve(values.keep) : fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-prof-'))
let baseline
const loadgen = startChild(`${BENCH_DIR}lib/loadgen.mjs`, { cpu: LOAD_CPU })
try {
  await loadgen.ready
  for (const name of positionals) {
    const profDir = path.join(dir, name)
    fs.mkdirSync(profDir, { recursive: true })
    const s = startChild(`${BENCH_DIR}servers/${name}.mjs`, { cpu: SERVER_CPU })
    const info = await s.ready
    const url = `http://127.0.0.1:${info.port}/`
    await loadgen.call('paced', { url, rate, seconds: 2 }) // warm-up, not profiled
    await s.call('profile-start', { intervalUs: 100 })
    const r = await loadgen.call('paced', { url, rate, seconds })
    const file = await s.call('profile-stop', { file: path.join(profDir, `${name}.cpuprofile`) })
    await s.stop()
    console.log(`\n=== ${name}: ${r.ok} responses at ${rate} req/s (profile ${file})`)
    console.log(summarise(file, Number(values.top)))
    const pr = perRequest(file, r.ok)
    if (values.diff && baseline === undefined) baseline = { name, pr }
    else if (values.diff) console.log(`--- ${name} vs ${baseline.name}\n${diff(baseline.pr, pr, Number(values.top))}`)
  }
} finally {
  await stopAll()
  if (!values.keep) fs.rmSync(dir, { recursive: true, force: true })
}
