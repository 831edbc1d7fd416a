import { spawn, type ChildProcess } from 'node:child_process'
import { afterEach, expect, it } from 'vitest'
import { groupAlive } from '@zerodrop/fleet'
import { ROOT, waitFor } from '../helpers/process.js'

// The parent-death watch on its own: a process the supervisor forked but never got to register
// (SIGKILLed between spawn() and the registration) is still found by its environment marker and
// stopped with the announced grace; a process without the marker is left alone (the control).

const WATCHDOG = `${ROOT}packages/fleet/dist/bin/watchdog.js`
// ignores SIGTERM, so only the watch's SIGKILL after the grace ends it
const STUBBORN = "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"
const started: ChildProcess[] = []

afterEach(() => {
  for (const c of started) {
    try {
      if (c.pid !== undefined) process.kill(-c.pid, 'SIGKILL')
    } catch {
      // gone
    }
  }
  started.length = 0
})

function stubborn(env: Record<string, string>): number {
  const c = spawn(process.execPath, ['-e', STUBBORN], { detached: true, stdio: 'ignore', env: { ...process.env, ...env } })
  started.push(c)
  return c.pid!
}

it('finds an instance it was never told about by its marker, SIGKILLs it after the announced grace; leaves unmarked ones alone', async () => {
  const token = `test-${process.pid}-${Date.now()}`
  const watch = spawn(process.execPath, [WATCHDOG, token], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] })
  started.push(watch)
  watch.stdin!.write('~1000\n')
  const marked = stubborn({ ZERODROP_WATCH: token })
  const unmarked = stubborn({ ZERODROP_WATCH: 'someone-else' })
  await new Promise((r) => setTimeout(r, 300))
  const closedAt = Date.now()
  watch.stdin!.end() // the supervisor is gone
  await waitFor('the marked process group to be gone', 10_000, () => !groupAlive(marked))
  const ms = Date.now() - closedAt
  expect(ms, 'not before its grace (it ignores SIGTERM)').toBeGreaterThanOrEqual(900)
  expect(groupAlive(unmarked), 'a process without the marker is not the watch\'s').toBe(true)
})
