#!/usr/bin/env node
// Where the extra instructions go: two callgrind dumps (e.g. the counted phase of a bare server
// and of the same server with zerodrop, from `run.mjs --only instructions`), each divided by its
// request count, function by function, largest increase first.
// node test/bench/callgrind-diff.mjs BASE.callgrind N VARIANT.callgrind N [--inclusive] [--top 25]
//      [--base-map /tmp/perf-PID.map --variant-map /tmp/perf-PID.map]
// Callgrind cannot name JIT-compiled JavaScript (it shows `0x…` addresses); run the servers with
// node --perf-basic-prof (ZERODROP_BENCH_PERF_MAP=1 does it) and pass each one's perf map to
// name those frames (`JS:*name file:line` for optimised code).
import { parseArgs } from 'node:util'
import { diffFunctions, perFunction } from './lib/callgrind.mjs'

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
const { inclusive } = values
const a = perFunction(baseFile, baseN, { map: values['base-map'], inclusive })
const b = perFunction(varFile, varN, { map: values['variant-map'], inclusive })
process.stdout.write(`${inclusive ? 'inclusive' : 'exclusive'} instructions per request: base, variant, difference\n`)
for (const r of diffFunctions(a, b, Number(values.top))) process.stdout.write(`${Math.round(r.base).toString().padStart(9)} ${Math.round(r.variant).toString().padStart(9)} ${('+' + Math.round(r.variant - r.base)).padStart(8)}  ${r.fn}\n`)
