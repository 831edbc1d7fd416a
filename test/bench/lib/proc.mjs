// Child processes for the bench: every server and the load generator in its own process,
// pinned to its own CPU with taskset where it exists. Killed by PID only.
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url))
export const ROOT = fileURLToPath(new URL('../../..', import.meta.url))

const cpus = (await import('node:os')).availableParallelism()
export const TASKSET = cpus >= 2 && spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0
/** The server under test runs on CPU 0, the load generator (and this harness) on CPU 1. */
export const SERVER_CPU = 0
export const LOAD_CPU = 1

const children = new Set()

/** Pins this process (the harness itself) to `cpu`; a no-op without taskset. */
export function pinSelf(cpu) {
  if (TASKSET) spawnSync('taskset', ['-cp', String(cpu), String(process.pid)], { stdio: 'ignore' })
}

/** Moves a running process, every thread of it, to `cpu`; a no-op without taskset. */
export function pinProcess(pid, cpu) {
  if (TASKSET) spawnSync('taskset', ['-a', '-cp', String(cpu), String(pid)], { stdio: 'ignore' })
}

/**
 * Starts `node script` with an IPC channel. `cpu` pins it (taskset execs node, so the PID is node's).
 * Resolves when the child sends its first message (`{ ready: true, ... }`).
 */
export function startChild(script, { env = {}, cpu, args = [], readyTimeoutMs = 20_000, nodeArgs = [], wrap = [] } = {}) {
  const argv = [...nodeArgs, script, ...args]
  // `wrap` runs node under another program that execs it in the same process (valgrind).
  const [cmd, cmdArgs] = wrap.length > 0
    ? [wrap[0], [...wrap.slice(1), process.execPath, ...argv]]
    : TASKSET && cpu !== undefined
      ? ['taskset', ['-c', String(cpu), process.execPath, ...argv]]
      : [process.execPath, argv]
  const child = spawn(cmd, cmdArgs, {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  children.add(child)
  let output = ''
  const keep = (d) => {
    output += d.toString()
    if (output.length > 20_000) output = output.slice(-10_000)
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  const pending = new Map()
  let seq = 0
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child)
      const at = performance.now()
      for (const p of pending.values()) p.reject(new Error(`${script} exited (code ${code}, signal ${signal}) before answering; output:\n${output}`))
      pending.clear()
      resolve({ code, signal, at })
    })
  })
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not report ready within ${readyTimeoutMs} ms; output:\n${output}`)), readyTimeoutMs)
    child.once('message', (m) => {
      clearTimeout(timer)
      resolve(m)
    })
    exited.then((e) => {
      clearTimeout(timer)
      reject(new Error(`${script} exited (code ${e.code}, signal ${e.signal}) before it was ready; output:\n${output}`))
    })
  })
  child.on('message', (m) => {
    if (m && m.id !== undefined && pending.has(m.id)) {
      const p = pending.get(m.id)
      pending.delete(m.id)
      if (m.error !== undefined) p.reject(new Error(`${script}: ${m.error}`))
      else p.resolve(m.result)
    }
  })
  return {
    child,
    pid: child.pid,
    ready,
    exited,
    output: () => output,
    /** Sends a command and waits for its answer. */
    call(cmd, args, timeoutMs = 120_000) {
      const id = ++seq
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id)
          reject(new Error(`${script}: '${cmd}' not answered within ${timeoutMs} ms`))
        }, timeoutMs)
        pending.set(id, {
          resolve: (v) => { clearTimeout(timer); resolve(v) },
          reject: (e) => { clearTimeout(timer); reject(e) },
        })
        child.send({ id, cmd, args })
      })
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGKILL')
      await exited
    },
  }
}

/** Kills every child still running (by PID); used on exit and on failure. */
export async function stopAll() {
  await Promise.all([...children].map((c) => {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    return new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', r)))
  }))
}
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
})
