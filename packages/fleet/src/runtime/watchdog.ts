import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'

// an entry point of its own (bin/), run once per supervising process
const WATCHDOG = fileURLToPath(new URL('../bin/watchdog.js', import.meta.url))

let watchdog: ChildProcess | undefined

/**
 * Every process this supervisor starts carries `ZERODROP_WATCH=<token>` in its environment, so the
 * watch also finds a group it was never told about: one forked in the moment between `spawn()` and
 * its registration, when a SIGKILL of this process lands right then (Linux, through /proc).
 */
export const WATCH_ENV = 'ZERODROP_WATCH'
const token = randomUUID()

/** The environment marker for a child about to be started (with its grace); starts the watch first if needed. */
export function watchEnv(graceMs: number): Record<string, string> {
  send(`~${Math.max(0, Math.round(graceMs))}\n`)
  return { [WATCH_ENV]: token }
}

/**
 * Tell the parent-death watch about a process group. The watch is a small process in its own
 * process group, holding the read end of a pipe from this process: when this process ends in any
 * way — SIGKILL from a CI job's timeout included, when no handler of ours runs — the pipe reaches
 * EOF and the watch stops every group still registered the Kubernetes way (SIGTERM, SIGKILL after
 * `graceMs`). Neither the watch nor the pipe keeps this process alive.
 */
export function watchGroup(pgid: number, graceMs: number): void {
  send(`+${pgid} ${Math.max(0, Math.round(graceMs))}\n`)
}

/** The group is gone: the watch forgets it (a reused id must never be signalled). */
export function unwatchGroup(pgid: number): void {
  if (watchdog !== undefined) send(`-${pgid}\n`)
}

function send(line: string): void {
  ensureWatchdog()
  watchdog?.stdin?.write(line)
}

function ensureWatchdog(): void {
  if (watchdog === undefined || watchdog.stdin === null || watchdog.stdin.destroyed) {
    const child = spawn(process.execPath, [WATCHDOG, token], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] })
    child.on('error', () => {
      watchdog = undefined
    })
    child.stdin?.on('error', () => {
      watchdog = undefined
    })
    child.unref()
    ;(child.stdin as unknown as { unref?: () => void } | null)?.unref?.()
    watchdog = child
  }
}

/** The watch's pid, for tests. */
export function watchdogPid(): number | undefined {
  return watchdog?.pid
}
