#!/usr/bin/env node
// The fleet's parent-death watch (runtime/watchdog.ts starts it; docs/architecture.md "No orphans").
// Its stdin is a pipe from the supervising process: lines `+<pgid> <graceMs>`, `-<pgid>`, and
// `~<graceMs>` before each spawn (the grace of a marked process it was never told about).
// EOF means the supervisor is gone, however it went (SIGKILL included): every process group
// still listed gets SIGTERM, and SIGKILL once its grace period is over; then this process exits.
import fs from 'node:fs'
import { groupAlive } from '../runtime/instance.js'
import { WATCH_ENV } from '../runtime/watchdog.js'

// argv[2]: the marker every instance of the supervisor carries in its environment
const marker = process.argv[2] === undefined ? undefined : Buffer.from(`${WATCH_ENV}=${process.argv[2]}\0`)

const groups = new Map<number, number>()
let buffered = ''

function signal(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig)
  } catch {
    // the group is gone
  }
}

/** the grace of a marked process that was never registered: the longest announced (`~<graceMs>`) */
let markedGraceMs = 0

function onLine(line: string): void {
  const announced = /^~(\d+)$/.exec(line.trim())
  if (announced) {
    markedGraceMs = Math.max(markedGraceMs, Number(announced[1]))
    return
  }
  const m = /^([+-])(\d+)(?: (\d+))?$/.exec(line.trim())
  if (!m) return
  const pgid = Number(m[2])
  if (m[1] === '+') groups.set(pgid, Number(m[3] ?? 30_000))
  else groups.delete(pgid)
}

/**
 * Process groups of processes that carry the supervisor's marker but were never registered: an
 * instance forked just as the supervisor was SIGKILLed, before it could say so (Linux /proc only).
 */
function markedGroups(): number[] {
  if (marker === undefined) return []
  let entries: string[]
  try {
    entries = fs.readdirSync('/proc')
  } catch {
    return []
  }
  const found = new Set<number>()
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (!fs.readFileSync(`/proc/${entry}/environ`).includes(marker)) continue
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8')
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2])
      if (pgrp > 1) found.add(pgrp)
    } catch {
      // gone, or not ours to read
    }
  }
  return [...found]
}

function reap(): void {
  const start = Date.now()
  const left = new Map(groups)
  for (const pgid of markedGroups()) if (!left.has(pgid)) left.set(pgid, markedGraceMs)
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
