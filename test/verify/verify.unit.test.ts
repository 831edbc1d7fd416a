import { describe, expect, it } from 'vitest'
import { parseVerifyArgs, VERIFY_HELP } from '#fleet/cli/verify.js'
import { resolveVerifyOptions } from '#fleet/options/verify.js'
import { failureOutcome, sideOf, type VerifyRecord } from '#fleet/verify/client.js'
import { h2RequestHeaders } from '#fleet/verify/h2.js'
import { verifyJson } from '#fleet/verify/report.js'
import { tally, verifyExitCode, type VerifyResult } from '#fleet/verify/verify.js'

const base = { url: 'http://127.0.0.1:8080/', command: ['true'] }

describe('zerodrop verify flags', () => {
  it('splits flags from the command at --, and keeps the command as argv', () => {
    const p = parseVerifyArgs(['--url', 'http://127.0.0.1:1/', '--rate', '50', '--header', 'Host: api.example.com', '--', 'kubectl', 'rollout', 'restart', '--', 'x'])
    expect(p.options.command).toEqual(['kubectl', 'rollout', 'restart', '--', 'x'])
    expect(p.options.rate).toBe(50)
    expect(p.options.headers).toEqual({ Host: 'api.example.com' })
  })

  it.each([
    [['--', 'true'], /--url: expected the URL to verify.*there is no default target/],
    [['--url', 'http://127.0.0.1:1/'], /expected the rollout command after '--'/],
    [['--url', 'http://127.0.0.1:1/', 'kubectl', '--', 'true'], /unexpected argument 'kubectl' before '--'/],
    [['--url', 'http://127.0.0.1:1/', '--rate', 'fast', '--', 'true'], /^--rate: expected a number from 0 to 10000, instead got 'fast'$/],
    [['--url', 'http://127.0.0.1:1/', '--rate', '-5', '--', 'true'], /^--rate: expected a number from 0 to 10000, instead got -5$/],
    [['--url', 'http://127.0.0.1:1/', '--rate', '0', '--', 'true'], /^--rate: expected a number > 0 \(at most 10000\), instead got 0$/],
    [['--url', 'http://127.0.0.1:1/', '--connections', '2.5', '--', 'true'], /^--connections: expected an integer ≥ 1, instead got 2.5$/],
    [['--url', 'http://127.0.0.1:1/', '--lead-ms', '3e9', '--', 'true'], /^--lead-ms: expected at most 2147483647 ms/],
    [['--url', 'http://127.0.0.1:1/', '--rat', '5', '--', 'true'], /^unknown flag '--rat'; did you mean '--rate'\?/],
    [['--url', 'http://127.0.0.1:1/', '--header', 'nocolon', '--', 'true'], /--header: expected "Name: value", instead got 'nocolon'/],
    [['--url', 'http://127.0.0.1:1/', '--duration', 'soon', '--', 'true'], /--duration: expected seconds or a duration like 90s or 5m, at most 600 s, instead got 'soon'/],
    [['--url', 'http://127.0.0.1:1/', '--ca', '/nonexistent/ca.pem', '--', 'true'], /--ca: expected a readable PEM file, instead could not read '\/nonexistent\/ca.pem': ENOENT/],
    [['--url', 'http://127.0.0.1:1/', '--bogus', '--', 'true'], /^unknown flag '--bogus' \(see zerodrop verify --help\)$/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseVerifyArgs(argv)).toThrow(message)
  })

  it('documents every flag it parses in --help', () => {
    for (const flag of ['--url', '--header', '--method', '--body', '--ca', '--insecure', '--http2', '--rate', '--connections', '--burst', '--reconnect-every', '--timeout-ms',
      '--lead-ms', '--tail-ms', '--until', '--until-interval-ms', '--duration', '--version-header', '--lb-header', '--expect-drops', '--json', '--quiet', '--help']) {
      expect(VERIFY_HELP).toMatch(new RegExp(`(  |, )${flag}\\b`))
    }
  })
})

describe('verify options', () => {
  it('has no default target and bounds the load', () => {
    expect(() => resolveVerifyOptions({ ...base, url: '' })).toThrow(/url: expected the URL to verify/)
    expect(() => resolveVerifyOptions({ ...base, url: 'ftp://127.0.0.1/' })).toThrow(/url: expected an http: or https: URL, instead got 'ftp:\/\/127.0.0.1\/'/)
    expect(() => resolveVerifyOptions({ ...base, durationMs: 600_001 })).toThrow(/durationMs: expected at most 600 s/)
    expect(() => resolveVerifyOptions({ ...base, rate: 0 })).toThrow(/rate: expected a number > 0/)
    expect(() => resolveVerifyOptions({ ...base, command: [] })).toThrow(/command: expected the rollout command after '--'/)
    const o = resolveVerifyOptions(base)
    expect(o.rate).toBe(100)
    expect(o.durationMs).toBeLessThanOrEqual(600_000)
  })

  it('allows a non-loopback URL (that is the point) when the user names it', () => {
    expect(resolveVerifyOptions({ ...base, url: 'https://staging.example.com/' }).url.hostname).toBe('staging.example.com')
  })

  it('--http2: rejects connection-specific headers (malformed in HTTP/2), sends Host as :authority', () => {
    expect(() => resolveVerifyOptions({ ...base, http2: true, headers: { Connection: 'keep-alive' } })).toThrow(/headers: expected no connection-specific header with http2 .*instead got 'connection'/)
    expect(() => resolveVerifyOptions({ ...base, http2: true, headers: { TE: 'gzip' } })).toThrow(/instead got 'te'/)
    expect(resolveVerifyOptions({ ...base, headers: { Connection: 'close' } }).headers).toEqual({ connection: 'close' })
    const o = resolveVerifyOptions({ ...base, url: 'http://127.0.0.1:8080/a?b=1', http2: true, headers: { Host: 'api.example.com', 'X-A': '1' } })
    expect(h2RequestHeaders(o)).toEqual({ ':method': 'GET', ':path': '/a?b=1', ':authority': 'api.example.com', 'x-a': '1' })
    expect(parseVerifyArgs(['--url', 'http://127.0.0.1:1/', '--http2', '--', 'true']).options.http2).toBe(true)
  })

  it('parses --lb-header as name, or name and value', () => {
    expect(resolveVerifyOptions({ ...base, lbHeader: 'Server: HAProxy' }).lbHeader).toEqual({ name: 'server', value: 'haproxy' })
    expect(resolveVerifyOptions({ ...base, lbHeader: 'via' }).lbHeader).toEqual({ name: 'via', value: undefined })
    expect(() => resolveVerifyOptions({ ...base, lbHeader: 'bad header: x' })).toThrow(/lbHeader: expected a header name/)
  })
})

describe('verify accounting', () => {
  const o = { versionHeader: 'x-app-version', lbHeader: { name: 'server', value: 'haproxy' } }

  it('tells the load balancer\'s 5xx from the application\'s', () => {
    expect(sideOf(503, { server: 'HAProxy 2.6' }, o)).toBe('lb')
    expect(sideOf(502, {}, o)).toBe('lb')
    expect(sideOf(503, { 'x-app-version': 'v1' }, o)).toBe('app')
    expect(sideOf(500, {}, o)).toBe('app')
    expect(sideOf(404, { server: 'haproxy' }, o)).toBe('app')
    expect(sideOf(503, {}, { versionHeader: undefined, lbHeader: undefined })).toBe('app')
  })

  it('classifies failures by the fleet\'s rules', () => {
    const err = (code: string, message = code): NodeJS.ErrnoException => Object.assign(new Error(message), { code })
    expect(failureOutcome(err('ECONNREFUSED'), false, false).outcome).toBe('refusedConnection')
    expect(failureOutcome(err('ECONNRESET', 'socket hang up'), false, false).outcome).toBe('lost')
    expect(failureOutcome(err('ECONNRESET', 'read ECONNRESET'), false, false).outcome).toBe('refused')
    expect(failureOutcome(err('ECONNRESET', 'socket hang up'), true, false)).toEqual({ outcome: 'lost', error: 'HANGUP' })
    expect(failureOutcome(err('ECONNRESET', 'read ECONNRESET'), true, false).outcome).toBe('reset')
    expect(failureOutcome(err('ECONNRESET', 'read ECONNRESET'), false, true).outcome).toBe('reset')
    expect(failureOutcome(err('EPIPE'), true, false).outcome).toBe('reset')
  })

  it('counts every request in exactly one outcome; dropped = everything not 2xx', () => {
    const r = (start: number, outcome: VerifyRecord['outcome'], extra: Partial<VerifyRecord> = {}): VerifyRecord => ({ start, end: start + 1, outcome, reused: true, connection: 0, ...extra })
    const t = tally([
      r(10, 'ok', { status: 200, version: 'v1' }),
      r(1100, 'ok', { status: 200, version: 'v2' }),
      r(1200, 'non2xx', { status: 503, side: 'lb' }),
      r(1300, 'non2xx', { status: 500, side: 'app' }),
      r(1400, 'lost'),
      r(1500, 'reset'),
      r(2100, 'refused'),
      r(2200, 'timeout'),
      r(2300, 'refusedConnection', { reused: false }),
      r(2400, 'ok', { status: 200, retried: true }),
    ])
    // a request retried after a refused stream counts once, by its final outcome
    expect(t).toMatchObject({ requests: 9, ok: 3, non2xx: { lb: 1, app: 1 }, lost: 1, reset: 1, refused: 1, timeout: 1, refusedConnections: 1, refusedStreamsRetried: 1, dropped: 7 })
    expect(t.ok + t.non2xx.lb + t.non2xx.app + t.lost + t.reset + t.refused + t.timeout).toBe(t.requests)
    expect(t.perSecond.map((s) => [s.t, s.requests, s.ok, s.dropped])).toEqual([[0, 1, 1, 0], [1, 5, 1, 4], [2, 3, 1, 3]])
    expect(t.perSecond[1]?.byVersion).toEqual({ v2: 1 })
  })

  it('exit codes: 0 zero dropped and the command ok, 1 dropped, 3 the command failed, 130 interrupted by SIGINT, 143 by SIGTERM; --expect-drops inverts the count', () => {
    expect(verifyExitCode(0, true, false, false)).toBe(0)
    expect(verifyExitCode(1, true, false, false)).toBe(1)
    expect(verifyExitCode(1, false, false, false)).toBe(1)
    expect(verifyExitCode(0, false, false, false)).toBe(3)
    expect(verifyExitCode(0, true, false, 'SIGINT')).toBe(130)
    expect(verifyExitCode(0, true, false, 'SIGTERM')).toBe(143)
    expect(verifyExitCode(5, true, true, false)).toBe(0)
    expect(verifyExitCode(0, true, true, false)).toBe(1)
    expect(verifyExitCode(5, false, true, false)).toBe(3)
  })

  it('--json holds exactly the fields of zerodrop.verify/v1 (protocol and refusedStreamsRetried added compatibly)', () => {
    const counts = tally([])
    const result = { ...counts, options: resolveVerifyOptions(base), exitCode: 0, command: { argv: ['true'], exitCode: 0, signal: null, error: undefined, durationMs: 1, timedOut: false } } as unknown as VerifyResult
    expect(Object.keys(verifyJson(result)).sort()).toEqual(
      ['schema', 'protocol', 'dropped', 'exitCode', 'requests', 'ok', 'non2xx', 'lost', 'reset', 'refused', 'timeout', 'refusedConnections', 'refusedStreamsRetried', 'command', 'perSecond'].sort(),
    )
    expect(verifyJson(result).schema).toBe('zerodrop.verify/v1')
    expect(verifyJson(result)).toMatchObject({ protocol: 'http/1.1', refusedStreamsRetried: 0 })
    expect(Object.keys(verifyJson(result).command).sort()).toEqual(['argv', 'exitCode'])
    const h2 = (url: string): unknown => verifyJson({ ...result, options: resolveVerifyOptions({ ...base, url, http2: true }) }).protocol
    expect(h2('https://127.0.0.1:8443/')).toBe('h2')
    expect(h2('http://127.0.0.1:8080/')).toBe('h2c')
  })
})
