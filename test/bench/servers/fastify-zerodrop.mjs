// Fastify + zerodrop: probes and the drain contract, no metrics.
import Fastify from 'fastify'
import { fastifyLifecycle } from '@zerodrop/lifecycle/fastify'
import { CHECK_MS, DRAIN_DELAY_MS, PAYLOAD, dependencyCheck, portOf, ready } from './common.mjs'

const app = Fastify({ logger: false })
await app.register(fastifyLifecycle, { metrics: false, drainDelayMs: DRAIN_DELAY_MS })
if (CHECK_MS > 0) app.lifecycle.addCheck({ name: 'dependency', run: dependencyCheck })
app.get('/', async () => PAYLOAD)
await app.listen({ port: 0, host: '127.0.0.1' })
ready(portOf(app.server), { port: portOf(app.server), path: '/readyz' })
