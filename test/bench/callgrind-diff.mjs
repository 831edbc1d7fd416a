#!/usr/bin/env node
// Where the extra instructions go: two callgrind dumps (e.g. the counted phase of a bare server
// and of the same server with zerodrop, from `run.mjs --only instructions`), each divided by its
// request count, function by function, largest increase first.
// node test/bench/callgrind-diff.mjs BASE.callgrind N VARIANT.callgrind N [--inclusive] [--top 25]
//      [--base-map /tmp/perf-PID.map --variant-map /tmp/perf-PID.map]
// Callgrind cannot name JIT-compiled JavaScript (it shows `0x…` addresses); run the servers with
// node --perf-basic-prof (ZERODROP_BENCH_PERF_MAP=1 does it) and pass each one's perf map to
// name those frames (`JS:*name file:line` for optimised code).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { parseArgs } from 'node:util'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    inclusive: { type: 'boolean', default: false },
    top: { type: 'string', default: '25' },
    'base-map': { type: 'string' },
    'variant-map': { type: 'string' },
  },
})
const [baseFile, baseN, varFile, varN] = positionals
if (!varN) {
  process.stderr.write('usage: callgrind-diff.mjs BASE.callgrind N VARIANT.callgrind N [--inclusive] [--top 25] [--base-map FILE --variant-map FILE]\n')
  process.exit(2)
}

/** A perf map (`start size name` per line, hex) as sorted ranges; later entries win (code is reused). */
function readMap(file) {
  if (!file) return undefined
  const ranges = []
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/i.exec(line)
    if (m) ranges.push({ start: parseInt(m[1], 16), end: parseInt(m[1], 16) + parseInt(m[2], 16), name: m[3] })
  }
  return ranges
}

function nameOf(ranges, addr) {
  // the latest entry covering the address: V8 reuses code space after a GC
  for (let i = ranges.length - 1; i >= 0; i--) if (addr >= ranges[i].start && addr < ranges[i].end) return ranges[i].name
  return undefined
}

function perFunction(file, n, map) {
  const ranges = readMap(map)
  const text = execFileSync('callgrind_annotate', ['--threshold=100', `--inclusive=${values.inclusive ? 'yes' : 'no'}`, file], { maxBuffer: 256 * 2 ** 20 }).toString()
  const out = new Map()
  for (const line of text.split('\n')) {
    const m = /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*)$/.exec(line)
    if (!m || m[2].includes('PROGRAM TOTALS')) continue
    let fn = m[2].replace(/ \[[^\]]*\]$/, '').replace(/^.*:(?=[^:]*$)/, (p) => p.includes('/') ? '' : p)
    const addr = /^\?\?\?:0x([0-9a-f]+)$/i.exec(fn)
    if (addr && ranges) fn = nameOf(ranges, parseInt(addr[1], 16))?.replace(/ file:\/\/\S*?\/(node_modules|packages)\//, ' $1/') ?? fn
    out.set(fn, (out.get(fn) ?? 0) + Number(m[1].replaceAll(',', '')) / Number(n))
  }
  return out
}

const a = perFunction(baseFile, baseN, values['base-map'])
const b = perFunction(varFile, varN, values['variant-map'])
const rows = [...new Set([...a.keys(), ...b.keys()])].map((fn) => ({ fn, base: a.get(fn) ?? 0, variant: b.get(fn) ?? 0 }))
rows.sort((x, y) => (y.variant - y.base) - (x.variant - x.base))
process.stdout.write(`${values.inclusive ? 'inclusive' : 'exclusive'} instructions per request: base, variant, difference\n`)
for (const r of rows.slice(0, Number(values.top))) process.stdout.write(`${Math.round(r.base).toString().padStart(9)} ${Math.round(r.variant).toString().padStart(9)} ${('+' + Math.round(r.variant - r.base)).padStart(8)}  ${r.fn}\n`)
