// Fastify + lightship, as its README recommends: probes on lightship's own port (any free
// port in local mode), `signalReady()` once listening, the server closed in a shutdown handler,
// `shutdownDelay` (5000 by default in Kubernetes) set to the same drain delay as the others.
import Fastify from 'fastify'
import { createLightship } from 'lightship'
import { DRAIN_DELAY_MS, PAYLOAD, portOf, ready } from './common.mjs'

const lightship = await createLightship({ shutdownDelay: DRAIN_DELAY_MS })
const app = Fastify({ logger: false })
app.get('/', async () => PAYLOAD)
lightship.registerShutdownHandler(() => app.close())
await app.listen({ port: 0, host: '127.0.0.1' })
lightship.signalReady()
ready(portOf(app.server), { port: portOf(lightship.server), path: '/ready' })
