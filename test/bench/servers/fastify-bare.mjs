// Fastify, no lifecycle library. SIGTERM runs plain `app.close()`, then exits.
import Fastify from 'fastify'
import { PAYLOAD, ready, portOf } from './common.mjs'

const app = Fastify({ logger: false })
app.get('/', async () => PAYLOAD)
await app.listen({ port: 0, host: '127.0.0.1' })
process.once('SIGTERM', () => {
  app.close().then(() => process.exit(0), () => process.exit(1))
})
ready(portOf(app.server))
