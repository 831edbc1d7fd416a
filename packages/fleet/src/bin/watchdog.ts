#!/usr/bin/env node
// The fleet's parent-death watch (runtime/watchdog.ts starts it; docs/architecture.md "No orphans").
// Its stdin is a pipe from the supervising process: lines `+<pgid> <graceMs>` and `-<pgid>`.
// EOF means the supervisor is gone, however it went (SIGKILL included): every process group
// still listed gets SIGTERM, and SIGKILL once its grace period is over; then this process exits.
import { groupAlive } from '../runtime/instance.js'

const groups = new Map<number, number>()
let buffered = ''

function signal(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig)
  } catch {
    // the group is gone
  }
}

function onLine(line: string): void {
  const m = /^([+-])(\d+)(?: (\d+))?$/.exec(line.trim())
  if (!m) return
  const pgid = Number(m[2])
  if (m[1] === '+') groups.set(pgid, Number(m[3] ?? 30_000))
  else groups.delete(pgid)
}

function reap(): void {
  const start = Date.now()
  const left = new Map(groups)
  for (const pgid of left.keys()) if (groupAlive(pgid)) signal(pgid, 'SIGTERM')
  const timer = setInterval(() => {
    const elapsed = Date.now() - start
    for (const [pgid, graceMs] of left) {
      if (!groupAlive(pgid)) left.delete(pgid)
      else if (elapsed >= graceMs) signal(pgid, 'SIGKILL')
    }
    if (left.size === 0) {
      clearInterval(timer)
      process.exit(0)
    }
  }, 50)
}

// the supervisor's own signals must not stop the watch before it did its job
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, () => {})
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk: string) => {
  buffered += chunk
  let i: number
  while ((i = buffered.indexOf('\n')) >= 0) {
    onLine(buffered.slice(0, i))
    buffered = buffered.slice(i + 1)
  }
})
process.stdin.on('end', reap)
process.stdin.on('error', reap)
