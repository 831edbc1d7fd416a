import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import http from 'node:http'
import https from 'node:https'
import { VerifyTargetError } from '../core/errors.js'
import { resolveVerifyOptions, type ResolvedVerifyOptions, type VerifyOptions } from '../options/verify.js'
import { startVerifyLoad, type VerifyRecord } from './client.js'
import { probeH2, startVerifyLoadH2 } from './h2.js'

/** 0 zero dropped and the command succeeded; 1 dropped; 3 zero dropped but the command failed; 64 usage; 130 interrupted by SIGINT, 143 by SIGTERM (as deploy). */
export const VERIFY_EXIT_CODES = Object.freeze({ ok: 0, dropped: 1, commandFailed: 3, usage: 64, interrupted: 130, terminated: 143 })
export type VerifyExitCode = (typeof VERIFY_EXIT_CODES)[keyof typeof VERIFY_EXIT_CODES]

export interface VerifyRunOptions extends VerifyOptions {
  readonly signal?: AbortSignal
  readonly onProgress?: (e: { t: number; message: string }) => void
  /** where the command's (and `until`'s) output goes. @default the CLI's own stdout and stderr */
  readonly stdio?: StdioOptions
}

export interface VerifySecond {
  /** second since the load started */
  readonly t: number
  readonly requests: number
  readonly ok: number
  /** requests not answered 2xx, plus connections refused in this second */
  readonly dropped: number
  /** ok answers per version (with a version header) */
  readonly byVersion: Readonly<Record<string, number>>
}

export interface VerifyEvent {
  readonly t: number
  readonly message: string
}

export interface VerifyResult {
  readonly options: ResolvedVerifyOptions
  readonly dropped: number
  readonly exitCode: VerifyExitCode
  readonly verdict: string
  readonly requests: number
  readonly ok: number
  readonly non2xx: { readonly lb: number; readonly app: number }
  readonly lost: number
  readonly reset: number
  readonly refused: number
  readonly timeout: number
  readonly refusedConnections: number
  /** HTTP/2: requests whose first stream the server refused unprocessed, sent again on a new session (not drops; their final outcome is counted above) */
  readonly refusedStreamsRetried: number
  readonly byStatus: Readonly<Record<string, number>>
  readonly byVersion: Readonly<Record<string, number>>
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number }
  readonly command: {
    readonly argv: readonly string[]
    /** null: it could not start, or it ended by a signal */
    readonly exitCode: number | null
    readonly signal: string | null
    /** why it could not start */
    readonly error: string | undefined
    readonly durationMs: number
    /** the rollout hit --duration and the command was sent SIGTERM */
    readonly timedOut: boolean
  }
  readonly until: { readonly command: string; readonly polls: number; readonly succeeded: boolean } | undefined
  readonly interrupted: boolean
  readonly timing: { readonly startedAt: string; readonly commandStartMs: number; readonly rolloutEndMs: number; readonly loadMs: number; readonly stopMs: number }
  readonly events: readonly VerifyEvent[]
  /** every request that was not answered 2xx, in order (at most 200) */
  readonly failures: readonly VerifyRecord[]
  readonly perSecond: readonly VerifySecond[]
}

/** Sends one request as the load will and resolves with its status, or rejects with why it failed. */
function probe(o: ResolvedVerifyOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const isHttps = o.url.protocol === 'https:'
    const req = (isHttps ? https : http).request(
      o.url,
      {
        method: o.method,
        headers: o.headers,
        timeout: o.timeoutMs,
        agent: false,
        ...(isHttps ? { rejectUnauthorized: !o.insecure, ...(o.ca === undefined ? {} : { ca: o.ca }) } : {}),
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)))
    req.on('error', reject)
    req.end(o.body)
  })
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0
}

/** The count of the load's records, by the fleet's rules: dropped = every request not answered 2xx, plus every refused connection. */
export function tally(records: readonly VerifyRecord[]): Pick<VerifyResult, 'requests' | 'ok' | 'non2xx' | 'lost' | 'reset' | 'refused' | 'timeout' | 'refusedConnections' | 'refusedStreamsRetried' | 'dropped' | 'byStatus' | 'byVersion' | 'latencyMs' | 'failures' | 'perSecond'> {
  let ok = 0
  let lb = 0
  let app = 0
  let lost = 0
  let reset = 0
  let refused = 0
  let timeout = 0
  let refusedConnections = 0
  let refusedStreamsRetried = 0
  const byStatus: Record<string, number> = {}
  const byVersion: Record<string, number> = {}
  const latencies: number[] = []
  const failures: VerifyRecord[] = []
  const seconds: Array<{ t: number; requests: number; ok: number; dropped: number; byVersion: Record<string, number> }> = []
  for (const r of records) {
    const s = Math.floor(r.start / 1000)
    while (seconds.length <= s) seconds.push({ t: seconds.length, requests: 0, ok: 0, dropped: 0, byVersion: {} })
    const sec = seconds[s]!
    if (r.outcome !== 'refusedConnection') sec.requests++
    if (r.retried === true) refusedStreamsRetried++
    if (r.status !== undefined) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1
    if (r.outcome === 'ok') {
      ok++
      sec.ok++
      latencies.push(r.end - r.start)
      if (r.version !== undefined) {
        byVersion[r.version] = (byVersion[r.version] ?? 0) + 1
        sec.byVersion[r.version] = (sec.byVersion[r.version] ?? 0) + 1
      }
      continue
    }
    sec.dropped++
    if (failures.length < 200) failures.push(r)
    if (r.outcome === 'non2xx') {
      if (r.side === 'lb') lb++
      else app++
    } else if (r.outcome === 'lost') lost++
    else if (r.outcome === 'reset') reset++
    else if (r.outcome === 'refused') refused++
    else if (r.outcome === 'timeout') timeout++
    else refusedConnections++
  }
  latencies.sort((a, b) => a - b)
  const requests = records.length - refusedConnections
  return {
    requests,
    ok,
    non2xx: { lb, app },
    lost,
    reset,
    refused,
    timeout,
    refusedConnections,
    refusedStreamsRetried,
    // ok + non2xx + lost + reset + refused + timeout = requests; a refused connection carried none
    dropped: requests - ok + refusedConnections,
    byStatus,
    byVersion,
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? 0 },
    failures,
    perSecond: seconds,
  }
}

/** `interrupted`: false, or the signal that stopped the run (an abort without one counts as SIGINT). */
export function verifyExitCode(dropped: number, commandOk: boolean, expectDrops: boolean, interrupted: false | string): VerifyExitCode {
  if (interrupted !== false) return interrupted === 'SIGTERM' ? VERIFY_EXIT_CODES.terminated : VERIFY_EXIT_CODES.interrupted
  const asExpected = expectDrops ? dropped > 0 : dropped === 0
  if (!asExpected) return VERIFY_EXIT_CODES.dropped
  return commandOk ? VERIFY_EXIT_CODES.ok : VERIFY_EXIT_CODES.commandFailed
}

interface Exit {
  readonly code: number | null
  readonly signal: string | null
  readonly error: string | undefined
}

/** Runs argv in its own process group (so a SIGTERM reaches whatever it starts); never rejects. */
function run(argv: readonly string[], stdio: StdioOptions): { child: ChildProcess | undefined; exited: Promise<Exit> } {
  let child: ChildProcess
  try {
    child = spawn(argv[0]!, argv.slice(1), { stdio, detached: true })
  } catch (err) {
    return { child: undefined, exited: Promise.resolve({ code: null, signal: null, error: (err as Error).message }) }
  }
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => resolve({ code: null, signal: null, error: `${argv[0] ?? ''}: ${err.code === 'ENOENT' ? 'not found' : err.message}` }))
    child.once('exit', (code, signal) => resolve({ code, signal, error: undefined }))
  })
  return { child, exited }
}

function killGroup(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    try {
      child.kill(signal)
    } catch {
      // already gone
    }
  }
}

/**
 * Load starts, runs `leadMs`, then the command runs; the rollout is over when it exits (and
 * `until` has exited 0, polled), or at `durationMs`; the load runs `tailMs` more, stops
 * gracefully, and every request is counted.
 */
export async function verify(options: VerifyRunOptions): Promise<VerifyResult> {
  const o = resolveVerifyOptions(options)
  const stdio: StdioOptions = options.stdio ?? ['ignore', 'inherit', 'inherit']
  const startedAt = new Date().toISOString()
  const signal = options.signal
  const events: VerifyEvent[] = []

  let status: number
  try {
    status = await (o.http2 ? probeH2(o) : probe(o))
  } catch (err) {
    const h2 = o.http2 ? ` (over HTTP/2: ${o.url.protocol === 'https:' ? 'h2 with ALPN' : 'h2c with prior knowledge'}; does the server speak it?)` : ''
    throw new VerifyTargetError(`--url ${o.url.href}: expected a 2xx answer before the command starts, instead the request failed${h2}: ${(err as Error).message}`, err)
  }
  if (status < 200 || status >= 300) {
    throw new VerifyTargetError(`--url ${o.url.href}: expected a 2xx answer before the command starts, instead got ${status}; point it at a path the service answers with 2xx`)
  }

  const load = o.http2 ? startVerifyLoadH2(o) : startVerifyLoad(o)
  const note = (message: string): void => {
    const t = load.elapsed()
    events.push({ t, message })
    options.onProgress?.({ t, message })
  }
  let interrupted = signal?.aborted === true
  const aborted = new Promise<void>((resolve) => {
    if (signal === undefined) return
    if (signal.aborted) resolve()
    signal.addEventListener('abort', () => {
      interrupted = true
      resolve()
    }, { once: true })
  })
  const pause = async (ms: number): Promise<void> => {
    let t: NodeJS.Timeout | undefined
    await Promise.race([new Promise<void>((resolve) => (t = setTimeout(resolve, ms))), aborted])
    clearTimeout(t)
  }

  note(`load started: ${o.method} ${o.url.href} at ${o.rate} req/s over ${o.connections} connections`)
  await pause(o.leadMs)

  let exit: Exit = { code: null, signal: null, error: 'not started (interrupted)' }
  let timedOut = false
  let commandStartMs = load.elapsed()
  let commandMs = 0
  let until: VerifyResult['until']
  if (!interrupted) {
    commandStartMs = load.elapsed()
    const deadline = performance.now() + o.durationMs
    note(`command started: ${o.command.join(' ')}`)
    const cmd = run(o.command, stdio)
    let limit: NodeJS.Timeout | undefined
    const limited = new Promise<'limit'>((resolve) => (limit = setTimeout(() => resolve('limit'), o.durationMs)))
    const first = await Promise.race([cmd.exited, limited, aborted.then(() => 'aborted' as const)])
    clearTimeout(limit)
    if (first === 'limit' || first === 'aborted') {
      timedOut = first === 'limit'
      note(first === 'limit' ? `the rollout reached --duration ${o.durationMs / 1000} s: SIGTERM to the command` : 'interrupted: SIGTERM to the command')
      killGroup(cmd.child, 'SIGTERM')
      const force = setTimeout(() => killGroup(cmd.child, 'SIGKILL'), 5000)
      exit = await cmd.exited
      clearTimeout(force)
    } else {
      exit = first
    }
    commandMs = load.elapsed() - commandStartMs
    note(exit.error !== undefined ? `command could not start: ${exit.error}` : `command exited ${exit.code === null ? `by ${exit.signal ?? 'a signal'}` : `with code ${exit.code}`} after ${(commandMs / 1000).toFixed(1)} s`)

    if (o.until !== undefined && exit.code === 0 && !interrupted) {
      let polls = 0
      let succeeded = false
      while (!interrupted && performance.now() < deadline) {
        polls++
        const poll = run(['sh', '-c', o.until], stdio)
        let pollLimit: NodeJS.Timeout | undefined
        const r = await Promise.race([
          poll.exited,
          aborted.then(() => undefined),
          new Promise<undefined>((resolve) => (pollLimit = setTimeout(() => resolve(undefined), Math.max(0, deadline - performance.now())))),
        ])
        clearTimeout(pollLimit)
        if (r === undefined) {
          killGroup(poll.child, 'SIGTERM')
          await poll.exited
          break
        }
        if (r.code === 0) {
          succeeded = true
          break
        }
        await pause(Math.min(o.untilIntervalMs, Math.max(0, deadline - performance.now())))
      }
      if (!succeeded && !interrupted) timedOut = true
      until = { command: o.until, polls, succeeded }
      note(succeeded ? `until succeeded after ${polls} poll(s): ${o.until}` : `until never succeeded within --duration (${polls} polls): ${o.until}`)
    } else if (o.until !== undefined) {
      until = { command: o.until, polls: 0, succeeded: false }
    }
  }
  const rolloutEndMs = load.elapsed()
  if (!interrupted) {
    note(`rollout over; load continues ${o.tailMs} ms`)
    await pause(o.tailMs)
  }
  const stopAt = load.elapsed()
  const records = await load.stop()
  const stopMs = load.elapsed() - stopAt
  note(`load stopped gracefully in ${stopMs} ms`)

  const counts = tally(records)
  const commandOk = exit.code === 0 && !timedOut && (until === undefined || until.succeeded)
  const exitCode = verifyExitCode(counts.dropped, commandOk, o.expectDrops, interrupted && String(signal?.reason ?? 'SIGINT'))
  return {
    options: o,
    ...counts,
    exitCode,
    verdict: verdictLine(counts.dropped, exitCode, o.expectDrops, commandOk, timedOut),
    command: { argv: o.command, exitCode: exit.code, signal: exit.signal, error: exit.error, durationMs: commandMs, timedOut },
    until,
    interrupted,
    timing: { startedAt, commandStartMs, rolloutEndMs, loadMs: stopAt, stopMs },
    events,
  }
}

function verdictLine(dropped: number, exitCode: VerifyExitCode, expectDrops: boolean, commandOk: boolean, timedOut: boolean): string {
  if (exitCode === VERIFY_EXIT_CODES.interrupted || exitCode === VERIFY_EXIT_CODES.terminated) return 'INTERRUPTED'
  const command = commandOk ? '' : timedOut ? '; the rollout did not finish within --duration' : '; the command failed'
  if (expectDrops) return dropped > 0 ? `DROPS SEEN, as --expect-drops asked${command}` : 'NO DROPS SEEN, but --expect-drops asked for some: this set-up could not show a drop'
  return dropped === 0 ? `ZERO DROPPED${command}` : 'DROPPED'
}
