import { DuplicateNameError, HookTimeoutError, InvalidCheckError, describe } from './errors.js'
import type { Logger } from './options.js'

export interface HookOptions {
  /** @default the lifecycle's `hookTimeoutMs` */
  readonly timeoutMs?: number
}

export interface Hook {
  readonly name: string
  readonly fn: () => unknown
  readonly timeoutMs: number
}

export type HookKind = 'shutdown hook' | 'drain-start hook'

/** Validates a hook at registration, so a bad one fails at startup, not mid-drain. */
export function makeHook(kind: HookKind, list: readonly Hook[], name: string, fn: () => unknown, options: HookOptions, defaultTimeoutMs: number): Hook {
  if (typeof name !== 'string' || name === '') throw new InvalidCheckError(`${kind} name must be a non-empty string, instead got ${describe(name)}`)
  if (typeof fn !== 'function') throw new InvalidCheckError(`${kind} '${name}' must be a function, instead got ${describe(fn)}`)
  if (list.some((h) => h.name === name)) throw new DuplicateNameError(kind, name)
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new InvalidCheckError(`${kind} '${name}' timeoutMs must be a positive number, instead got ${describe(timeoutMs)}`)
  return { name, fn, timeoutMs }
}

/**
 * Runs one hook, cut at `timeoutMs` (its own, or less when the shutdown budget is nearly spent).
 * A failure is logged and pushed to `failed`; it never stops the shutdown.
 */
export async function runHook(hook: Hook, kind: HookKind, timeoutMs: number, failed: string[], logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const started = performance.now()
  try {
    await Promise.race([
      Promise.resolve().then(hook.fn),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new HookTimeoutError(hook.name, timeoutMs)), Math.max(0, timeoutMs))
      }),
    ])
    logger.info({ hook: hook.name, kind, durationMs: Math.round(performance.now() - started) }, `${kind} done`)
  } catch (err) {
    failed.push(hook.name)
    logger.error({ hook: hook.name, kind, err }, `${kind} '${hook.name}' failed; continuing the shutdown`)
  } finally {
    clearTimeout(timer)
  }
}
