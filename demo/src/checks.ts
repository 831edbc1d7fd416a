import type { Lifecycle } from '@zerodrop/lifecycle'
import type { DemoConfig } from './config.js'

/** STARTUP_MS and NEVER_READY are modelled with real checks, so the probes tell the truth. */
export function addDemoChecks(lifecycle: Lifecycle, config: DemoConfig): void {
  if (config.startupMs > 0) {
    const readyAt = Date.now() + config.startupMs
    lifecycle.addCheck({
      name: 'warmup',
      probes: ['startup', 'readiness'],
      run: () => {
        if (Date.now() < readyAt) throw new Error(`warming up for ${readyAt - Date.now()} ms more (STARTUP_MS)`)
      },
    })
  }
  if (config.neverReady) {
    lifecycle.addCheck({
      name: 'dependency',
      probes: ['readiness'],
      run: () => {
        throw new Error('dependency unreachable (NEVER_READY=1)')
      },
    })
  }
  if (config.ignoreSigterm) {
    process.on('SIGTERM', () => lifecycle.logger.warn({ signal: 'SIGTERM' }, 'ignoring SIGTERM (IGNORE_SIGTERM=1)'))
  }
}
