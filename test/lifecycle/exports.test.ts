import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import * as root from '@zerodrop/lifecycle'
import * as fastify from '@zerodrop/lifecycle/fastify'
import * as express from '@zerodrop/lifecycle/express'
import { ROOT } from '../helpers/process.js'

// The public surface other parts and users rely on: extend it, don't rename it.
describe('@zerodrop/lifecycle public surface', () => {
  it('root entry exports exactly these names', () => {
    expect(Object.keys(root).sort()).toEqual([
      'CheckTimeoutError', 'DEFAULTS', 'DEFAULT_BUCKETS', 'DuplicateNameError', 'ERROR_CODES', 'HookTimeoutError',
      'InvalidCheckError', 'InvalidOptionError', 'Lifecycle', 'PROBES', 'PROBE_LIVENESS', 'PROBE_READINESS', 'PROBE_STARTUP',
      'STATES', 'STATE_DRAINING', 'STATE_READY', 'STATE_STARTING', 'STATE_STOPPED', 'STATE_STOPPING', 'UNMATCHED_ROUTE',
      'WS_GOING_AWAY', 'ZeroDropError', 'createLifecycle', 'createMetrics', 'resolveOptions',
    ])
    expect(root.STATES).toEqual(['starting', 'ready', 'draining', 'stopping', 'stopped'])
  })

  it('adapters are subpath exports with named exports only', () => {
    expect(Object.keys(fastify)).toEqual(['fastifyLifecycle'])
    expect(Object.keys(express)).toEqual(['expressLifecycle'])
    expect((fastify.fastifyLifecycle as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')]).toBe('@zerodrop/lifecycle')
  })

  it('the package manifest passes publint and are-the-types-wrong (ESM only)', () => {
    const dir = `${ROOT}packages/lifecycle`
    expect(() => execFileSync('npx', ['publint', dir, '--strict'], { cwd: ROOT, stdio: 'pipe' })).not.toThrow()
    expect(() => execFileSync('npx', ['attw', '--pack', dir, '--profile', 'esm-only'], { cwd: ROOT, stdio: 'pipe' })).not.toThrow()
  }, 60_000)
})
