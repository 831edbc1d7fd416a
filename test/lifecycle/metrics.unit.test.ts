import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { createLifecycle } from '@zerodrop/lifecycle'

const quiet = { info() {}, warn() {}, error() {} }

describe('metrics on a shared registry', () => {
  it('two lifecycles on one registry (two Fastify apps in one process) emit one set of series, not the same series twice', async () => {
    const registry = new Registry()
    const a = createLifecycle({ signals: [], exit: false, logger: quiet, metrics: { registry, defaultMetrics: false } })
    const b = createLifecycle({ signals: [], exit: false, logger: quiet, metrics: { registry, defaultMetrics: false } })
    a.metrics?.observe('GET', '/', 200, 0.01)
    b.metrics?.observe('GET', '/', 200, 0.02)
    const text = await registry.metrics()
    const counts = text.split('\n').filter((l) => l.startsWith('http_request_duration_seconds_count{'))
    expect(counts).toEqual(['http_request_duration_seconds_count{method="GET",route="/",status_code="200"} 2'])
    await a.dispose()
    await b.dispose()
  })

  it('the drain metrics are registered: delay length, requests during it, force-closed connections', async () => {
    const registry = new Registry()
    const lc = createLifecycle({ signals: [], exit: false, logger: quiet, metrics: { registry, defaultMetrics: false }, drainDelayMs: 10, shutdownTimeoutMs: 100 })
    await lc.shutdown('test')
    const text = await registry.metrics()
    expect(text).toMatch(/^lifecycle_drain_delay_seconds 0\.0\d+$/m)
    expect(text).toMatch(/^lifecycle_drain_delay_requests 0$/m)
    expect(text).toMatch(/^lifecycle_connections_force_closed_total 0$/m)
    expect(text).toMatch(/^lifecycle_shutdown_duration_seconds \d/m)
  })
})
