import { startExactLoad, type ExactLoadResult } from '@zerodrop/fleet'
import { sleep, startFixture, type Exit, type Fixture } from './process.js'

export interface DrainRun {
  readonly fixture: Fixture
  readonly load: ExactLoadResult
  /** ms since the load started, when SIGTERM was sent */
  readonly sigAt: number
  readonly exit: Exit
  /** ms from SIGTERM to the process's exit */
  readonly sigToExitMs: number
}

/**
 * Starts a server, puts it under exact keep-alive load (some clients saturating, some paced so
 * their sockets sit idle between requests), sends SIGTERM, keeps the load running until the
 * process has exited (refused connections after the listener closes are expected and counted
 * apart), then stops the load gracefully and returns exact counts.
 */
export async function drainUnderLoad(script: string, env: Record<string, string>, opts: { path?: string } = {}): Promise<DrainRun> {
  const fixture = await startFixture(script, env)
  const load = startExactLoad({ url: `${fixture.url}${opts.path ?? '/'}`, saturating: 4, paced: 6, pacedIntervalMs: 40, durationMs: 30_000, timeoutMs: 8000 })
  const t0 = performance.now()
  await sleep(800)
  const sigAbs = fixture.signal('SIGTERM')
  const exit = await Promise.race([fixture.exited, sleep(25_000).then(() => undefined)])
  if (exit === undefined) throw new Error(`server did not exit within 25 s of SIGTERM:\n${fixture.output()}`)
  await sleep(200)
  const result = await load.stop()
  return { fixture, load: result, sigAt: sigAbs - t0, exit, sigToExitMs: exit.at - sigAbs }
}

/** Requests answered after `from` (ms since load start). */
export function answeredAfter(load: ExactLoadResult, from: number) {
  return load.records.filter((r) => r.start >= from && (r.outcome === 'ok' || r.outcome === 'non2xx'))
}
