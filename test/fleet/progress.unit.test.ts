import { describe, expect, it } from 'vitest'
import { createProgress, formatStatus } from '#fleet/cli/progress.js'
import type { DeployStatus } from '#fleet/options/deploy.js'

const status: DeployStatus = {
  t: 12_345,
  phase: 'canary',
  step: 'setWeight 25: v2 to 1 instances',
  revisions: { v1: { ready: 3, available: 3, terminating: 0 }, v2: { ready: 1, available: 1, terminating: 1 } },
  rps: 338.4,
  requests: 4100,
  failed: 2,
}

function sink(isTTY: boolean, columns?: number): { out: string[]; stream: { write(s: string): void; isTTY: boolean; columns?: number } } {
  const out: string[] = []
  return { out, stream: { write: (s: string) => out.push(s), isTTY, ...(columns === undefined ? {} : { columns }) } }
}

describe('progress on stderr', () => {
  it('the status line: elapsed, phase, step, ready/available per revision, req/s, failed so far', () => {
    expect(formatStatus(status)).toBe('[  12.3 s] canary: setWeight 25: v2 to 1 instances | ready/available v1 3/3 v2 1/1 (1 terminating) | 338 req/s | 2 failed of 4100')
  })

  it('not a terminal: event lines only, no status, no control character', () => {
    const { out, stream } = sink(false)
    const p = createProgress(stream, { quiet: false })
    expect(p.status).toBeUndefined()
    p.event({ t: 1500, message: 'rollout: start' })
    p.end()
    expect(out.join('')).toBe('[   1.5 s] rollout: start\n')
  })

  it('a terminal: the status line is redrawn in place, events scroll above it, end() clears it', () => {
    const { out, stream } = sink(true, 200)
    const p = createProgress(stream, { quiet: false })
    p.status?.(status)
    p.event({ t: 13_000, message: 'analysis: start' })
    p.end()
    const line = formatStatus(status)
    expect(out).toEqual([`\r\x1b[2K${line}`, `\r\x1b[2K[  13.0 s] analysis: start\n${line}`, '\r\x1b[2K'])
  })

  it('a narrow terminal: the status line is cut to fit, so it never wraps (a wrapped line cannot be redrawn)', () => {
    const { out, stream } = sink(true, 40)
    createProgress(stream, { quiet: false }).status?.(status)
    expect(out[0]?.replace('\r\x1b[2K', '')).toHaveLength(39)
    expect(out[0]?.endsWith('…')).toBe(true)
  })

  it('--quiet: no progress; the CLI\'s own lines (a signal) still', () => {
    const { out, stream } = sink(true, 200)
    const p = createProgress(stream, { quiet: true })
    expect(p.status).toBeUndefined()
    p.event({ t: 1, message: 'x' })
    p.line('zerodrop: SIGINT: stopping every instance (again to force)')
    p.end()
    expect(out).toEqual(['zerodrop: SIGINT: stopping every instance (again to force)\n'])
  })
})
