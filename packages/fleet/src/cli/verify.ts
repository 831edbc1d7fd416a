import fs from 'node:fs'
import { parseArgs } from 'node:util'
import { parseArgoDuration } from '../core/durations.js'
import { FleetUsageError } from '../core/errors.js'
import { VERIFY_DEFAULTS, VERIFY_LIMITS, type VerifyOptions } from '../options/verify.js'
import { formatVerifyReport, verifyJson } from '../verify/report.js'
import { verify, VERIFY_EXIT_CODES } from '../verify/verify.js'
import { reportInternalError } from './internal-error.js'

export const VERIFY_HELP = `zerodrop verify — count every request to a URL while your own command performs the rollout

usage: zerodrop verify --url URL [flags] -- <command> [args…]

  zerodrop verify --url http://127.0.0.1:8080/ --json report.json -- kubectl rollout restart deploy/api
  zerodrop verify --url https://staging.example.com/ --until 'kubectl rollout status deploy/api' -- kubectl apply -f k8s/rolling
  zerodrop verify --url http://127.0.0.1:8080/ -- docker compose up -d --no-deps green

The load starts, runs --lead-ms, then the command runs (its argv as given after --, no shell: write
sh -c '…' for one; its output passes through). The rollout is over when the command exits — and, with
--until, when that shell command exits 0, polled — or at --duration. The load runs --tail-ms more,
stops gracefully (every outstanding request settles), and every request is counted by the load side
itself: ok, non-2xx (the load balancer's or the application's), lost, reset, refused, timeout; and
every connection that could not be opened.

target
  --url URL                      the URL to load (required; no default). http: or https:; any host, so the
                                 load goes where you point it — it must answer 2xx before the command starts
  --header "Name: value"         request header, repeatable (e.g. --header "Host: api.example.com" behind an ingress)
  --method M                     request method (default ${VERIFY_DEFAULTS.method})
  --body TEXT                    request body
  --ca FILE                      PEM CA certificate(s) to trust for https:
  --insecure                     do not verify the server's TLS certificate

load (bounded: at most ${VERIFY_LIMITS.rate} req/s, a rollout of at most ${VERIFY_LIMITS.durationMs / 1000} s)
  --rate N                       requests per second over all connections, evenly paced (default ${VERIFY_DEFAULTS.rate})
  --connections N                keep-alive connections (default ${VERIFY_DEFAULTS.connections})
  --burst N                      requests a connection sends back to back, each as soon as the previous answer is
                                 in, before it pauses (default ${VERIFY_DEFAULTS.burst})
  --reconnect-every N            replace a connection after N requests, 0 never (default ${VERIFY_DEFAULTS.reconnectEvery})
  --timeout-ms MS                a request without a complete answer after this long is a timeout (default ${VERIFY_DEFAULTS.timeoutMs})
  --lead-ms MS                   load before the command starts (default ${VERIFY_DEFAULTS.leadMs})
  --tail-ms MS                   load after the rollout is over (default ${VERIFY_DEFAULTS.tailMs})

the rollout
  --until CMD                    after the command exits 0, poll this shell command until it exits 0
                                 (e.g. 'kubectl rollout status deploy/api')
  --until-interval-ms MS         time between polls (default ${VERIFY_DEFAULTS.untilIntervalMs})
  --duration D                   bound on the rollout (command and --until): seconds, or 90s, 5m (default
                                 ${VERIFY_DEFAULTS.durationMs / 1000} s, at most ${VERIFY_LIMITS.durationMs / 1000} s); at the bound the command gets SIGTERM and the run exits 3

reading the answers
  --version-header NAME          response header naming the version that answered (e.g. x-app-version): the report
                                 shows the traffic moving between versions; a 502/503/504 without it is the load balancer's
  --lb-header "Name[: value]"    a 502/503/504 carrying this response header (value as a case-insensitive substring)
                                 is the load balancer's (e.g. "Server: haproxy"); other non-2xx are the application's
  --expect-drops                 the negative control of your set-up: exit 0 only if dropped > 0

output
  --json FILE                    write { schema: 'zerodrop.verify/v1', dropped, exitCode, requests, ok, non2xx: { lb, app },
                                 lost, reset, refused, timeout, refusedConnections, command: { argv, exitCode }, perSecond }
  --quiet                        no progress lines on stderr
  -h, --help                     this text

exit codes
  0   zero dropped, and the command exited 0 (and --until succeeded)
  1   requests dropped, whatever the command did (with --expect-drops: none dropped)
  3   zero dropped, but the command failed or could not start, --until never succeeded, or --duration was reached
  64  bad usage, or --url did not answer 2xx before the command started
  130 interrupted (SIGINT/SIGTERM); the command gets SIGTERM and the counts so far are reported

Dropped = every request not answered 2xx (lost + reset + refused + timed-out requests + non-2xx answers,
each request in exactly one of those) plus every connection that could not be opened, counted by the
load side (nothing retried).`

/** API option names → the flags a user typed, so errors name what was typed. */
const VERIFY_FLAGS: Readonly<Record<string, string>> = {
  url: '--url',
  command: '-- <command>',
  until: '--until',
  untilIntervalMs: '--until-interval-ms',
  rate: '--rate',
  connections: '--connections',
  burst: '--burst',
  reconnectEvery: '--reconnect-every',
  leadMs: '--lead-ms',
  tailMs: '--tail-ms',
  durationMs: '--duration',
  timeoutMs: '--timeout-ms',
  method: '--method',
  headers: '--header',
  versionHeader: '--version-header',
  lbHeader: '--lb-header',
}

export class VerifyUsageError extends Error {}

const NUMBERS = {
  rate: 'num',
  connections: 'int',
  burst: 'int',
  'reconnect-every': 'int',
  'lead-ms': 'int',
  'tail-ms': 'int',
  'timeout-ms': 'int',
  'until-interval-ms': 'int',
} as const
const STRINGS = ['url', 'until', 'duration', 'method', 'body', 'version-header', 'lb-header', 'ca', 'json'] as const
const BOOLEANS = ['insecure', 'expect-drops', 'quiet'] as const

export interface ParsedVerify {
  readonly help: boolean
  readonly options: VerifyOptions
  readonly json: string | undefined
  readonly quiet: boolean
}

/** `zerodrop verify …` (argv after `verify`) → options. */
export function parseVerifyArgs(argv: readonly string[]): ParsedVerify {
  const dash = argv.indexOf('--')
  const flags = dash < 0 ? [...argv] : argv.slice(0, dash)
  const command = dash < 0 ? [] : argv.slice(dash + 1)
  const spec: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    header: { type: 'string', multiple: true },
  }
  for (const f of STRINGS) spec[f] = { type: 'string' }
  for (const f of Object.keys(NUMBERS)) spec[f] = { type: 'string' }
  for (const f of BOOLEANS) spec[f] = { type: 'boolean' }
  let parsed: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] }
  try {
    parsed = parseArgs({ args: flags, options: spec, allowPositionals: true, strict: true }) as typeof parsed
  } catch (err) {
    throw new VerifyUsageError(`${(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')}; see zerodrop verify --help`)
  }
  const v = parsed.values
  if (v.help === true) return { help: true, options: { url: '', command: [] }, json: undefined, quiet: false }
  if (parsed.positionals.length > 0) {
    throw new VerifyUsageError(`unexpected argument '${parsed.positionals[0] ?? ''}' before '--': the rollout command goes after it, e.g. zerodrop verify --url URL -- kubectl rollout restart deploy/api`)
  }
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined)
  if (str('url') === undefined) throw new VerifyUsageError('--url: expected the URL to verify, e.g. --url http://127.0.0.1:8080/, instead got nothing (there is no default target)')
  if (command.length === 0) throw new VerifyUsageError("expected the rollout command after '--', instead got nothing, e.g. zerodrop verify --url URL -- kubectl rollout restart deploy/api")
  const n = (k: keyof typeof NUMBERS): number | undefined => {
    const raw = str(k)
    if (raw === undefined) return undefined
    const x = Number(raw)
    const isInt = NUMBERS[k] === 'int'
    if (raw.trim() === '' || !Number.isFinite(x) || (isInt && !Number.isInteger(x)) || x < 0) {
      throw new VerifyUsageError(`--${k}: expected ${isInt ? 'a non-negative integer' : 'a non-negative number'}, instead got '${raw}'`)
    }
    return x
  }
  const headers: Record<string, string> = {}
  for (const h of (v.header as string[] | undefined) ?? []) {
    const i = h.indexOf(':')
    if (i <= 0) throw new VerifyUsageError(`--header: expected "Name: value", instead got '${h}'`)
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim()
  }
  let durationMs: number | undefined
  const duration = str('duration')
  if (duration !== undefined) {
    try {
      durationMs = parseArgoDuration(duration, 'durationMs')
    } catch {
      throw new VerifyUsageError(`--duration: expected seconds or a duration like 90s or 5m, at most ${VERIFY_LIMITS.durationMs / 1000} s, instead got '${duration}'`)
    }
  }
  let ca: string | undefined
  const caFile = str('ca')
  if (caFile !== undefined) {
    try {
      ca = fs.readFileSync(caFile, 'utf8')
    } catch (err) {
      throw new VerifyUsageError(`--ca: expected a readable PEM file, instead could not read '${caFile}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
  }
  const options: Record<string, unknown> = {
    url: str('url'),
    command,
    until: str('until'),
    untilIntervalMs: n('until-interval-ms'),
    rate: n('rate'),
    connections: n('connections'),
    burst: n('burst'),
    reconnectEvery: n('reconnect-every'),
    leadMs: n('lead-ms'),
    tailMs: n('tail-ms'),
    durationMs: durationMs === undefined ? undefined : Math.round(durationMs),
    timeoutMs: n('timeout-ms'),
    method: str('method'),
    headers,
    body: str('body'),
    versionHeader: str('version-header'),
    lbHeader: str('lb-header'),
    ca,
    insecure: v.insecure === true,
    expectDrops: v['expect-drops'] === true,
  }
  for (const k of Object.keys(options)) if (options[k] === undefined) delete options[k]
  return { help: false, options: options as unknown as VerifyOptions, json: str('json'), quiet: v.quiet === true }
}

/** A usage error from option resolution, with the API option name replaced by the flag. */
function verifyUsageMessage(err: FleetUsageError): string {
  const flag = err.option === undefined ? undefined : VERIFY_FLAGS[err.option]
  if (flag && err.option && err.message.startsWith(`${err.option}:`)) return `${flag}${err.message.slice(err.option.length)}`
  return err.message
}

export async function verifyMain(argv: readonly string[]): Promise<number> {
  let parsed: ParsedVerify
  try {
    parsed = parseVerifyArgs(argv)
  } catch (err) {
    if (err instanceof VerifyUsageError) {
      process.stderr.write(`zerodrop verify: ${err.message}\n`)
      return VERIFY_EXIT_CODES.usage
    }
    throw err
  }
  if (parsed.help) {
    process.stdout.write(`${VERIFY_HELP}\n`)
    return 0
  }
  const controller = new AbortController()
  let signals = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++
    if (signals > 1) process.exit(VERIFY_EXIT_CODES.interrupted)
    process.stderr.write(`zerodrop verify: ${signal}: stopping the command and the load, then counting (again to force)\n`)
    controller.abort(signal)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    const result = await verify({
      ...parsed.options,
      signal: controller.signal,
      ...(parsed.quiet ? {} : { onProgress: (e: { t: number; message: string }) => process.stderr.write(`[${(e.t / 1000).toFixed(1).padStart(6)} s] ${e.message}\n`) }),
    })
    process.stdout.write(`${formatVerifyReport(result)}\n`)
    if (parsed.json) fs.writeFileSync(parsed.json, `${JSON.stringify(verifyJson(result), null, 2)}\n`)
    return result.exitCode
  } catch (err) {
    if (err instanceof FleetUsageError) {
      process.stderr.write(`zerodrop verify: ${verifyUsageMessage(err)}\n`)
      return VERIFY_EXIT_CODES.usage
    }
    return reportInternalError(err, undefined, 'zerodrop verify')
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
