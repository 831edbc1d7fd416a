import { createHash } from 'node:crypto'
import type { DemoConfig } from './config.js'

const payload = Buffer.alloc(2048, 'zerodrop')
/**
 * When FAIL_RATE starts to apply: FAIL_AFTER_MS after the first `GET /`, and after
 * FAIL_AFTER_REQUESTS of them (a release that goes bad once it takes real traffic).
 */
let failFrom: number | undefined
let served = 0

/** A little real work per request: hash a small buffer, build a small JSON answer. */
export function handleRoot(config: DemoConfig): { status: number; body: Record<string, unknown> } {
  failFrom ??= Date.now() + config.failAfterMs
  served++
  if (config.failRate > 0 && Date.now() >= failFrom && served > config.failAfterRequests && Math.random() < config.failRate) {
    return { status: 500, body: { error: 'injected failure (FAIL_RATE)', version: config.version } }
  }
  const digest = createHash('sha256').update(payload).update(String(Math.random())).digest('hex').slice(0, 16)
  return { status: 200, body: { version: config.version, pid: process.pid, digest } }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/**
 * RESET_RATE: resets the request's connection instead of answering (a crash mid-request, as
 * the client and the router see it); the response never finishes, so the service's own
 * histogram never sees it. Returns true when it did.
 */
export function maybeReset(config: DemoConfig, socket: { resetAndDestroy(): unknown }): boolean {
  if (config.resetRate <= 0 || Math.random() >= config.resetRate) return false
  socket.resetAndDestroy()
  return true
}

/** `?ms=N` bounded to 60 s. */
export function slowMs(url: string | undefined): number {
  const m = /[?&]ms=(\d+)/.exec(url ?? '')
  return Math.min(Number(m?.[1] ?? 2000), 60_000)
}

/** `GET /`: LATENCY_MS, then a little work (or an injected failure). */
export async function rootResponse(config: DemoConfig): Promise<{ status: number; body: Record<string, unknown> }> {
  if (config.latencyMs > 0) await sleep(config.latencyMs)
  return handleRoot(config)
}

/** `GET /slow?ms=N`: answers after N ms. */
export async function slowResponse(config: DemoConfig, url: string | undefined): Promise<Record<string, unknown>> {
  await sleep(slowMs(url))
  return { version: config.version, slow: true }
}
