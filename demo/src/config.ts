import { DemoDatabaseError, parseDatabaseUrl, type DatabaseTarget } from './items/db.js'
import { ITEMS_VERSIONS, type ItemsVersion } from './items/versions.js'

/** The demo's settings, read once from the environment; bad values stop it with a clear message. */
export interface DemoConfig {
  readonly port: number
  readonly host: string
  readonly framework: 'fastify' | 'express'
  readonly version: string
  readonly failRate: number
  /** share of `GET /` answered by resetting the connection (no response, nothing in the histogram) */
  readonly resetRate: number
  /** FAIL_RATE applies only this long after the first `GET /` */
  readonly failAfterMs: number
  /** FAIL_RATE applies only after this many `GET /` */
  readonly failAfterRequests: number
  readonly latencyMs: number
  readonly startupMs: number
  readonly neverReady: boolean
  readonly crashOnStart: boolean
  readonly ignoreSigterm: boolean
  /** undefined: the lifecycle library; otherwise a naive shutdown for negative controls */
  readonly naive: 'exit' | 'stoppable' | 'fastify-close' | undefined
  readonly drainDelayMs: number
  /** DRAIN_QUIET_MS (with DRAIN_MIN_MS, DRAIN_MAX_MS): the adaptive drain delay instead of DRAIN_DELAY_MS */
  readonly drainDelay: number | { readonly minMs: number; readonly quietMs: number; readonly maxMs: number }
  readonly shutdownTimeoutMs: number
  readonly gracePeriodMs: number
  /** where `/items` live: DATABASE_URL (PostgreSQL), or the embedded SQLite file */
  readonly database: DatabaseTarget
  /** which release of the items schema this process is (docs/expand-contract.md) */
  readonly itemsVersion: ItemsVersion
  /**
   * Whether this process serves `/items` at all: on when ITEMS_VERSION or DATABASE_URL is set (or
   * ITEMS=1). Off by default, so the stateless variants need no database and no native module.
   */
  readonly items: boolean
  /** SQLite's busy_timeout; keep it below the readiness probe's timeout */
  readonly busyTimeoutMs: number
  /** run this version's startup migrations before listening (under the lock) */
  readonly migrateOnStart: boolean
}

export class DemoConfigError extends Error {
  readonly code = 'ZD_ERR_DEMO_CONFIG'
}

function num(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new DemoConfigError(`${name} must be a number between ${min} and ${max}, instead got '${raw}'`)
  }
  return n
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = env[name]
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false
  if (raw === '1' || raw === 'true') return true
  throw new DemoConfigError(`${name} must be 1 or 0, instead got '${raw}'`)
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): DemoConfig {
  const framework = env.FRAMEWORK ?? 'fastify'
  if (framework !== 'fastify' && framework !== 'express') {
    throw new DemoConfigError(`FRAMEWORK must be 'fastify' or 'express', instead got '${framework}'`)
  }
  const naiveRaw = env.NAIVE
  let naive: DemoConfig['naive']
  if (naiveRaw === undefined || naiveRaw === '' || naiveRaw === '0') naive = undefined
  else if (naiveRaw === '1' || naiveRaw === 'exit') naive = 'exit'
  else if (naiveRaw === 'stoppable' || naiveRaw === 'fastify-close') naive = naiveRaw
  else throw new DemoConfigError(`NAIVE must be 1 (exit at once), 'stoppable' or 'fastify-close', instead got '${naiveRaw}'`)
  const items = flag(env, 'ITEMS') || (env.ITEMS_VERSION ?? '') !== '' || (env.DATABASE_URL ?? '') !== ''
  const itemsVersion = env.ITEMS_VERSION || 'v1'
  if (!(ITEMS_VERSIONS as readonly string[]).includes(itemsVersion)) {
    throw new DemoConfigError(`ITEMS_VERSION must be one of ${ITEMS_VERSIONS.join(', ')}, instead got '${itemsVersion}'`)
  }
  let database: DatabaseTarget
  try {
    database = parseDatabaseUrl(env.DATABASE_URL)
  } catch (err) {
    if (err instanceof DemoDatabaseError) throw new DemoConfigError(err.message)
    throw err
  }
  const drainDelayMs = num(env, 'DRAIN_DELAY_MS', 5000, 0, 600_000)
  const shutdownTimeoutMs = num(env, 'SHUTDOWN_TIMEOUT_MS', 20_000, 0, 600_000)
  const quiet = env.DRAIN_QUIET_MS !== undefined && env.DRAIN_QUIET_MS !== ''
  if (quiet && env.DRAIN_DELAY_MS !== undefined && env.DRAIN_DELAY_MS !== '') {
    throw new DemoConfigError(`DRAIN_DELAY_MS (a fixed delay) and DRAIN_QUIET_MS (the adaptive one) exclude each other, instead got both: '${env.DRAIN_DELAY_MS}' and '${env.DRAIN_QUIET_MS}'`)
  }
  const drainDelay = quiet
    ? { minMs: num(env, 'DRAIN_MIN_MS', 1000, 0, 600_000), quietMs: num(env, 'DRAIN_QUIET_MS', 1000, 1, 600_000), maxMs: num(env, 'DRAIN_MAX_MS', 10_000, 0, 600_000) }
    : drainDelayMs
  const longestDelayMs = typeof drainDelay === 'number' ? drainDelay : drainDelay.maxMs
  return {
    port: num(env, 'PORT', 3000, 0, 65535),
    host: env.HOST ?? '0.0.0.0',
    framework,
    version: env.APP_VERSION ?? 'v1',
    failRate: num(env, 'FAIL_RATE', 0, 0, 1),
    resetRate: num(env, 'RESET_RATE', 0, 0, 1),
    failAfterMs: num(env, 'FAIL_AFTER_MS', 0, 0, 3_600_000),
    failAfterRequests: num(env, 'FAIL_AFTER_REQUESTS', 0, 0, 1e9),
    latencyMs: num(env, 'LATENCY_MS', 0, 0, 600_000),
    startupMs: num(env, 'STARTUP_MS', 0, 0, 600_000),
    neverReady: flag(env, 'NEVER_READY'),
    crashOnStart: flag(env, 'CRASH_ON_START'),
    ignoreSigterm: flag(env, 'IGNORE_SIGTERM'),
    naive,
    drainDelayMs,
    drainDelay,
    shutdownTimeoutMs,
    gracePeriodMs: num(env, 'GRACE_PERIOD_MS', Math.max(30_000, longestDelayMs + shutdownTimeoutMs), 0, 3_600_000),
    database,
    itemsVersion: itemsVersion as ItemsVersion,
    items,
    busyTimeoutMs: num(env, 'DB_BUSY_TIMEOUT_MS', 500, 0, 60_000),
    migrateOnStart: !flag(env, 'SKIP_MIGRATIONS'),
  }
}
