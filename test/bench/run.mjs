#!/usr/bin/env node
// zerodrop benchmarks: `npm run bench` (full, under 10 minutes on 2 cores) or
// `node test/bench/run.mjs --smoke [--out DIR]` (~10 s, used by `npm test`).
// Options: --only instructions,proxies,overhead,probes,drain,fleet,growth   --out DIR (default test/bench/results, smoke: a temp dir)
//          --rounds N   --render results/latest.json (rewrite the Markdown from a run's JSON)
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { BENCH_DIR, LOAD_CPU, TASKSET, pinSelf, startChild, stopAll } from './lib/proc.mjs'
import { FULL, SMOKE } from './lib/configs.mjs'
import { runOverhead } from './lib/overhead.mjs'
import { runProbes } from './lib/probes.mjs'
import { runDrain } from './lib/drain.mjs'
import { runFleet } from './lib/fleet.mjs'
import { runInstructions } from './lib/instructions.mjs'
import { runProxies } from './lib/proxies.mjs'
import { runGrowth } from './lib/growth.mjs'
import { markdown, readmeSection, targets } from './lib/report.mjs'

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    out: { type: 'string' },
    only: { type: 'string' },
    rounds: { type: 'string' },
    render: { type: 'string' },
    merge: { type: 'string' },
  },
})

// --merge a.json,b.json --render results/latest.json: the sections of several runs in one file,
// each section keeping the date of the run that measured it (sectionRuns), later files winning.
if (values.merge && values.render) {
  const merged = { sectionRuns: {} }
  for (const f of values.merge.split(',')) {
    const r = JSON.parse(fs.readFileSync(path.resolve(f), 'utf8'))
    for (const key of ['instructions', 'proxies', 'overhead', 'probes', 'drain', 'fleet', 'growth']) {
      if (r[key] !== undefined && (r[key].measured !== false || merged[key] === undefined)) {
        // instructions from partial runs (ZERODROP_BENCH_GROUPS): their groups side by side
        if (key === 'instructions' && merged[key]?.measured && r[key].measured) {
          // a kept group keeps the method (windows) it was counted with
          const kept = merged[key].groups.filter((g) => !r[key].groups.some((n) => n.name === g.name)).map((g) => ({ method: merged[key].method, ...g }))
          merged[key] = { ...r[key], groups: [...kept, ...r[key].groups] }
          const run = `${r.startedAt} on ${r.machine.cpuModel}, load average ${r.machine.loadBefore[0]}`
          // every group re-measured: the section is the later run's alone
          merged.sectionRuns[key] = kept.length > 0 ? `${merged.sectionRuns[key]} and ${r.startedAt}` : run
          continue
        }
        merged[key] = r[key]
        merged.sectionRuns[key] = r.sectionRuns?.[key] ?? `${r.startedAt} on ${r.machine.cpuModel}, load average ${r.machine.loadBefore[0]}`
      }
    }
    merged.startedAt = merged.startedAt ?? r.startedAt
    merged.machine = r.machine
    merged.options = { ...merged.options, ...r.options, mode: 'full' }
    merged.durationS = (merged.durationS ?? 0) + r.durationS
  }
  merged.startedAt = Object.values(merged.sectionRuns).sort().at(-1)
  fs.writeFileSync(path.resolve(values.render), JSON.stringify(merged, null, 2) + '\n')
}
// --render results/latest.json: rewrite the Markdown (and README section) from a JSON file.
if (values.render) {
  const file = path.resolve(values.render)
  const results = JSON.parse(fs.readFileSync(file, 'utf8'))
  results.targets = targets(results)
  const base = file.replace(/\.json$/, '')
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n')
  fs.writeFileSync(`${base}.md`, `## zerodrop benchmarks\n\n${markdown(results)}\n`)
  if (results.options.mode === 'full') fs.writeFileSync(path.join(path.dirname(file), 'readme-section.md'), readmeSection(results))
  process.stdout.write(`rendered ${base}.md\n`)
  process.exit(0)
}
const o = { ...(values.smoke ? SMOKE : FULL) }
if (values.rounds) o.rounds = Number(values.rounds)
const sections = new Set((values.only ?? (values.smoke ? 'overhead,probes,drain,fleet,growth' : 'instructions,proxies,overhead,probes,drain,fleet,growth')).split(','))
const outDir = path.resolve(values.out ?? (values.smoke ? fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-bench-')) : path.join(BENCH_DIR, 'results')))
const name = values.smoke ? 'smoke' : values.only ? `partial-${[...sections].join('-')}` : 'latest'

const started = performance.now()
const log = (msg) => process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${msg}\n`)

// The harness waits most of the time; it shares the load generator's CPU, never the server's.
pinSelf(LOAD_CPU)
const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100)
const results = {
  startedAt: new Date().toISOString(),
  machine: {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model?.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    pinned: TASKSET,
    loadBefore: load(),
    loadAfter: [],
  },
  options: { ...o, groups: o.groups.map((g) => ({ ...g })) },
}

// Stopped from outside (a test's cleanup, Ctrl-C): take every child down with us, by PID.
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.once(sig, () => {
    stopAll().finally(() => process.exit(130))
  })
}

let failed = false
const loadgen = startChild(`${BENCH_DIR}lib/loadgen.mjs`, { cpu: LOAD_CPU })
try {
  await loadgen.ready
  if (sections.has('instructions')) results.instructions = o.instructions ? await runInstructions(o, log) : { measured: false, reason: 'not part of the smoke mode (valgrind, minutes)' }
  if (sections.has('proxies')) results.proxies = o.proxies ? await runProxies(o, log) : { measured: false, reason: 'not part of the smoke mode (valgrind, minutes)' }
  if (sections.has('overhead')) results.overhead = await runOverhead(o, loadgen, log)
  if (sections.has('probes')) results.probes = await runProbes(o, loadgen, log)
  if (sections.has('drain')) results.drain = await runDrain(o, loadgen, log)
  if (sections.has('fleet')) results.fleet = o.fleet ? await runFleet(o, loadgen, log) : { measured: false, reason: 'not part of the smoke mode' }
  if (sections.has('growth')) results.growth = await runGrowth(o, loadgen, log)
} catch (err) {
  failed = true
  log(`failed: ${err instanceof Error ? err.stack : String(err)}`)
} finally {
  await stopAll()
}
results.machine.loadAfter = load()
results.durationS = (performance.now() - started) / 1000
results.targets = targets(results)

fs.mkdirSync(outDir, { recursive: true })
const md = `## zerodrop benchmarks\n\n${markdown(results)}`
fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(results, null, 2) + '\n')
fs.writeFileSync(path.join(outDir, `${name}.md`), md + '\n')
if (name === 'latest') fs.writeFileSync(path.join(outDir, 'readme-section.md'), readmeSection(results))
process.stdout.write(md + '\n')
log(`wrote ${path.join(outDir, `${name}.json`)} and ${name}.md`)
process.exit(failed ? 1 : 0)
