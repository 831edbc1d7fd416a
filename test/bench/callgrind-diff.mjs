#!/usr/bin/env node
// Where the extra instructions go: two callgrind dumps (e.g. the counted phase of a bare server
// and of the same server with zerodrop, from `run.mjs --only instructions`), each divided by its
// request count, function by function, largest increase first.
// node test/bench/callgrind-diff.mjs BASE.callgrind N VARIANT.callgrind N [--inclusive] [--top 25]
import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'

const { values, positionals } = parseArgs({ allowPositionals: true, options: { inclusive: { type: 'boolean', default: false }, top: { type: 'string', default: '25' } } })
const [baseFile, baseN, varFile, varN] = positionals
if (!varN) {
  process.stderr.write('usage: callgrind-diff.mjs BASE.callgrind N VARIANT.callgrind N [--inclusive] [--top 25]\n')
  process.exit(2)
}

function perFunction(file, n) {
  const text = execFileSync('callgrind_annotate', ['--threshold=100', `--inclusive=${values.inclusive ? 'yes' : 'no'}`, file], { maxBuffer: 256 * 2 ** 20 }).toString()
  const out = new Map()
  for (const line of text.split('\n')) {
    const m = /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*)$/.exec(line)
    if (!m || m[2].includes('PROGRAM TOTALS')) continue
    const fn = m[2].replace(/ \[[^\]]*\]$/, '').replace(/^.*:(?=[^:]*$)/, (p) => p.includes('/') ? '' : p)
    out.set(fn, (out.get(fn) ?? 0) + Number(m[1].replaceAll(',', '')) / Number(n))
  }
  return out
}

const a = perFunction(baseFile, baseN)
const b = perFunction(varFile, varN)
const rows = [...new Set([...a.keys(), ...b.keys()])].map((fn) => ({ fn, base: a.get(fn) ?? 0, variant: b.get(fn) ?? 0 }))
rows.sort((x, y) => (y.variant - y.base) - (x.variant - x.base))
process.stdout.write(`${values.inclusive ? 'inclusive' : 'exclusive'} instructions per request: base, variant, difference\n`)
for (const r of rows.slice(0, Number(values.top))) process.stdout.write(`${Math.round(r.base).toString().padStart(9)} ${Math.round(r.variant).toString().padStart(9)} ${('+' + Math.round(r.variant - r.base)).padStart(8)}  ${r.fn}\n`)
