import { describe, expect, it } from 'vitest'
import { describe as describeFleet, ERROR_CODES, ERRORS, InvalidOptionError } from '#fleet/core/errors.js'
import { describe as describeLifecycle } from '#lifecycle/errors.js'
import { parseArgoDuration } from '#fleet/core/durations.js'
import { isLoopback } from '#fleet/core/ports.js'
import { DEPLOY_COMMAND, DEPLOY_FLAGS, getPath, helpText, numeric, parseArgsSpec, VERIFY_FLAGS, type FlagSpec } from '#fleet/cli/flags.js'
import { parseVerifyArgs, VERIFY_HELP } from '#fleet/cli/verify.js'
import { parse, usage } from '#fleet/cli/parse.js'
import { resolveDeployOptions } from '#fleet/options/deploy.js'
import { resolveAnalysis, resolveCanary } from '#fleet/options/progressive.js'
import { resolveRouterOptions } from '#fleet/router/router.js'

// The flag table is the CLI: every flag parses, lands on its option and is in the help; every bad
// value is blamed on the flag as typed, with the token.

const base = ['deploy', '--from', 'node v1.js', '--to', 'node v2.js', '--quiet']

/** What a flag needs beside it to apply: its `only` conditions. */
function prerequisites(f: FlagSpec): string[] {
  const out: string[] = []
  for (const [other, value] of Object.entries(f.only ?? {})) {
    if (other === 'runtime') out.push('--runtime', 'docker', ...(f.name === 'image' ? [] : ['--image', 'a:1']), ...(f.name === 'to-image' ? [] : ['--to-image', 'b:1']))
    else if (other === 'filename') out.push('-f', 'k8s/rolling')
    else out.push(`--${other}`, String(value))
  }
  return out
}

function argvFor(f: FlagSpec, token: string): string[] {
  const own = f.type === 'boolean' ? [`--${f.name}`] : [`--${f.name}`, token]
  const docker = f.only?.runtime !== undefined
  const revisions = docker || f.name === 'from' || f.name === 'to' ? base.filter((a, i) => !['--from', '--to'].includes(a) && !['--from', '--to'].includes(base[i - 1] ?? '')) : base
  if (f.name === 'from') return [...revisions, '--to', 'node v2.js', ...own]
  if (f.name === 'to') return [...revisions, '--from', 'node v1.js', ...own]
  return [...revisions, ...prerequisites(f), ...own]
}

function message(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    return (err as Error).message
  }
  throw new Error('expected an error')
}

const flags = DEPLOY_FLAGS.filter((f) => f.name !== 'help')
const numberFlags = DEPLOY_FLAGS.filter((f) => f.type === 'number')

describe('the deploy flag table', () => {
  it('generates the parseArgs spec: one entry per flag, numbers as strings, shorts kept', () => {
    const spec = parseArgsSpec(DEPLOY_COMMAND)
    expect(Object.keys(spec).sort()).toEqual(DEPLOY_FLAGS.map((f) => f.name).sort())
    expect(spec.filename).toEqual({ type: 'string', short: 'f' })
    expect(spec.header).toEqual({ type: 'string', multiple: true })
    expect(spec.quiet).toEqual({ type: 'boolean' })
    expect(spec['probe-period-ms']).toEqual({ type: 'string' })
    expect(new Set(DEPLOY_FLAGS.map((f) => f.name)).size).toBe(DEPLOY_FLAGS.length)
  })

  it.each(DEPLOY_FLAGS.map((f) => [f.name, f] as const))('--%s is in the help with its default and where it applies', (name, f) => {
    const help = helpText(DEPLOY_COMMAND)
    const line = help.split('\n').findIndex((l) => l.startsWith(`  --${name} `) || l === `  --${name}` || l.startsWith(`  -${f.short ?? '?'}, --${name}`))
    expect(line, `--${name} in the help`).toBeGreaterThan(-1)
    const entry = help.split('\n').slice(line, line + 4).join(' ').replace(/\s+/g, ' ')
    if (f.default !== undefined) expect(entry).toContain(`default ${f.default}`)
    for (const [other, value] of Object.entries(f.only ?? {})) expect(entry).toContain(value === true ? `with --${other}` : `${value} only`)
  })

  it.each(flags.map((f) => [f.name, f] as const))('--%s parses and sets its option', (name, f) => {
    const parsed = parse(argvFor(f, f.example))
    expect(parsed.flags.values.has(name)).toBe(true)
    if (f.option === undefined) return
    const value = getPath(parsed.options, f.option)
    expect(value, `${f.option} from --${name} ${f.example}`).toBeDefined()
    if (f.type === 'number' && f.coerce === undefined) expect(value).toBe(numeric(f.example))
    if (f.coerce === undefined && f.type === 'string' && f.multiple !== true && f.name !== 'from' && f.name !== 'to') expect(value).toBe(f.example)
  })

  it.each(numberFlags.map((f) => [f.name, f] as const))('--%s abc and --%s -5: rejected naming the flag and the token', (name, f) => {
    const letters = message(() => parse(argvFor(f, 'abc')))
    expect(letters).toMatch(new RegExp(`^--${name}: expected .+, instead got 'abc'$`))
    // a negative number is a value (not "ambiguous"), for the validator to judge
    const negative = message(() => parse(argvFor(f, '-5')))
    expect(negative).toMatch(new RegExp(`^--${name}: expected .+, instead got -5$`))
    expect(negative).not.toMatch(/ambiguous/)
  })

  it('the messages of the issue, as the user sees them', () => {
    expect(message(() => parse([...base, '--probe-period-ms', '5']))).toBe('--probe-period-ms: expected an integer ≥ 10, instead got 5')
    expect(message(() => parse([...base, '--strategy', 'canary', '--steps', '1,abc']))).toMatch(/^--steps: expected .*, instead got 'abc'$/)
    expect(message(() => parse([...base, '--strategy', 'canary', '--steps', '1,w5']))).toMatch(/: expected steps written one way: 'w1' among Argo-like steps \(or weights only\), instead got 1$/)
    expect(message(() => parse([...base, '--rate', '-5']))).toBe('--rate: expected a number ≥ 1, instead got -5')
    expect(message(() => parse([...base, '--rate=-5']))).toBe('--rate: expected a number ≥ 1, instead got -5')
    expect(message(() => parse([...base, '--replicas', 'abc']))).toBe("--replicas: expected an integer ≥ 1, instead got 'abc'")
    expect(message(() => parse([...base, '--replicas', '0']))).toBe('--replicas: expected an integer ≥ 1, instead got 0')
    expect(message(() => parse([...base, '--rpelicas', '2']))).toBe("unknown flag '--rpelicas'; did you mean '--replicas'? (see zerodrop deploy --help)")
    expect(message(() => parse([...base, '--probe-period', '200']))).toMatch(/did you mean '--probe-period-ms'\?/)
    expect(message(() => parse([...base, '--colour', 'red']))).toBe("unknown flag '--colour' (see zerodrop deploy --help)")
    expect(message(() => parse([...base, '--steps', '5']))).toBe("--steps: applies to --strategy canary only, instead the strategy is 'rolling'")
    expect(message(() => parse([...base, '--preview-rate', '5', '--strategy', 'canary']))).toMatch(/^--preview-rate: applies to --strategy blue-green only/)
    expect(message(() => parse([...base, '--image', 'a:1']))).toMatch(/^--image: applies to --runtime docker only, instead the runtime is 'process'$/)
    expect(message(() => parse([...base, '--time-scale', '0.5']))).toBe('--time-scale: applies with -f/--filename only')
    expect(message(() => parse([...base, '-f', 'k8s/rolling', '--time-scale', '0']))).toBe('--time-scale: expected a number > 0, instead got 0')
    expect(message(() => parse([...base, '--max-surge', '0', '--max-unavailable', '0%']))).toMatch(/^--max-surge\/--max-unavailable: expected at most one of them to be 0/)
    expect(message(() => parse([...base, '--endpoint-delay-ms', '3e9']))).toBe('--endpoint-delay-ms: expected at most 2147483647 ms (Node fires a longer timer after 1 ms), instead got 3000000000')
    expect(message(() => parse(['deploy', '--from', '--quiet']))).toBe("--from: expected a value (CMD), instead got the flag '--quiet'")
    expect(message(() => parse(['deploy', '--from', '-f']))).toBe("--from: expected a value (CMD), instead got the flag '-f'")
    expect(message(() => parse([...base, '--rate']))).toBe('--rate: expected a value (N), instead got nothing')
    expect(message(() => parse([...base, '--quiet=yes']))).toBe("--quiet: takes no value, instead got 'yes'")
    expect(message(() => parse([...base, '--header', 'nocolon']))).toBe('--header: expected "Name: value", instead got \'nocolon\'')
    expect(message(() => parse([...base, '--strategy', 'blue-green', '--pre-promotion-analysis', 'maybe']))).toBe("--pre-promotion-analysis: expected 'on' or 'off', instead got 'maybe'")
    expect(message(() => parse([...base, '--strategy', 'yolo']))).toMatch(/^--strategy: expected one of rolling, blue-green, canary, instead got 'yolo'$/)
    expect(message(() => parse([...base, '--prometheus-url', 'http://10.0.0.1:9090']))).toMatch(/^--prometheus-url: expected an http:\/\/ URL on loopback/)
    expect(message(() => parse([...base, '--filename', '/no/such/dir']))).toMatch(/^--filename \/no\/such\/dir: cannot read the manifest folder/)
    expect(message(() => parse([...base, '-f', '/no/such/dir']))).toMatch(/^-f \/no\/such\/dir: /)
    expect(message(() => parse(['ship']))).toMatch(/expected the command 'deploy' or 'verify', instead got 'ship'/)
    expect(message(() => parse(['deploy', '--to', 'b']))).toMatch(/^--from: expected the command of the running revision, instead got nothing/)
  })

  it('a bad value from a fanned-out option names the flag that set it', () => {
    expect(message(() => parse([...base, '--probe-failure-threshold', '0']))).toBe('--probe-failure-threshold: expected an integer ≥ 1, instead got 0')
    expect(message(() => parse([...base, '--probe-failure-threshold', '2', '--startup-failure-threshold', '0']))).toBe('--startup-failure-threshold: expected an integer ≥ 1, instead got 0')
    expect(message(() => parse([...base, '--probe-timeout-ms', '0']))).toBe('--probe-timeout-ms: expected an integer ≥ 1, instead got 0')
    expect(message(() => parse([...base, '--readiness-path', 'readyz']))).toBe("--readiness-path: expected a path starting with '/', instead got 'readyz'")
    expect(message(() => parse([...base, '--strategy', 'canary', '--steps', 'w150']))).toMatch(/^--steps: expected a number from 0 to 100, instead got 150$/)
  })

  it('keeps the meaning of every flag: repeatable headers, probe paths, on/off, docker revisions, manifests under flags', () => {
    const p = parse([...base, '--header', 'a: 1', '--header', 'b:2', '--startup-path', 'none', '--readiness-path', '/ready', '--max-surge', '50%', '--probe-period-ms', '200'])
    expect(p.options.load?.headers).toEqual({ a: '1', b: '2' })
    expect(p.options.probes).toEqual({ common: { periodMs: 200 }, startup: { enabled: false }, readiness: { path: '/ready' } })
    expect(p.options.rolling).toEqual({ maxSurge: '50%' })
    const bg = parse([...base, '--strategy', 'blue-green', '--pre-promotion-analysis', 'off', '--post-promotion-analysis', 'on'])
    expect(bg.options.blueGreen).toEqual({ prePromotionAnalysis: false, postPromotionAnalysis: true })
    const d = parse(['deploy', '--runtime', 'docker', '--image', 'demo:v1', '--to-image', 'demo:v2', '--container-env', 'NAIVE=1', '--termination-grace-period-seconds', '7'])
    expect(d.options.from).toMatch(/^exec .*docker-supervisor\.js --image demo:v1 --grace 7 --env NAIVE=1$/)
    expect(d.options.to).toMatch(/--image demo:v2 /)
    expect(message(() => parse(['deploy', '--runtime', 'docker', '--image', 'a:1']))).toMatch(/expected --image \(running revision\) and --to-image/)
    expect(message(() => parse(['deploy', '--runtime', 'docker', '--image', 'a:1', '--to-image', 'b:1', '--from', 'x']))).toMatch(/not both/)
    expect(message(() => parse(['deploy', '--runtime', 'podman']))).toBe("--runtime: expected one of process, docker, instead got 'podman'")
    const m = parse([...base, '-f', 'k8s/rolling', '--replicas', '2'])
    expect(m.options.replicas).toBe(2)
    expect(typeof m.options.from).toBe('object')
    expect(parse(['--help']).help).toBe(true)
    expect(parse(['deploy', '-h']).help).toBe(true)
    expect(usage()).toBe(helpText(DEPLOY_COMMAND))
    expect(usage()).toMatch(/64\s+bad usage/)
  })

  it('--strategy from the manifests decides where --steps applies', () => {
    const c = parse([...base, '-f', 'k8s/canary', '--steps', '5,50'])
    expect(c.options.canary?.steps).toEqual([{ setWeight: 5 }, { analysis: true }, { setWeight: 50 }, { analysis: true }])
  })
})

describe('one duration parser, one loopback rule, one set of validators', () => {
  it('1m30s is accepted by --steps, --analysis-interval-ms and the analysis options', () => {
    const c = parse([...base, '--strategy', 'canary', '--steps', 'w10,pause:1m30s,analysis,w100'])
    expect(resolveCanary(c.options.canary).steps[1]).toEqual({ pause: { durationMs: 90_000 } })
    const a = parse([...base, '--analysis-interval-ms', '1m30s'])
    expect(resolveAnalysis(a.options.analysis).intervalMs).toBe(90_000)
    expect(resolveAnalysis({ intervalMs: '1m30s' }).intervalMs).toBe(90_000)
    expect(parseArgoDuration('1m30s', 'x')).toBe(90_000)
    expect(parseArgoDuration('500ms', 'x')).toBe(500)
    expect(parseArgoDuration(30, 'x')).toBe(30_000)
  })

  it('durations are at most 2147483647 ms', () => {
    expect(() => parseArgoDuration('600h', 'pause')).toThrow(/pause: expected a duration: .*at most 2147483647 ms/)
    expect(parseArgoDuration('596h', 'pause')).toBe(596 * 3_600_000)
    expect(() => resolveDeployOptions({ from: 'a', to: 'b', endpointDelayMs: 3e9 })).toThrow(/endpointDelayMs: expected at most 2147483647 ms/)
    expect(() => resolveDeployOptions({ from: 'a', to: 'b', terminationGracePeriodSeconds: 3e6 })).toThrow(/terminationGracePeriodSeconds: expected at most 2147483.647 seconds/)
    expect(() => resolveCanary({ steps: [{ pause: { durationMs: 3e9 } }] })).toThrow(/canary.steps\[0\].pause.durationMs/)
    expect(() => resolveRouterOptions({ requestTimeoutMs: 3e9 })).toThrow(/router option requestTimeoutMs: expected a number of milliseconds from 1 to 2147483647, instead got 3000000000/)
  })

  it('loopback is 127.0.0.0/8, ::1 and localhost, the same for the router and the Prometheus URL', () => {
    for (const h of ['127.0.0.1', '127.0.0.2', '127.255.255.254', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) expect(isLoopback(h), h).toBe(true)
    for (const h of ['10.0.0.1', '0.0.0.0', '128.0.0.1', '127.0.0.256', '::', 'localhost.example.com', '127.0.0.1.nip.io', '']) expect(isLoopback(h), h).toBe(false)
    expect(resolveRouterOptions({ host: '127.0.0.2' }).host).toBe('127.0.0.2')
    expect(resolveAnalysis({ prometheusUrl: 'http://127.0.0.2:9090' }).prometheusUrl).toBe('http://127.0.0.2:9090')
    expect(resolveAnalysis({ prometheusUrl: 'http://[::1]:9090/' }).prometheusUrl).toBe('http://[::1]:9090')
    expect(() => resolveAnalysis({ prometheusUrl: 'http://10.0.0.1:9090' })).toThrow(InvalidOptionError)
    expect(() => resolveRouterOptions({ host: '10.0.0.1' })).toThrow(/loopback/)
  })
})

describe('one error convention', () => {
  it('the table key is the code; the short names are derived from it', () => {
    for (const code of Object.keys(ERRORS)) expect(code).toMatch(/^ZD_ERR_[A-Z0-9_]+$/)
    expect(ERROR_CODES.INVALID_OPTION).toBe('ZD_ERR_INVALID_OPTION')
    expect(ERROR_CODES.ROUTER_LISTEN).toBe('ZD_ERR_ROUTER_LISTEN')
    expect(Object.values(ERROR_CODES).sort()).toEqual(Object.keys(ERRORS).sort())
  })

  it('both packages print a received value the same way', () => {
    const values: unknown[] = [undefined, null, 5, -1.5, Number.NaN, Infinity, true, 'abc', "it's", '', [1, 'a'], { a: 1 }, () => 1, 10n]
    for (const v of values) expect(describeFleet(v)).toBe(describeLifecycle(v))
    expect(values.map(describeFleet)).toEqual(['undefined', 'null', '5', '-1.5', 'NaN', 'Infinity', 'true', "'abc'", '"it\'s"', "''", "[1, 'a']", 'an object {"a":1}', 'a function', '10n'])
  })
})

describe('the verify flag table (a second command sharing the load and output flags)', () => {
  const vbase = ['--url', 'http://127.0.0.1:1/', '--quiet']
  const vargv = (f: FlagSpec, token: string): string[] => {
    const own = f.type === 'boolean' ? [`--${f.name}`] : [`--${f.name}`, token]
    return [...(f.name === 'url' ? ['--quiet'] : vbase), ...own, '--', 'true']
  }

  it.each(VERIFY_FLAGS.map((f) => [f.name, f] as const))('--%s is in verify --help with its default', (name, f) => {
    const line = VERIFY_HELP.split('\n').findIndex((l) => l.startsWith(`  --${name}`) || l.startsWith(`  -${f.short ?? '?'}, --${name}`))
    expect(line, `--${name} in the help`).toBeGreaterThan(-1)
    if (f.default !== undefined) expect(VERIFY_HELP.split('\n').slice(line, line + 4).join(' ').replace(/\s+/g, ' ')).toContain(`default ${f.default}`)
  })

  it.each(VERIFY_FLAGS.filter((f) => f.name !== 'help').map((f) => [f.name, f] as const))('--%s parses and sets its verify option', (name, f) => {
    const p = parseVerifyArgs(vargv(f, f.example))
    expect(p.flags?.values.has(name)).toBe(true)
    if (f.option !== undefined) expect(getPath(p.options, f.option), f.option).toBeDefined()
    if (f.type === 'number') expect(getPath(p.options, f.option ?? '')).toBe(numeric(f.example))
  })

  it.each(VERIFY_FLAGS.filter((f) => f.type === 'number').map((f) => [f.name, f] as const))('verify --%s abc and -5: rejected naming the flag', (name, f) => {
    expect(message(() => parseVerifyArgs(vargv(f, 'abc')))).toMatch(new RegExp(`^--${name}: expected .+, instead got 'abc'$`))
    expect(message(() => parseVerifyArgs(vargv(f, '-5')))).toMatch(new RegExp(`^--${name}: expected .+, instead got -5$`))
  })

  it('shares the flag definitions: --rate, --header, --json are the same entries under verify option paths', () => {
    const rate = VERIFY_FLAGS.find((f) => f.name === 'rate')
    expect(rate?.option).toBe('rate')
    expect(rate?.help).toBe(DEPLOY_FLAGS.find((f) => f.name === 'rate')?.help)
    expect(parseVerifyArgs([...vbase, '--header', 'Host: a', '--duration', '1m30s', '--', 'kubectl', 'apply']).options).toMatchObject({ headers: { Host: 'a' }, durationMs: 90_000, command: ['kubectl', 'apply'] })
    expect(message(() => parseVerifyArgs([...vbase, '--duration', '11m', '--', 'true']))).toBe("--duration: expected seconds or a duration like 90s or 5m, at most 600 s, instead got '11m'")
    expect(message(() => parseVerifyArgs([...vbase, '--ca', '/no/ca.pem', '--', 'true']))).toBe("--ca: expected a readable PEM file, instead could not read '/no/ca.pem': ENOENT")
  })
})
