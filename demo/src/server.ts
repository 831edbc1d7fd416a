import { DemoConfigError, readConfig, type DemoConfig } from './config.js'

async function main(config: DemoConfig): Promise<void> {
  if (config.crashOnStart) {
    process.stderr.write(`demo ${config.version}: crashing on start (CRASH_ON_START=1)\n`)
    process.exit(1)
  }
  if (config.naive !== undefined) {
    const { naiveServer } = await import('./naive.js')
    return naiveServer(config)
  }
  if (config.framework === 'express') {
    const { expressApp } = await import('./express-app.js')
    const { server, lifecycle } = await expressApp(config)
    server.listen(config.port, config.host, () => {
      lifecycle.logger.info({ port: config.port, version: config.version, framework: 'express' }, 'listening')
      lifecycle.markReady()
    })
    return
  }
  const { fastifyApp } = await import('./fastify-app.js')
  const app = await fastifyApp(config)
  await app.listen({ port: config.port, host: config.host })
  app.log.info({ version: config.version, framework: 'fastify' }, 'listening')
}

let config: DemoConfig
try {
  config = readConfig()
} catch (err) {
  if (err instanceof DemoConfigError) {
    process.stderr.write(`demo: bad configuration: ${err.message}\n`)
    process.exit(64)
  }
  throw err
}
main(config).catch((err: unknown) => {
  process.stderr.write(`demo ${config.version}: failed to start on ${config.host}:${config.port}: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
