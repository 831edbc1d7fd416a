// What is measured. Every server is a file in ../servers/.

export const LABELS = {
  'fastify-bare': 'Fastify (bare)',
  'fastify-control': 'Fastify (bare, second process: A/A control)',
  'fastify-zerodrop': 'Fastify + zerodrop (probes, drain)',
  'fastify-zerodrop-metrics': 'Fastify + zerodrop with metrics',
  'fastify-metrics': 'Fastify + fastify-metrics',
  'fastify-terminus': 'Fastify + @godaddy/terminus',
  'fastify-lightship': 'Fastify + lightship',
  'express-bare': 'Express (bare)',
  'express-zerodrop-metrics': 'Express + zerodrop with metrics',
  'express-prom-bundle': 'Express + express-prom-bundle',
  'http-bare': 'node:http (bare)',
  'http-zerodrop': 'node:http + zerodrop (probes, drain)',
  'http-stoppable': 'node:http + stoppable',
}

/** Overhead groups: every variant is measured back to back with the group's baseline. */
export const GROUPS = [
  { name: 'Fastify 5', baseline: 'fastify-bare', control: 'fastify-control', variants: ['fastify-control', 'fastify-zerodrop', 'fastify-zerodrop-metrics', 'fastify-metrics', 'fastify-terminus', 'fastify-lightship'], cpuRate: 1000 },
  { name: 'Express 5', baseline: 'express-bare', variants: ['express-zerodrop-metrics', 'express-prom-bundle'], cpuRate: 1000 },
  { name: 'node:http', baseline: 'http-bare', variants: ['http-zerodrop'], cpuRate: 1000 },
]

/** Readiness probe latency under load (the servers that serve a readiness probe). */
export const PROBE_CONFIGS = ['fastify-zerodrop', 'fastify-terminus', 'fastify-lightship']

/** SIGTERM-to-exit. */
export const DRAIN_CONFIGS = [
  { server: 'fastify-zerodrop', label: 'Fastify + zerodrop', delay: true },
  { server: 'express-zerodrop-metrics', label: 'Express + zerodrop', delay: true },
  { server: 'http-zerodrop', label: 'node:http + zerodrop', delay: true },
  { server: 'fastify-terminus', label: 'Fastify + @godaddy/terminus (beforeShutdown delay)', delay: true },
  { server: 'fastify-lightship', label: 'Fastify + lightship (shutdownDelay)', delay: true },
  { server: 'http-stoppable', label: 'node:http + stoppable (delay, then stop())', delay: true },
  { server: 'fastify-bare', label: 'Fastify close() (no delay)', delay: false },
]

/** Instruction counts (callgrind): the target configurations and their peers, and the A/A control. */
export const INSTRUCTION_GROUPS = [
  { name: 'Fastify 5', baseline: 'fastify-bare', control: 'fastify-control', variants: ['fastify-control', 'fastify-zerodrop', 'fastify-zerodrop-metrics', 'fastify-metrics'] },
  // ~650 k instructions per request (ten times Fastify's): shorter phases, the same method (2026-12-02: 8 minutes for the three)
  { name: 'Express 5', baseline: 'express-bare', variants: ['express-zerodrop-metrics', 'express-prom-bundle'], counts: { warmup: 20000, settle: 2000, n1: 5000, n2: 10000 } },
  { name: 'node:http', baseline: 'http-bare', variants: ['http-zerodrop'] },
]

export const FULL = {
  mode: 'full',
  groups: GROUPS,
  /**
   * callgrind: W warm-up requests uninstrumented, then S settling, N1 and N2 − N1 counted
   * (instructions.mjs). Bare Fastify under callgrind, 10 000-request windows after W = 40 000 and
   * the instrumentation switched on: 61 987 (settling), 57 972, 57 983 per request.
   */
  instructions: { groups: INSTRUCTION_GROUPS, warmup: 40000, settle: 10000, n1: 10000, n2: 20000, connections: 1, parallel: 2 },
  /** router vs HAProxy and nginx (callgrind): C proxies run twice (W + N1, W + N2); the zerodrop routers warm up first */
  proxies: { warmup: Number(process.env.PW ?? 200), nodeWarmup: Number(process.env.PNW ?? 5000), n1: Number(process.env.PN1 ?? 500), n2: Number(process.env.PN2 ?? 1500), connections: 1 },
  /** max req/s rounds */
  rounds: 4,
  /** CPU per request rounds (A B A C A …) */
  cpuRounds: 5,
  warmupSeconds: 1,
  throughputSeconds: 1.5,
  cpuSeconds: 1,
  /** unmeasured burst right before every CPU sample, so no server starts a sample cold */
  cpuWarmSeconds: 0.3,
  connections: 100,
  probeConfigs: PROBE_CONFIGS,
  probeSeconds: 6,
  probeCheckMs: 50,
  probeLoadShare: 0.8,
  drainConfigs: DRAIN_CONFIGS,
  drainDelayMs: 1000,
  drainReps: 2,
  idleClients: 100,
  fleet: true,
  fleetRounds: 3,
  rolling: { replicas: 2, maxSurge: 1, periodMs: 200, endpointDelayMs: 500, drainDelayMs: 1000 },
  /** how cost grows (growth.mjs): connections held, connections through the router, replicas rolled */
  growth: {
    drainServers: ['fastify-zerodrop', 'fastify-bare'],
    drainConnections: [10, 1000, 10000],
    drainReps: 2,
    drainDelayMs: 1000,
    /** connections opened at once (more would overflow the listen backlog) */
    batch: 250,
    routerModes: ['l4', 'l7'],
    routerConnections: [10, 1000, 5000],
    routerRate: 500,
    routerSamples: 3,
    routerSeconds: 1.5,
    replicas: [3, 10, 20],
    maxSurge: '25%',
    periodMs: 200,
    endpointDelayMs: 500,
    /** router max throughput with the router alone on CPU 1: rounds of direct, l4, l7 */
    pinnedRounds: 4,
  },
}

/** ~10 s: every section's machinery once, tiny durations; the figures mean nothing. */
export const SMOKE = {
  mode: 'smoke',
  groups: [{ name: 'Fastify 5', baseline: 'fastify-bare', variants: ['fastify-zerodrop'], cpuRate: 1000 }],
  rounds: 2,
  cpuRounds: 2,
  warmupSeconds: 0.5,
  throughputSeconds: 0.5,
  cpuSeconds: 0.5,
  cpuWarmSeconds: 0.2,
  connections: 10,
  probeConfigs: ['fastify-zerodrop'],
  probeSeconds: 2.5,
  probeCheckMs: 50,
  probeLoadShare: 0.8,
  drainConfigs: [DRAIN_CONFIGS[0]],
  drainDelayMs: 200,
  drainReps: 1,
  idleClients: 20,
  fleet: false,
  growth: {
    drainServers: ['fastify-zerodrop'],
    drainConnections: [10, 200],
    drainReps: 1,
    drainDelayMs: 200,
    batch: 100,
    routerModes: ['l4'],
    routerConnections: [10, 200],
    routerRate: 200,
    routerSamples: 1,
    routerSeconds: 0.5,
    replicas: [],
    maxSurge: '25%',
    periodMs: 200,
    endpointDelayMs: 500,
    pinnedRounds: 0,
  },
}
