// Fastify + fastify-metrics, registered as its README shows (route histogram and summary,
// prom-client default metrics, /metrics).
import Fastify from 'fastify'
import metricsPlugin from 'fastify-metrics'
import { PAYLOAD, portOf, ready } from './common.mjs'

const app = Fastify({ logger: false })
await app.register(metricsPlugin.default ?? metricsPlugin, { endpoint: '/metrics' })
app.get('/', async () => PAYLOAD)
await app.listen({ port: 0, host: '127.0.0.1' })
ready(portOf(app.server))
