import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import type { ResolvedProbes, ResolvedRevision } from '../options/deploy.js'
import { ProbeRunner } from './probes.js'
import { unwatchGroup, watchEnv, watchGroup } from './watchdog.js'

export const INSTANCE_STATES = ['starting', 'running', 'terminating', 'stopped'] as const
export type InstanceState = (typeof INSTANCE_STATES)[number]

export interface InstanceExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** ms the process ran */
  readonly ranMs: number
  /** it never passed its startup probe */
  readonly beforeStarted: boolean
}

export interface TerminationResult {
  /** ms from SIGTERM until the whole process group was gone */
  readonly durationMs: number
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** SIGKILL was needed after the grace period */
  readonly killed: boolean
  /** the drain delay the service logged (@zerodrop/lifecycle's "drain delay over" line), when it did */
  readonly drainDelay?: { readonly ms: number; readonly endedBy: string }
}

export interface InstanceEvents {
  /** readiness changed (probe-driven; never called once terminating) */
  onReadiness(instance: Instance, ready: boolean, detail: string): void
  /** the process exited while it was not being terminated; it will be restarted after a back-off */
  onCrash(instance: Instance, exit: InstanceExit): void
  /** the process could not be spawned at all */
  onSpawnError(instance: Instance, error: Error): void
  /** a line worth a progress message (restart, liveness failure) */
  onEvent(instance: Instance, message: string): void
  /**
   * the instance cannot start: its startup probe failed its whole budget, or it exited
   * `CRASH_LOOP_EXITS` times in a row without becoming ready (CrashLoopBackOff). It keeps being
   * restarted, as the kubelet would; whether to wait is the caller's choice.
   */
  onCannotStart(instance: Instance, reason: string): void
}

export interface InstanceConfig {
  readonly id: string
  readonly revision: ResolvedRevision
  readonly host: string
  readonly port: number
  readonly probes: ResolvedProbes
  readonly terminationGracePeriodMs: number
  readonly logFile: string
  readonly events: InstanceEvents
}

/** exits in a row without becoming ready in between that make a crash loop */
export const CRASH_LOOP_EXITS = 3

/**
 * Process groups this process has started and not yet seen gone: killed on exit as a last resort,
 * and watched by the parent-death watch (watchdog.ts) in case this process dies without exiting.
 */
const liveGroups = new Set<number>()

function trackGroup(pgid: number, graceMs: number): void {
  liveGroups.add(pgid)
  watchGroup(pgid, graceMs)
}

function forgetGroup(pgid: number): void {
  if (liveGroups.delete(pgid)) unwatchGroup(pgid)
}
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', killAllInstancesSync)
}

/** SIGKILL every process group the fleet started and has not seen end. Safe to call twice. */
export function killAllInstancesSync(): number {
  let n = 0
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL')
      n++
    } catch {
      // already gone
    }
    forgetGroup(pgid)
  }
  return n
}

/** Process group ids the fleet started that may still be running. */
export function liveProcessGroups(): number[] {
  return [...liveGroups]
}

/**
 * True while any process of the group is alive. Zombies do not count: an orphaned member may
 * wait for a reaper that never comes (PID 1 in a container often does not reap).
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  // the common case: the leader itself still runs (one file read, not a scan of /proc)
  const leader = procState(pgid)
  if (leader !== undefined && leader.pgrp === pgid && leader.state !== 'Z' && leader.state !== 'X') return true
  let entries: string[]
  try {
    entries = fs.readdirSync('/proc')
  } catch {
    return true
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    const p = procState(Number(entry))
    if (p !== undefined && p.pgrp === pgid && p.state !== 'Z' && p.state !== 'X') return true
  }
  return false
}

function procState(pid: number): { state: string; pgrp: number } | undefined {
  let stat: string
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // pid (comm) state ppid pgrp ... — comm may contain spaces and parentheses
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { state: fields[0] ?? '', pgrp: Number(fields[2]) }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal)
  } catch {
    // the group is gone
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/**
 * One instance of a revision: a child process in its own process group (`detached`), so SIGTERM
 * reaches the service even behind `sh -c` or `npm start`, which do not forward signals. The
 * kubelet's part is played here too: probes, restart with back-off after a crash or a liveness
 * failure, SIGTERM then SIGKILL after the grace period.
 */
export class Instance {
  readonly id: string
  readonly revision: ResolvedRevision
  readonly host: string
  readonly port: number
  readonly logFile: string
  readonly createdAt = Date.now()
  #config: InstanceConfig
  #child: ChildProcess | undefined
  #pgid: number | undefined
  #probes: ProbeRunner | undefined
  #state: InstanceState = 'starting'
  #started = false
  #everStarted = false
  #ready = false
  #readySince: number | undefined
  #restarts = 0
  #spawnedAt = 0
  #exits: InstanceExit[] = []
  #restartTimer: NodeJS.Timeout | undefined
  #exited: Promise<InstanceExit> | undefined
  #termination: Promise<TerminationResult> | undefined
  #terminatingSince: number | undefined
  #restarting = false
  /** exits since the instance was last ready */
  #exitsUnready = 0
  readonly pids: number[] = []

  constructor(config: InstanceConfig) {
    this.#config = config
    this.id = config.id
    this.revision = config.revision
    this.host = config.host
    this.port = config.port
    this.logFile = config.logFile
    installExitHook()
  }

  get state(): InstanceState {
    return this.#state
  }

  get ready(): boolean {
    return this.#ready
  }

  get readySince(): number | undefined {
    return this.#readySince
  }

  get restarts(): number {
    return this.#restarts
  }

  get everStarted(): boolean {
    return this.#everStarted
  }

  get exits(): readonly InstanceExit[] {
    return this.#exits
  }

  get pid(): number | undefined {
    return this.#child?.pid
  }

  get terminatingSince(): number | undefined {
    return this.#terminatingSince
  }

  /** Ready for at least `minReadyMs` (a Deployment's `minReadySeconds`). */
  available(minReadyMs: number, now = Date.now()): boolean {
    return this.#ready && this.#readySince !== undefined && now - this.#readySince >= minReadyMs
  }

  start(): void {
    if (this.#state === 'terminating' || this.#state === 'stopped') return
    this.#started = false
    this.#state = 'starting'
    fs.mkdirSync(path.dirname(this.logFile), { recursive: true })
    fs.appendFileSync(
      this.logFile,
      `--- zerodrop: ${this.#restarts === 0 ? 'start' : `restart ${this.#restarts}`} id=${this.id} port=${this.port} command=${JSON.stringify(this.revision.display)} at=${new Date().toISOString()}\n`,
    )
    const fd = fs.openSync(this.logFile, 'a')
    const [file, ...args] = this.revision.argv
    let child: ChildProcess
    try {
      child = spawn(file ?? 'sh', args, {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: { ...process.env, ...this.revision.env, ...watchEnv(this.#config.terminationGracePeriodMs), PORT: String(this.port), HOST: this.host },
      })
    } catch (err) {
      fs.closeSync(fd)
      this.#state = 'stopped'
      this.#config.events.onSpawnError(this, err as Error)
      return
    }
    fs.closeSync(fd)
    this.#child = child
    this.#spawnedAt = Date.now()
    if (child.pid !== undefined) {
      this.#pgid = child.pid
      this.pids.push(child.pid)
      trackGroup(child.pid, this.#config.terminationGracePeriodMs)
    }
    this.#exited = new Promise<InstanceExit>((resolve) => {
      let spawnFailed = false
      child.once('error', (err) => {
        // spawn failure (ENOENT, EACCES): 'exit' may never come
        if (child.pid === undefined) {
          spawnFailed = true
          this.#state = 'stopped'
          this.#probes?.stop()
          resolve({ code: null, signal: null, ranMs: 0, beforeStarted: true })
          this.#config.events.onSpawnError(this, err)
        }
      })
      child.once('exit', (code, signal) => {
        if (spawnFailed) return
        const exit: InstanceExit = { code, signal, ranMs: Date.now() - this.#spawnedAt, beforeStarted: !this.#started }
        this.#exits.push(exit)
        resolve(exit)
        this.#onExit(exit)
      })
    })
    if (child.pid === undefined) return
    this.#probes = new ProbeRunner(this.host, this.port, this.#config.probes, {
      onStarted: () => {
        this.#started = true
        this.#everStarted = true
        if (this.#state === 'starting') this.#state = 'running'
      },
      onReadiness: (ready, detail) => this.#setReady(ready, detail),
      onStartupFailed: (detail) => {
        const reason = `startup probe failed ${this.#config.probes.startup.failureThreshold} times (last: ${detail})`
        this.#config.events.onCannotStart(this, reason)
        this.#restart(reason)
      },
      onLivenessFailed: (detail) => this.#restart(`liveness probe failed ${this.#config.probes.liveness.failureThreshold} times (last: ${detail})`),
    })
    this.#probes.start()
  }

  #setReady(ready: boolean, detail: string): void {
    if (this.#state === 'terminating' || this.#state === 'stopped') return
    if (this.#ready === ready) return
    this.#ready = ready
    this.#readySince = ready ? Date.now() : undefined
    if (ready) this.#exitsUnready = 0
    this.#config.events.onReadiness(this, ready, detail)
  }

  #onExit(exit: InstanceExit): void {
    this.#probes?.stop()
    if (this.#restarting || this.#state === 'terminating' || this.#state === 'stopped') return
    this.#setReady(false, `exited (code ${String(exit.code)}, signal ${String(exit.signal)})`)
    this.#config.events.onCrash(this, exit)
    if ((this.#state as InstanceState) === 'stopped') return
    this.#exitsUnready++
    if (this.#exitsUnready === CRASH_LOOP_EXITS) {
      this.#config.events.onCannotStart(this, `crash loop: exited ${CRASH_LOOP_EXITS} times without becoming ready (last: code ${String(exit.code)}, signal ${String(exit.signal)}, after ${exit.ranMs} ms)`)
    }
    // whatever the leader left behind goes with it, as when a container's PID 1 exits
    const pgid = this.#pgid
    if (pgid !== undefined) {
      signalGroup(pgid, 'SIGKILL')
      void (async () => {
        const deadline = Date.now() + 5000
        while (groupAlive(pgid) && Date.now() < deadline) await sleep(20)
        forgetGroup(pgid)
      })()
    }
    // CrashLoopBackOff, scaled down for one machine: 250 ms doubling up to 5 s
    const backoff = Math.min(250 * 2 ** this.#restarts, 5000)
    this.#restarts++
    this.#config.events.onEvent(this, `instance ${this.id} exited (code ${String(exit.code)}, signal ${String(exit.signal)}); restarting in ${backoff} ms`)
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined
      this.start()
    }, backoff)
  }

  /** The kubelet kills a container whose startup or liveness probe failed, then starts it again. */
  #restart(reason: string): void {
    if (this.#restarting || this.#state === 'terminating' || this.#state === 'stopped') return
    this.#config.events.onEvent(this, `instance ${this.id} ${reason}; restarting`)
    this.#probes?.stop()
    this.#setReady(false, reason)
    const pgid = this.#pgid
    if (pgid === undefined) return
    this.#restarting = true
    this.#state = 'starting'
    void this.#stopGroup(pgid).then(() => {
      this.#restarting = false
      if (this.#terminatingSince !== undefined) return // a real termination began meanwhile
      this.#restarts++
      this.start()
    })
  }

  async #stopGroup(pgid: number): Promise<{ killed: boolean }> {
    signalGroup(pgid, 'SIGTERM')
    const deadline = Date.now() + this.#config.terminationGracePeriodMs
    while (groupAlive(pgid)) {
      if (Date.now() >= deadline) {
        signalGroup(pgid, 'SIGKILL')
        while (groupAlive(pgid) && Date.now() < deadline + 5000) await sleep(20)
        forgetGroup(pgid)
        return { killed: true }
      }
      await sleep(25)
    }
    forgetGroup(pgid)
    return { killed: false }
  }

  /**
   * SIGTERM to the process group, SIGKILL to the group after the grace period; resolves when no
   * process of the group is left. Taking the instance out of the router is the caller's job.
   */
  terminate(): Promise<TerminationResult> {
    if (this.#termination) return this.#termination
    this.#terminatingSince = Date.now()
    this.#state = 'terminating'
    this.#ready = false
    this.#readySince = undefined
    this.#probes?.stop()
    if (this.#restartTimer) clearTimeout(this.#restartTimer)
    const started = Date.now()
    const pgid = this.#pgid
    const exited = this.#exited
    this.#termination = (async (): Promise<TerminationResult> => {
      if (pgid === undefined || !groupAlive(pgid)) {
        if (pgid !== undefined) forgetGroup(pgid)
        this.#state = 'stopped'
        const last = this.#exits.at(-1)
        return { durationMs: 0, code: last?.code ?? null, signal: last?.signal ?? null, killed: false }
      }
      const { killed } = await this.#stopGroup(pgid)
      const exit = exited ? await Promise.race([exited, sleep(1000).then(() => undefined)]) : undefined
      this.#state = 'stopped'
      const drainDelay = this.#loggedDrainDelay()
      return { durationMs: Date.now() - started, code: exit?.code ?? null, signal: exit?.signal ?? null, killed, ...(drainDelay ? { drainDelay } : {}) }
    })()
    return this.#termination
  }

  /** Immediate SIGKILL of the group (cleanup after an error or an abort). */
  async kill(): Promise<void> {
    this.#terminatingSince ??= Date.now()
    this.#state = 'stopped'
    this.#ready = false
    this.#probes?.stop()
    if (this.#restartTimer) clearTimeout(this.#restartTimer)
    const pgid = this.#pgid
    if (pgid === undefined) return
    signalGroup(pgid, 'SIGKILL')
    const deadline = Date.now() + 5000
    while (groupAlive(pgid) && Date.now() < deadline) await sleep(20)
    forgetGroup(pgid)
  }

  /** The last drain delay a @zerodrop/lifecycle service logged (a JSON line with drainDelayMs and endedBy). */
  #loggedDrainDelay(): { ms: number; endedBy: string } | undefined {
    let found: { ms: number; endedBy: string } | undefined
    try {
      for (const line of fs.readFileSync(this.logFile, 'utf8').split('\n')) {
        if (!line.includes('"drainDelayMs"') || !line.includes('"endedBy"')) continue
        const o = JSON.parse(line) as { drainDelayMs?: unknown; endedBy?: unknown }
        if (typeof o.drainDelayMs === 'number' && typeof o.endedBy === 'string') found = { ms: o.drainDelayMs, endedBy: o.endedBy }
      }
    } catch {
      // no log, or a line that only looked like one: the report shows no delay
    }
    return found
  }

  /** The last `lines` lines of the instance's log, for error messages. */
  logTail(lines = 8): string {
    try {
      const text = fs.readFileSync(this.logFile, 'utf8')
      return text.trimEnd().split('\n').slice(-lines).join('\n')
    } catch {
      return ''
    }
  }
}
