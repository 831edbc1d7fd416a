import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { ResolvedOptions } from './options.js'

export interface PressureMonitor {
  /** The reason the process is under pressure now, or undefined. */
  readonly reason: string | undefined
  stop(): void
}

/** Samples event-loop delay and memory every `sampleIntervalMs` (like @fastify/under-pressure). */
export function monitorPressure(options: NonNullable<ResolvedOptions['pressure']>): PressureMonitor {
  const histogram = monitorEventLoopDelay({ resolution: 10 })
  histogram.enable()
  let reason: string | undefined
  const sample = (): void => {
    const delayMs = Math.max(0, histogram.mean / 1e6 - 10)
    histogram.reset()
    const mem = process.memoryUsage()
    if (options.maxEventLoopDelayMs > 0 && delayMs > options.maxEventLoopDelayMs) reason = `event loop delay ${delayMs.toFixed(1)} ms > ${options.maxEventLoopDelayMs} ms`
    else if (options.maxHeapUsedBytes > 0 && mem.heapUsed > options.maxHeapUsedBytes) reason = `heap used ${mem.heapUsed} B > ${options.maxHeapUsedBytes} B`
    else if (options.maxRssBytes > 0 && mem.rss > options.maxRssBytes) reason = `rss ${mem.rss} B > ${options.maxRssBytes} B`
    else reason = undefined
  }
  const timer = setInterval(sample, options.sampleIntervalMs)
  timer.unref()
  return {
    get reason() {
      return reason
    },
    stop() {
      clearInterval(timer)
      histogram.disable()
    },
  }
}
