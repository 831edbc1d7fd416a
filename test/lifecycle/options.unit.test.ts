import { describe, expect, it } from 'vitest'
import { createLifecycle, InvalidOptionError, InvalidCheckError, DuplicateNameError, resolveOptions } from '@zerodrop/lifecycle'

const quiet = { info() {}, warn() {}, error() {} }
const base = { signals: [], exit: false, logger: quiet, metrics: false } as const

describe('options are resolved once and bad ones throw a typed error naming the option', () => {
  it('defaults fit Kubernetes', () => {
    const o = resolveOptions({})
    expect(o.drainDelayMs).toBe(5000)
    expect(o.shutdownTimeoutMs).toBe(20000)
    expect(o.signals).toEqual(['SIGTERM', 'SIGINT'])
    expect(o.paths).toEqual({ startup: '/startupz', liveness: '/livez', readiness: '/readyz', metrics: '/metrics' })
    expect(o.keepAliveTimeoutMs).toBeGreaterThan(60_000)
    expect(o.drainDelayMs + o.shutdownTimeoutMs).toBeLessThanOrEqual(30_000)
    expect(Object.isFrozen(o)).toBe(true)
    if (o.metrics === false) throw new Error('metrics on by default')
    for (const b of [0.1, 0.3, 0.5]) expect(o.metrics.buckets).toContain(b)
  })

  it.each([
    [{ drainDelayMs: -1 }, 'drainDelayMs', /a number of milliseconds from 0 to 2147483647, instead got -1$/],
    [{ drainDelayMs: '5000' }, 'drainDelayMs', /instead got '5000'$/],
    [{ shutdownTimeoutMs: Number.NaN }, 'shutdownTimeoutMs', /instead got NaN/],
    [{ drainDelayMs: 15_000, shutdownTimeoutMs: 20_000 }, 'drainDelayMs + shutdownTimeoutMs', /at most gracePeriodMs \(30000 ms\).*instead got 35000/],
    [{ hookTimeoutMs: 30_000, shutdownTimeoutMs: 10_000 }, 'hookTimeoutMs', /at most shutdownTimeoutMs/],
    [{ paths: { healthz: '/healthz' } }, 'paths.healthz', /^unknown option 'paths.healthz': expected one of startup, liveness, readiness, metrics$/],
    [{ paths: { readyness: '/ready' } }, 'paths.readyness', /^unknown option 'paths.readyness': did you mean 'readiness'\?/],
    [{ paths: { readiness: 'readyz' } }, 'paths.readiness', /starting with '\/'/],
    [{ signals: 'SIGTERM' }, 'signals', /array of signal names/],
    [{ metrics: { buckets: [0.5, 0.1] } }, 'metrics.buckets', /strictly increasing/],
    [{ metrics: { prefix: 'my-app' } }, 'metrics.prefix', /valid Prometheus metric name prefix/],
    [{ adminPort: 70000 }, 'adminPort', /an integer from 0 to 65535, instead got 70000/],
    // the quoting was garbled ("instead got 'an unknown option 'drainDelay'' (string)") and there was no suggestion
    [{ drainDelayz: 5000 }, 'drainDelayz', /^unknown option 'drainDelayz': did you mean 'drainDelay'\? expected one of drainDelay, drainDelayMs, shutdownTimeoutMs, /],
    [{ shutdowntimeoutms: 5000 }, 'shutdowntimeoutms', /did you mean 'shutdownTimeoutMs'\?/],
    [{ colour: 'red' }, 'colour', /^unknown option 'colour': expected one of /],
    // Node fires a longer setTimeout after 1 ms (TimeoutOverflowWarning): these were accepted
    [{ newConnectionGraceMs: 1e12 }, 'newConnectionGraceMs', /from 0 to 2147483647, instead got 1000000000000$/],
    [{ keepAliveTimeoutMs: 2 ** 31 }, 'keepAliveTimeoutMs', /from 0 to 2147483647, instead got 2147483648$/],
    [{ checkCacheMs: Infinity }, 'checkCacheMs', /instead got Infinity$/],
    [{ pressure: { sampleIntervalMs: 3e9 } }, 'pressure.sampleIntervalMs', /from 0 to 2147483647/],
    [{ hookTimeoutMs: 1e12, shutdownTimeoutMs: 20_000 }, 'hookTimeoutMs', /from 0 to 2147483647/],
    // signal names: 'SIGFOO' was accepted silently, 'SIGKILL' threw an untyped uv_signal_start EINVAL later
    [{ signals: ['SIGFOO'] }, 'signals[0]', /a signal name this platform knows, such as 'SIGTERM', instead got 'SIGFOO'$/],
    [{ signals: ['SIGTREM'] }, 'signals[0]', /\(did you mean 'SIGTERM'\?\)/],
    [{ signals: ['SIGTERM', 'SIGKILL'] }, 'signals[1]', /SIGKILL cannot be caught, so it can never start a drain/],
    [{ signals: ['SIGSTOP'] }, 'signals[0]', /SIGSTOP cannot be caught/],
    [{ signals: [15] }, 'signals[0]', /instead got 15$/],
    [{ drainDelay: 1000, drainDelayMs: 1000 }, 'drainDelay', /given alone/],
    [{ drainDelay: { quietMs: 0 } }, 'drainDelay.quietMs', /more than 0 ms/],
    [{ drainDelay: { minMs: 3000, maxMs: 2000 } }, 'drainDelay.maxMs', /at least drainDelay.minMs \(3000 ms\)/],
    [{ drainDelay: { quiet: 1000 } }, 'drainDelay.quiet', /^unknown option 'drainDelay.quiet': did you mean 'quietMs'\?/],
    [{ drainDelay: { maxMs: 15_000 } }, 'drainDelay.maxMs + shutdownTimeoutMs', /at most gracePeriodMs \(30000 ms\).*instead got 35000/],
  ])('%j → %s', (options, option, message) => {
    let error: unknown
    try {
      resolveOptions(options as never)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(InvalidOptionError)
    expect(error).toMatchObject({ code: 'ZD_ERR_INVALID_OPTION', option })
    expect((error as Error).message).toContain(`option '${option}'`)
    expect((error as Error).message).not.toMatch(/''|\(string\)/)
    expect((error as Error).message).toMatch(message)
  })

  it('the drain delay: a fixed number (drainDelayMs or drainDelay), or adaptive within its bounds', () => {
    expect(resolveOptions({ drainDelay: 1200 }).drainDelay).toEqual({ mode: 'fixed', ms: 1200 })
    expect(resolveOptions({}).drainDelay).toEqual({ mode: 'fixed', ms: 5000 })
    const a = resolveOptions({ drainDelay: { quietMs: 500 } })
    expect(a.drainDelay).toEqual({ mode: 'adaptive', minMs: 1000, quietMs: 500, maxMs: 10_000 })
    expect(a.drainDelayMs).toBe(10_000)
  })

  it('signal names the platform knows and a process can catch are accepted', () => {
    expect(resolveOptions({ signals: ['SIGTERM', 'SIGINT', 'SIGUSR2', 'SIGHUP'] }).signals).toEqual(['SIGTERM', 'SIGINT', 'SIGUSR2', 'SIGHUP'])
    expect(resolveOptions({ signals: [] }).signals).toEqual([])
    expect(resolveOptions({ newConnectionGraceMs: 2_147_483_647, shutdownTimeoutMs: 1000, drainDelayMs: 1000, gracePeriodMs: 2_147_483_647 }).newConnectionGraceMs).toBe(2_147_483_647)
  })

  it('checks are validated when added', () => {
    const lc = createLifecycle(base)
    expect(() => lc.addCheck({ name: 'db' } as never)).toThrow(InvalidCheckError)
    expect(() => lc.addCheck({ name: 'db' } as never)).toThrow(/check 'db' needs a 'run' function, instead got undefined/)
    expect(() => lc.addCheck({ name: 'db', probes: ['ready' as never], run: () => {} })).toThrow(/unknown probe: expected one of startup, liveness, readiness, instead got 'ready'/)
    expect(() => lc.addCheck({ name: 'db', timeoutMs: 0, run: () => {} })).toThrow(/'timeoutMs' must be a positive number/)
    lc.addCheck({ name: 'db', run: () => {} })
    expect(() => lc.addCheck({ name: 'db', run: () => {} })).toThrow(DuplicateNameError)
    expect(() => lc.onShutdown('pool', 'nope' as never)).toThrow(/shutdown hook 'pool' must be a function/)
    lc.onShutdown('pool', () => {})
    expect(() => lc.onShutdown('pool', () => {})).toThrow(/already registered/)
  })
})
