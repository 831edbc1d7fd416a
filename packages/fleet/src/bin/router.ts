// The router as a process of its own (docker-compose.yml's `router` service); see ../router/standalone.ts.
import { log, readRouterMainConfig, startRouterMain, type RouterMainConfig } from '../router/standalone.js'

let config: RouterMainConfig
try {
  config = readRouterMainConfig()
} catch (err) {
  process.stderr.write(`router: bad configuration: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(64)
}
const main = await startRouterMain(config)
const stop = (signal: string): void => {
  log('info', { signal }, 'signal received, closing')
  const force = setTimeout(() => process.exit(1), 5000)
  force.unref()
  void main.close().then(() => process.exit(0))
}
process.once('SIGTERM', () => stop('SIGTERM'))
process.once('SIGINT', () => stop('SIGINT'))
