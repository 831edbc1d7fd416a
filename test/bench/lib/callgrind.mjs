// Per-function instruction counts from callgrind dumps, JIT frames named from V8 perf maps
// (node --perf-basic-prof): used by callgrind-diff.mjs and by the instructions section, which
// keeps the top differences of every configuration against its bare baseline.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'

/** A perf map (`start size name` per line, hex) as ranges; later entries win (V8 reuses code space). */
function readMap(file) {
  if (!file || !fs.existsSync(file)) return undefined
  const ranges = []
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/i.exec(line)
    if (m) ranges.push({ start: parseInt(m[1], 16), end: parseInt(m[1], 16) + parseInt(m[2], 16), name: m[3] })
  }
  return ranges
}

function nameOf(ranges, addr) {
  for (let i = ranges.length - 1; i >= 0; i--) if (addr >= ranges[i].start && addr < ranges[i].end) return ranges[i].name
  return undefined
}

/** Instructions per request by function (exclusive unless `inclusive`), from one dump of `n` requests. */
export function perFunction(file, n, { map, inclusive = false } = {}) {
  const ranges = readMap(map)
  const text = execFileSync('callgrind_annotate', ['--threshold=100', `--inclusive=${inclusive ? 'yes' : 'no'}`, file], { maxBuffer: 256 * 2 ** 20 }).toString()
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

/** Functions whose exclusive count per request grew most from `base` to `variant`; the process's outer frames (main and the event loop, which hold everything) left out. */
export function diffFunctions(base, variant, top = 25) {
  const rows = [...new Set([...base.keys(), ...variant.keys()])].map((fn) => ({ fn, base: base.get(fn) ?? 0, variant: variant.get(fn) ?? 0 }))
  rows.sort((x, y) => (y.variant - y.base) - (x.variant - x.base))
  return rows.filter((r) => !OUTER.test(r.fn)).slice(0, top)
}

const OUTER = /main|^\?\?\?:0x0000000000|node::Start|SpinEventLoop|NodeMainInstance/
