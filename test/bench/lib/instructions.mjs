// Instructions per request, counted by callgrind: deterministic where CPU time on a shared
// machine is not. Each server runs under `valgrind --tool=callgrind --instr-atstart=no`; a
// closed-loop client in its own process (not under valgrind) sends exactly W warm-up requests
// while callgrind does not instrument (about 10 × faster, so W can be large enough for V8's
// tier-up to end), then `callgrind_control -i on` starts the count, then S settling requests
// (the code retranslated with instrumentation; counted, not used), then N1, then N2 − N1; the
// server dumps its counters between the phases (see 'mark' in ../servers/common.mjs). The
// figure is the last phase's instructions / (N2 − N1). The N1 phase, of the same length, is
// the check that nothing was still settling: a row whose N1 figure differs from its N2 figure by
// more than STEADY_TOLERANCE is marked not steady, and a target judged on it is not resolved
// (test/bench/README.md, "Method"). Callgrind counts user-space instructions of every thread of
// the process; the kernel's share is not counted.
import { execFile, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BENCH_DIR, LOAD_CPU, startChild } from './proc.mjs'
import { LABELS } from './configs.mjs'
import { diffFunctions, perFunction } from './callgrind.mjs'

export const VALGRIND = spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).status === 0
// --single-threaded: V8 compiles and collects on the main thread. Its background threads otherwise
// took 64 % of the count, in proportion to wall-clock time rather than to requests (they poll
// and spin while valgrind serialises threads), so the figure depended on how busy the machine was.
// --predictable-gc-schedule: V8 sizes its heap from measured allocation *rates* (bytes per ms),
// so how often it collects depended on how fast the process ran — an uninstrumented warm-up and
// a busy machine changed it. With fixed growing factors two processes of bare Fastify counted
// 57 983 and 57 988 instructions per request (without: 61 726 and 58 022).
export const NODE_FLAGS = ['--hash-seed=1', '--random-seed=1', '--single-threaded', '--predictable-gc-schedule']
/** ZERODROP_BENCH_PERF_MAP=1: also --perf-basic-prof, so callgrind-diff.mjs can name JIT frames from /tmp/perf-PID.map */
const PERF_MAP = process.env.ZERODROP_BENCH_PERF_MAP === '1'
/** |N1 figure / N2 figure − 1| above this: tier-up was still running inside the counted window. */
export const STEADY_TOLERANCE = 0.01
const WARMUP_CHUNK = 1000
/** Failed requests (resets) tolerated per server; each is counted in its row's `failedRequests`. */
const MAX_FAILED = 20

export function closedLoop(url, count, connections) {
  return new Promise((resolve, reject) => {
    const argv = [`${BENCH_DIR}lib/closed-loop.mjs`, url, String(count), String(connections)]
    const [cmd, args] = process.platform === 'linux' && spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0
      ? ['taskset', ['-c', String(LOAD_CPU), process.execPath, ...argv]]
      : [process.execPath, argv]
    execFile(cmd, args, { timeout: 900_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`closed-loop load to ${url} (${count} requests) failed: ${err.message}\n${stderr}`))
      resolve(JSON.parse(stdout))
    })
  })
}

/** Starts callgrind's instrumentation in a running process (valgrind's gdbserver, through vgdb). */
function instrumentationOn(pid) {
  return new Promise((resolve, reject) => {
    execFile('callgrind_control', ['-i', 'on', String(pid)], { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err || !/OK/.test(stdout)) return reject(new Error(`callgrind_control -i on ${pid} failed: ${err?.message ?? ''} ${stdout} ${stderr}`))
      resolve()
    })
  })
}

export function totals(file) {
  const m = /^totals:\s+(\d+)/m.exec(fs.readFileSync(file, 'utf8')) ?? /^summary:\s+(\d+)/m.exec(fs.readFileSync(file, 'utf8'))
  if (!m) throw new Error(`no totals line in callgrind output ${file}`)
  return Number(m[1])
}

async function countOne(name, o, dir, log) {
  const out = path.join(dir, `${name}.%p`)
  const s = startChild(`${BENCH_DIR}servers/${name}.mjs`, {
    wrap: ['valgrind', '--tool=callgrind', '--instr-atstart=no', '--dump-before=uv_loadavg', `--callgrind-out-file=${out}`],
    nodeArgs: PERF_MAP ? [...NODE_FLAGS, '--perf-basic-prof'] : NODE_FLAGS,
    env: { ZERODROP_BENCH_GC_COUNT: '1' },
    readyTimeoutMs: 900_000, // valgrind starting node on a busy 2-core machine, ten at a time
  })
  const t0 = performance.now()
  try {
    const info = await s.ready
    const url = `http://127.0.0.1:${info.port}/`
    const phases = [o.warmup, o.settle, o.n1, o.n2 - o.n1]
    const secs = []
    const gcs = []
    let failed = 0
    for (const [i, n] of phases.entries()) {
      const t = performance.now()
      // In chunks, so each client run stays well inside its timeout while tier-up is slow; topped
      // up to n answered requests: a server descheduled for longer than its keep-alive timeout
      // (node:http's 5 s) runs its timers before it reads the next request and resets it.
      let ok = 0
      while (ok < n) {
        const r = await closedLoop(url, Math.min(n - ok, WARMUP_CHUNK), o.connections)
        ok += r.ok
        failed += r.bad
        if (failed > MAX_FAILED) throw new Error(`${name}: ${failed} requests not answered 200 (more than ${MAX_FAILED})`)
      }
      secs.push((performance.now() - t) / 1000)
      gcs.push((await s.call('mark', undefined, 120_000))?.gc)
      // the warm-up ran uninstrumented (its mark dumps nothing): the count starts now
      if (i === 0) await instrumentationOn(s.pid)
    }
    // dumps 1, 2, 3: settling, N1, N2 − N1
    const files = phases.slice(1).map((_, i) => path.join(dir, `${name}.${s.pid}.${i + 1}`))
    const [, i1, i2] = files.map(totals)
    const perReq = i2 / (o.n2 - o.n1)
    const steady = Math.abs(i1 / o.n1 / perReq - 1) <= STEADY_TOLERANCE
    const gcText = (g) => g ? `${g.minor} minor, ${g.major} major GC` : 'GC not counted'
    log(`instructions ${name}: ${Math.round(perReq)} per request (phase N1: ${Math.round(i1 / o.n1)}${steady ? '' : ', NOT STEADY'}; N1 ${gcText(gcs[2])}, N2 − N1 ${gcText(gcs[3])}), ${((performance.now() - t0) / 1000).toFixed(0)} s`)
    return {
      server: name,
      label: LABELS[name],
      instructionsPerReq: perReq,
      instructionsPerReqN1: i1 / o.n1,
      failedRequests: failed,
      steady,
      /** collections inside each window (warm-up, settling, N1, N2 − N1), from perf_hooks 'gc' entries */
      gcPerPhase: gcs,
      reqPerS: (o.n2 - o.n1) / secs[3],
      profile: files[2],
      ...(PERF_MAP ? { perfMap: `/tmp/perf-${s.pid}.map` } : {}),
    }
  } finally {
    await s.stop()
  }
}

/**
 * Where each configuration's extra instructions go: the functions whose exclusive count per
 * request grew most over its group's bare baseline (counted phases, JIT frames named when the
 * run had perf maps), kept in the row as `profileTop` for the report's missed targets.
 */
export function profileDiffs(groups, perGroupN, top = 6) {
  for (const g of groups) {
    // requests in the counted window: one number, or one per group (a group with its own counts)
    const n = typeof perGroupN === 'function' ? perGroupN(g) : perGroupN
    const base = g.rows.find((r) => r.baseline)
    if (!base?.profile || !fs.existsSync(base.profile)) continue
    const a = perFunction(base.profile, n, { map: base.perfMap })
    for (const r of g.rows) {
      if (r.baseline || !r.profile || !fs.existsSync(r.profile)) continue
      r.profileTop = diffFunctions(a, perFunction(r.profile, n, { map: r.perfMap }), top)
        .map((d) => ({ fn: d.fn, base: Math.round(d.base), variant: Math.round(d.variant) }))
    }
  }
}

/** Runs `jobs` with at most `width` at a time (valgrind is one CPU each; the counts do not care). */
async function pool(jobs, width) {
  const results = new Array(jobs.length)
  let next = 0
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < jobs.length) {
      const i = next++
      results[i] = await jobs[i]()
    }
  }))
  return results
}

export async function runInstructions(o, log) {
  if (!VALGRIND) {
    log('instructions: SKIPPED — valgrind is not installed (apt-get install valgrind)')
    return { measured: false, reason: 'valgrind not installed' }
  }
  const c = { ...o.instructions }
  // ZERODROP_BENCH_GROUPS='Fastify 5,node:http': only those groups (a partial run when time is short)
  // ZERODROP_BENCH_COUNTS='warmup=20000,settle=2000,n1=2000,n2=4000': other counts (a slow group's partial run; the report says which)
  for (const kv of (process.env.ZERODROP_BENCH_COUNTS ?? '').split(',').filter(Boolean)) {
    const [k, v] = kv.split('=')
    if (!['warmup', 'settle', 'n1', 'n2'].includes(k) || !(Number(v) > 0)) throw new Error(`ZERODROP_BENCH_COUNTS: expected warmup|settle|n1|n2=<count>, got ${JSON.stringify(kv)}`)
    c[k] = Number(v)
  }
  if (process.env.ZERODROP_BENCH_GROUPS) c.groups = c.groups.filter((g) => process.env.ZERODROP_BENCH_GROUPS.split(',').includes(g.name))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-callgrind-'))
  const names = [...new Set(c.groups.flatMap((g) => [g.baseline, ...g.variants]))]
  log(`instructions: ${names.length} servers under callgrind, ${c.parallel} at a time; W=${c.warmup}, N1=${c.n1}, N2=${c.n2}, ${c.connections} connection(s); dumps in ${dir}`)
  // a group may count with its own numbers (Express: ~10 × the instructions per request, so
  // shorter phases keep the section inside the bench's budget); ZERODROP_BENCH_COUNTS wins over both
  const countsOf = (g) => (process.env.ZERODROP_BENCH_COUNTS || g.counts === undefined ? undefined : { ...c, ...g.counts })
  const forServer = (n) => countsOf(c.groups.find((g) => g.baseline === n || g.variants.includes(n))) ?? c
  const got = await pool(names.map((n) => () => countOne(n, forServer(n), dir, log)), c.parallel)
  const by = Object.fromEntries(got.map((r) => [r.server, r]))
  const groups = c.groups.map((g) => ({
    name: g.name,
    ...(countsOf(g) ? { method: { ...countsOf(g), groups: undefined } } : {}),
    baseline: g.baseline,
    rows: [g.baseline, ...g.variants].map((n) => ({
      ...by[n],
      baseline: n === g.baseline,
      control: n === g.control,
      instructionsRatio: by[n].instructionsPerReq / by[g.baseline].instructionsPerReq,
    })),
  }))
  profileDiffs(groups, (g) => (g.method ?? c).n2 - (g.method ?? c).n1)
  return { measured: true, method: { tool: 'valgrind --tool=callgrind (user-space instructions, all threads)', nodeFlags: NODE_FLAGS, optimizingCompileCounted: true, instrumentedFrom: 'after the warm-up (callgrind_control -i on)', steadyTolerance: STEADY_TOLERANCE, chunk: WARMUP_CHUNK, ...c }, dumps: dir, groups }
}
