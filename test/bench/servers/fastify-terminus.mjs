// Fastify + @godaddy/terminus, set up as its README's Kubernetes section recommends:
// health checks on the server, `beforeShutdown` delays the shutdown, `useExit0`.
import Fastify from 'fastify'
import { createTerminus } from '@godaddy/terminus'
import { CHECK_MS, DRAIN_DELAY_MS, PAYLOAD, dependencyCheck, portOf, ready, sleep } from './common.mjs'

const app = Fastify({ logger: false })
app.get('/', async () => PAYLOAD)
await app.ready()
createTerminus(app.server, {
  healthChecks: {
    '/readyz': CHECK_MS > 0 ? dependencyCheck : () => Promise.resolve(),
    '/livez': () => Promise.resolve(),
  },
  beforeShutdown: () => sleep(DRAIN_DELAY_MS),
  onSignal: () => app.close(),
  useExit0: true,
})
await app.listen({ port: 0, host: '127.0.0.1' })
ready(portOf(app.server), { port: portOf(app.server), path: '/readyz' })
