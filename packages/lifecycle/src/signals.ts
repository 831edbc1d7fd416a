import type { Logger } from './options.js'

/**
 * Installs handlers for `signals`: the first starts the drain, a second one forces an
 * immediate exit (Ctrl-C twice in development). Returns a function that removes them.
 */
export function installSignalHandlers(
  signals: readonly NodeJS.Signals[],
  onFirst: (signal: NodeJS.Signals) => void,
  onSecond: (signal: NodeJS.Signals) => void,
  logger: Logger | undefined,
): () => void {
  if (signals.length === 0) return () => {}
  let received: NodeJS.Signals | undefined
  const handler = (signal: NodeJS.Signals): void => {
    if (received === undefined) {
      received = signal
      logger?.info({ signal }, 'signal received, draining')
      onFirst(signal)
    } else {
      logger?.warn({ signal, first: received }, 'second signal received during drain, exiting now')
      onSecond(signal)
    }
  }
  for (const s of signals) process.on(s, handler)
  return () => {
    for (const s of signals) process.off(s, handler)
  }
}
