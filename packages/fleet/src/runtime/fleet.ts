import path from 'node:path'
import { FleetError, InstanceExitedError, InstanceSpawnError, PortUnavailableError } from '../core/errors.js'
import { Instance, type InstanceExit, type TerminationResult } from './instance.js'
import type { ResolvedDeployOptions, ResolvedRevision } from '../options/deploy.js'
import { freePort, LOOPBACK } from '../core/ports.js'
import type { Router } from '../router/types.js'

export interface RevisionCounts {
  /** instances that exist and are not terminating (a ReplicaSet's `replicas`) */
  readonly total: number
  readonly ready: number
  /** ready for at least minReadySeconds */
  readonly available: number
  /** SIGTERM sent, process group not gone yet */
  readonly terminating: number
}

export interface FleetEvent {
  /** ms since the fleet was created */
  readonly t: number
  readonly instance: string
  readonly revision: string
  readonly event: 'created' | 'ready' | 'unready' | 'crashed' | 'sigterm' | 'removed-from-router' | 'terminated' | 'killed' | 'note'
  readonly detail?: string
}

export interface InstanceRecord {
  readonly id: string
  readonly revision: string
  readonly port: number
  readonly pids: readonly number[]
  readonly logFile: string
  readonly restarts: number
  readonly exits: readonly InstanceExit[]
  readonly termination?: TerminationResult
}

/**
 * The instances of every revision and their membership in the router's pool — the parts of
 * Kubernetes a Deployment sits on: ReplicaSets, the kubelet, the endpoints controller.
 */
export class Fleet {
  readonly #options: ResolvedDeployOptions
  readonly #router: Router
  readonly #runDir: string
  readonly #progress: (message: string) => void
  readonly #instances: Instance[] = []
  readonly #terminations = new Map<Instance, Promise<TerminationResult>>()
  readonly #results = new Map<Instance, TerminationResult>()
  readonly #removalTimers = new Set<NodeJS.Timeout>()
  readonly #waiters = new Set<() => void>()
  readonly #seq = new Map<string, number>()
  readonly events: FleetEvent[] = []
  readonly t0 = Date.now()
  #fatal: FleetError | undefined
  readonly #cannotStart = new Map<string, string>()

  constructor(options: ResolvedDeployOptions, router: Router, runDir: string, progress: (message: string) => void) {
    this.#options = options
    this.#router = router
    this.#runDir = runDir
    this.#progress = progress
  }

  /**
   * Why `revision` cannot start (an instance failed its startup probe budget or crash-looped),
   * with that instance's log tail; strategies give up on it at once instead of waiting for the
   * progress deadline, which keeps its Kubernetes meaning: slow progress.
   */
  cannotStart(revision: string): string | undefined {
    return this.#cannotStart.get(revision)
  }

  /** A usage-level failure seen by an instance (spawn error, a command that exits at once). */
  get fatal(): FleetError | undefined {
    return this.#fatal
  }

  #event(instance: Instance, event: FleetEvent['event'], detail?: string): void {
    this.events.push({ t: Date.now() - this.t0, instance: instance.id, revision: instance.revision.name, event, ...(detail === undefined ? {} : { detail }) })
    this.#wake()
  }

  #wake(): void {
    for (const w of this.#waiters) w()
    this.#waiters.clear()
  }

  /** Resolves at the next change of any instance, or after `ms`. */
  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#waiters.delete(done)
        resolve()
      }, ms)
      const done = (): void => {
        clearTimeout(t)
        resolve()
      }
      this.#waiters.add(done)
    })
  }

  async create(revision: ResolvedRevision): Promise<Instance> {
    const n = this.#seq.get(revision.name) ?? 0
    this.#seq.set(revision.name, n + 1)
    const id = `${revision.name}-${n}`
    const port = await freePort(LOOPBACK)
    const instance = new Instance({
      id,
      revision,
      host: LOOPBACK,
      port,
      probes: this.#options.probes,
      terminationGracePeriodMs: this.#options.terminationGracePeriodSeconds * 1000,
      logFile: path.join(this.#runDir, `${id}.log`),
      events: {
        onReadiness: (inst, ready, detail) => {
          if (ready) {
            this.#router.add({ id: inst.id, revision: inst.revision.name, host: inst.host, port: inst.port })
          } else {
            this.#router.remove(inst.id)
          }
          this.#event(inst, ready ? 'ready' : 'unready', detail)
        },
        onCrash: (inst, exit) => this.#onCrash(inst, exit),
        onSpawnError: (inst, error) => {
          this.#fatal ??= new InstanceSpawnError(
            `--${inst.revision.option}: expected a command that can be started, instead '${inst.revision.display}' could not be spawned (${(error as NodeJS.ErrnoException).code ?? error.message}); instance ${inst.id}, log ${inst.logFile}`,
            error,
            inst.revision.option,
          )
          this.#event(inst, 'crashed', error.message)
        },
        onCannotStart: (inst, reason) => {
          if (!this.#cannotStart.has(inst.revision.name)) {
            const tail = inst.logTail()
            this.#cannotStart.set(
              inst.revision.name,
              `${inst.revision.name} cannot start: instance ${inst.id} (port ${inst.port}): ${reason}; log ${inst.logFile}` + (tail ? `\n--- last lines of ${inst.id}'s log ---\n${tail}` : ''),
            )
          }
          this.#progress(`instance ${inst.id} cannot start: ${reason}`)
          this.#event(inst, 'note', `cannot start: ${reason}`)
        },
        onEvent: (inst, message) => {
          this.#progress(message)
          this.#event(inst, 'note', message)
        },
      },
    })
    this.#instances.push(instance)
    this.#event(instance, 'created', `port ${port}`)
    instance.start()
    return instance
  }

  #onCrash(instance: Instance, exit: InstanceExit): void {
    this.#event(instance, 'crashed', `code ${String(exit.code)} signal ${String(exit.signal)} after ${exit.ranMs} ms`)
    // A command that exits before it ever started, on its first run and before any instance of its
    // revision started, is a usage error (exit 64): a typo, a missing file, a port it cannot bind.
    const tail = instance.logTail(20)
    if (exit.beforeStarted && /EADDRINUSE/.test(tail) && this.#fatal === undefined) {
      this.#fatal = new PortUnavailableError(
        `--${instance.revision.option}: expected '${instance.revision.display}' to listen on the port in $PORT (${instance.port}) on 127.0.0.1, ` +
          `instead it exited because a port could not be bound (EADDRINUSE); does it ignore $PORT? instance ${instance.id}, log ${instance.logFile}\n--- last lines of the log ---\n${instance.logTail()}`,
        undefined,
        instance.revision.option,
      )
      return
    }
    const siblingsStarted = this.#instances.some((i) => i.revision.name === instance.revision.name && i.everStarted)
    if (exit.beforeStarted && instance.restarts === 0 && !siblingsStarted && this.#fatal === undefined) {
      this.#fatal = new InstanceExitedError(
        `--${instance.revision.option}: expected a command that starts a server on $PORT, instead '${instance.revision.display}' exited at once ` +
          `(code ${String(exit.code)}, signal ${String(exit.signal)}, after ${exit.ranMs} ms) before its startup probe passed; instance ${instance.id}, port ${instance.port}, log ${instance.logFile}` +
          (tail ? `\n--- last lines of the log ---\n${tail}` : ''),
        instance.revision.option,
      )
    }
  }

  /**
   * Terminate as Kubernetes does: SIGTERM now, out of the router's pool `endpointDelayMs` later
   * (the endpoints update races the signal: kubernetes/kubernetes#86280), SIGKILL after the
   * grace period. Resolves when the process group is gone.
   */
  terminate(instance: Instance): Promise<TerminationResult> {
    const existing = this.#terminations.get(instance)
    if (existing) return existing
    this.#event(instance, 'sigterm')
    const remove = (): void => {
      if (this.#router.endpoints().some((e) => e.id === instance.id)) {
        this.#router.remove(instance.id)
        this.#event(instance, 'removed-from-router')
      }
    }
    if (this.#options.endpointDelayMs === 0) remove()
    else {
      const t = setTimeout(() => {
        this.#removalTimers.delete(t)
        remove()
      }, this.#options.endpointDelayMs)
      this.#removalTimers.add(t)
    }
    const p = instance.terminate().then((r) => {
      this.#results.set(instance, r)
      this.#event(instance, r.killed ? 'killed' : 'terminated', `code ${String(r.code)} signal ${String(r.signal)} after ${r.durationMs} ms`)
      return r
    })
    this.#terminations.set(instance, p)
    return p
  }

  /** Instances of `revision` that are not terminating or stopped (a ReplicaSet's pods). */
  live(revision: string): Instance[] {
    return this.#instances.filter((i) => i.revision.name === revision && i.terminatingSince === undefined)
  }

  counts(revision: string, minReadyMs: number): RevisionCounts {
    const now = Date.now()
    const live = this.live(revision)
    const terminating = this.#instances.filter((i) => i.revision.name === revision && i.terminatingSince !== undefined && !this.#results.has(i)).length
    return {
      total: live.length,
      ready: live.filter((i) => i.ready).length,
      available: live.filter((i) => i.available(minReadyMs, now)).length,
      terminating,
    }
  }

  /** Wait for every termination begun so far. */
  async settled(): Promise<void> {
    await Promise.all(this.#terminations.values())
  }

  all(): readonly Instance[] {
    return this.#instances
  }

  records(): InstanceRecord[] {
    return this.#instances.map((i) => {
      const termination = this.#results.get(i)
      return {
        id: i.id,
        revision: i.revision.name,
        port: i.port,
        pids: [...i.pids],
        logFile: i.logFile,
        restarts: i.restarts,
        exits: [...i.exits],
        ...(termination ? { termination } : {}),
      }
    })
  }

  /** SIGKILL everything still running (after the load stopped, on error, on abort). */
  async killAll(): Promise<void> {
    for (const t of this.#removalTimers) clearTimeout(t)
    this.#removalTimers.clear()
    await Promise.all(this.#instances.map((i) => i.kill()))
    this.#wake()
  }
}
