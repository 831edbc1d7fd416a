import { afterEach, expect, it } from 'vitest'
import { describeWithTool } from '../helpers/tools.js'
import { cleanUp, rollout, type Balancer, type RolloutResult } from './harness.js'

afterEach(cleanUp)

// HAProxy, a balancer we did not write, with retries off and no redispatch (a retry would hide
// a drop), health checks on /readyz every 250 ms, and v1 taken out through its runtime API 1 s
// after its SIGTERM. `zerodrop verify` is the load and the judge; each mode has its negative control.
function zeroDropped(r: RolloutResult): void {
  expect(r.json.dropped, r.stdout).toBe(0)
  expect(r.code, r.stdout + r.stderr).toBe(0)
  expect(r.json.ok).toBe(r.json.requests)
  expect(r.versions.v1, 'v1 served before the rollout').toBeGreaterThan(0)
  expect(r.versions.v2, 'v2 served after it').toBeGreaterThan(0)
  expect(r.lastVersions).toEqual(['v2'])
}

function dropped(r: RolloutResult): void {
  expect(r.json.dropped, r.stdout).toBeGreaterThan(0)
  expect(r.code).toBe(1)
  expect(r.json.command.exitCode, 'the rollout itself succeeded').toBe(0)
}

for (const [balancer, label] of [['haproxy-http', 'HTTP mode (keep-alive both sides, http-reuse safe)'], ['haproxy-tcp', 'TCP mode (L4, like kube-proxy)']] as Array<[Balancer, string]>) {
  describeWithTool('haproxy', `zerodrop verify behind HAProxy, ${label}`, () => {
    it('Fastify + zerodrop: zero dropped', async () => zeroDropped(await rollout(balancer, 'fastify')))
    it('Express + zerodrop: zero dropped', async () => zeroDropped(await rollout(balancer, 'express')))
    it('naive (exits at once on SIGTERM): dropped > 0', async () => {
      const r = await rollout(balancer, 'naive')
      dropped(r)
      if (balancer === 'haproxy-http') {
        // a server gone under HAProxy shows as HAProxy's own 502/503s, which carry no version
        // header: told apart from the application's (the naive service never answers 5xx)
        expect(r.json.non2xx.lb, r.stdout).toBeGreaterThan(0)
        expect(r.json.non2xx.app).toBe(0)
      }
    })
  })
}
