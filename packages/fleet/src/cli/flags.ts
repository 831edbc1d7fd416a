/**
 * The CLI's flags, in one table per command, and everything generated from it: the `node:util`
 * `parseArgs` spec, the help text, value coercion, the option path each flag sets, the "applies
 * only to strategy X" check, and the mapping of an option error back to the flag as typed. A
 * flag's range lives with its option (options/), not here: a numeric token is coerced to a
 * number and handed to the option's validator, whose message the CLI re-addresses to the flag
 * (`--probe-period-ms: expected an integer ≥ 10, instead got 5`).
 *
 * How to add a flag
 * 1. Add one `FlagSpec` to the list of its command (`DEPLOY_FLAGS`), or to a shared list
 *    (`OUTPUT_FLAGS`, `PROBE_FLAGS`, `LOAD_FLAGS`) when another command takes it too. Give it:
 *    - `name` (without dashes), `type` ('string' | 'number' | 'boolean'), `group` (a heading of
 *      the command's `groups`), `help` (one sentence), `default` (as shown in the help);
 *    - `option`: the dotted path it sets in the command's options (`'load.rate'`); leave it out
 *      for a flag the CLI itself handles (`json`, `quiet`), and read it from `ParsedFlags.values`;
 *    - `coerce` when the token is not a plain string or number (`onOff`, `probePath`, a list);
 *      throw `FlagValueError(expected)` for a token that cannot be one; numbers need none;
 *    - `only: { strategy: 'canary' }` when it applies with one value of another flag (its
 *      default counts; `true` means "that flag is given");
 *    - `example`: a valid token, used by the table's own test (cli-flags.unit.test.ts);
 *    - `errorsAt`: other option paths whose errors this flag answers for, when the option
 *      fans out (`probes.common.periodMs` is checked as `probes.startup.periodMs` …).
 * 2. Nothing else: the parse spec, the help line, the coercion and the test come from the entry.
 * A second command (`zerodrop verify`) is a `CommandSpec` of its own whose `flags` spread the
 * shared lists and add its own; `parseFlags(spec, argv)` and `helpText(spec)` work on any.
 */
import fs from 'node:fs'
import { parseArgs } from 'node:util'
import { parseArgoDuration } from '../core/durations.js'
import { CliUsageError, describe, FlagValueError, InvalidOptionError, type FleetUsageError } from '../core/errors.js'
import { ROUTER_MODES, STRATEGIES } from '../options/deploy.js'
import { DEFAULT_CANARY_WEIGHTS, parseStepsFlag } from '../options/progressive.js'
import { VERIFY_DEFAULTS, VERIFY_LIMITS } from '../options/verify.js'

export interface FlagSpec {
  /** The long name, without the dashes. */
  readonly name: string
  readonly short?: string
  readonly type: 'string' | 'number' | 'boolean'
  /** Repeatable; `coerce` runs per token and `combine` joins the results. */
  readonly multiple?: boolean
  /** The value's placeholder in the help (`N`, `MS`, `CMD`). @default by type */
  readonly value?: string
  readonly group: string
  readonly help: string
  /** As shown in the help, and the value `only` checks against when the flag is not given. */
  readonly default?: string
  /** The dotted option path the flag sets; absent for flags the CLI handles itself. */
  readonly option?: string
  /** Option paths (besides `option`) whose validation errors name this flag. */
  readonly errorsAt?: readonly string[]
  readonly coerce?: (raw: string) => unknown
  readonly combine?: (values: readonly unknown[]) => unknown
  /** The value a boolean flag sets at its option when given. @default true */
  readonly sets?: unknown
  /** Applies only when these flags have these values (`true`: when given). */
  readonly only?: Readonly<Record<string, string | true>>
  /** A valid token, for the table's test. */
  readonly example: string
}

export interface FlagGroup {
  readonly id: string
  readonly title: string
}

export interface CommandSpec {
  readonly name: string
  /** The first line of the help. */
  readonly title: string
  readonly usage: string
  /** Prose after the usage line. */
  readonly intro: string
  readonly groups: readonly FlagGroup[]
  readonly flags: readonly FlagSpec[]
  /** Prose after the flags (exit codes …). */
  readonly epilog: string
  /** How errors name option paths no flag sets (verify's `command` is what follows `--`). */
  readonly optionNames?: Readonly<Record<string, string>>
}

export interface ParsedFlags {
  readonly spec: CommandSpec
  readonly positionals: readonly string[]
  /** Coerced value of every flag given, by flag name. */
  readonly values: ReadonlyMap<string, unknown>
  /** The spelling the user typed (`-f` or `--filename`), by flag name. */
  readonly spelling: ReadonlyMap<string, string>
  /** Raw tokens, by flag name (an array for repeatable flags). */
  readonly raw: ReadonlyMap<string, string | readonly string[]>
  /** The options the given flags set, nested by their option paths. */
  readonly options: Record<string, unknown>
}

// ---- coercions ------------------------------------------------------------------------------

/** A token that reads as a finite number becomes one; anything else stays a string, so the option's validator rejects it with its own expectation. */
export function numeric(raw: string): number | string {
  const x = Number(raw)
  return raw.trim() !== '' && Number.isFinite(x) ? x : raw
}

function onOff(raw: string): boolean {
  if (raw === 'on') return true
  if (raw === 'off') return false
  throw new FlagValueError("'on' or 'off'")
}

function probePath(raw: string): { enabled: false } | { path: string } {
  return raw === 'none' ? { enabled: false } : { path: raw }
}

function surge(raw: string): number | string {
  return /^\d+$/.test(raw.trim()) ? Number(raw) : raw
}

function header(raw: string): readonly [string, string] {
  const i = raw.indexOf(':')
  if (i <= 0) throw new FlagValueError('"Name: value"')
  return [raw.slice(0, i).trim(), raw.slice(i + 1).trim()]
}

function envPair(raw: string): readonly [string, string] {
  const eq = raw.indexOf('=')
  if (eq < 1) throw new FlagValueError('NAME=value')
  return [raw.slice(0, eq), raw.slice(eq + 1)]
}

const pairs = (values: readonly unknown[]): Record<string, string> => Object.fromEntries(values as Array<readonly [string, string]>)

function steps(raw: string): unknown {
  try {
    return parseStepsFlag(raw)
  } catch (err) {
    if (!(err instanceof InvalidOptionError)) throw err
    throw new FlagValueError(err.expected, typeof err.received === 'string' ? err.received : undefined)
  }
}

/** `--recheck-writes FILE`: the writes an earlier deploy's JSON report kept (`dataCheck.kept`). */
function keptWrites(raw: string): unknown {
  let text: string
  try {
    text = fs.readFileSync(raw, 'utf8')
  } catch (err) {
    throw new FlagValueError('a zerodrop deploy --json report', raw, `could not read ${describe(raw)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  let kept: unknown
  try {
    kept = (JSON.parse(text) as { dataCheck?: { kept?: unknown } })?.dataCheck?.kept
  } catch {
    throw new FlagValueError('a zerodrop deploy --json report', raw, `${describe(raw)} is not JSON`)
  }
  if (!Array.isArray(kept)) throw new FlagValueError('a zerodrop deploy --json report of a deploy with checked writes (its dataCheck.kept)', raw, `${describe(raw)} has no dataCheck.kept`)
  return kept
}

const concat = (values: readonly unknown[]): unknown[] => values.flatMap((v) => v as unknown[])

function positive(raw: string): number {
  const x = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(x) || x <= 0) throw new FlagValueError('a number > 0')
  return x
}

function oneOf(choices: readonly string[]): (raw: string) => string {
  return (raw) => {
    if (!choices.includes(raw)) throw new FlagValueError(`one of ${choices.join(', ')}`)
    return raw
  }
}

// ---- the tables -----------------------------------------------------------------------------

const PROBES = ['startup', 'readiness', 'liveness'] as const
const fanOut = (field: string): readonly string[] => PROBES.map((p) => `probes.${p}.${field}`)

/** Output and help, for every command (none sets an option: the CLI reads them). */
export const OUTPUT_FLAGS: readonly FlagSpec[] = [
  { name: 'json', type: 'string', value: 'FILE', group: 'output', help: 'write the report as JSON', example: 'report.json' },
  { name: 'quiet', type: 'boolean', group: 'output', help: 'no progress on stderr (on a terminal: event lines under one live status line; elsewhere: the event lines only)', example: '' },
  { name: 'help', short: 'h', type: 'boolean', group: 'output', help: 'this text', example: '' },
]

/** Probe settings (kubelet semantics), for every command that runs instances. */
export const PROBE_FLAGS: readonly FlagSpec[] = [
  { name: 'probe-period-ms', type: 'number', value: 'MS', group: 'probes', help: "time between probes (Kubernetes' default is 10 s)", default: '1000', option: 'probes.common.periodMs', errorsAt: fanOut('periodMs'), example: '200' },
  { name: 'probe-timeout-ms', type: 'number', value: 'MS', group: 'probes', help: 'a slower probe fails', default: '1000', option: 'probes.common.timeoutMs', errorsAt: fanOut('timeoutMs'), example: '500' },
  { name: 'probe-initial-delay-ms', type: 'number', value: 'MS', group: 'probes', help: 'wait after start before the first probe', default: '0', option: 'probes.common.initialDelayMs', errorsAt: fanOut('initialDelayMs'), example: '100' },
  { name: 'probe-failure-threshold', type: 'number', value: 'N', group: 'probes', help: 'consecutive failures that count', default: '3', option: 'probes.common.failureThreshold', errorsAt: fanOut('failureThreshold'), example: '2' },
  { name: 'probe-success-threshold', type: 'number', value: 'N', group: 'probes', help: 'consecutive successes for readiness', default: '1', option: 'probes.readiness.successThreshold', example: '2' },
  { name: 'startup-failure-threshold', type: 'number', value: 'N', group: 'probes', help: 'startup probe failures before a restart', default: '60', option: 'probes.startup.failureThreshold', example: '30' },
  { name: 'startup-path', type: 'string', value: 'PATH', group: 'probes', help: '"none" disables the startup probe', default: '/startupz', option: 'probes.startup', errorsAt: ['probes.startup.path'], coerce: probePath, example: '/started' },
  { name: 'readiness-path', type: 'string', value: 'PATH', group: 'probes', help: '"none" disables: ready once started', default: '/readyz', option: 'probes.readiness', errorsAt: ['probes.readiness.path'], coerce: probePath, example: 'none' },
  { name: 'liveness-path', type: 'string', value: 'PATH', group: 'probes', help: '"none" disables', default: '/livez', option: 'probes.liveness', errorsAt: ['probes.liveness.path'], coerce: probePath, example: '/alive' },
]

/** The load through the router. */
export const LOAD_FLAGS: readonly FlagSpec[] = [
  { name: 'connections', type: 'number', value: 'N', group: 'load', help: 'keep-alive connections of the load generator', default: '50', option: 'load.connections', example: '10' },
  { name: 'rate', type: 'number', value: 'N', group: 'load', help: 'requests per second over all connections, evenly paced', default: '300', option: 'load.rate', example: '100' },
  { name: 'reconnect-rate', type: 'number', value: 'N', group: 'load', help: 'reopen each connection after N requests, 0 never', default: '30', option: 'load.reconnectRate', example: '0' },
  { name: 'burst', type: 'number', value: 'N', group: 'load', help: 'requests a connection sends back to back before pausing', default: '3', option: 'load.burst', example: '2' },
  { name: 'method', type: 'string', value: 'M', group: 'load', help: 'request method', default: 'GET', option: 'load.method', example: 'POST' },
  { name: 'path', type: 'string', value: 'P', group: 'load', help: 'request path', default: '/', option: 'load.path', example: '/hello' },
  { name: 'header', type: 'string', multiple: true, value: '"Name: value"', group: 'load', help: 'request header, repeatable', option: 'load.headers', coerce: header, combine: pairs, example: 'x-test: 1' },
  { name: 'body', type: 'string', value: 'TEXT', group: 'load', help: 'request body', option: 'load.body', example: '{}' },
  { name: 'request', type: 'string', multiple: true, value: '"[W*] METHOD /PATH [BODY] [=> GET /PATH/{{.ID}} .FIELD]"', group: 'load', help: 'a request mix instead of --method/--path/--body (not with them), repeatable: W is the entry\'s weight (default 1), BODY the rest of the line; {{seq}} becomes a value unique to the request; --header applies to all; exact clients send the first GET. With "=> GET /items/{{.id}} .name" the entry is a checked write: after the load stops, each one answered 2xx is read back through the router by the id at that field of its answer, and .name of the read must be its {{seq}} value (lost or changed: exit 5)', option: 'load.requests', example: 'POST /items {"name":"{{seq}}"} => GET /items/{{.id}} .name' },
  { name: 'data-check-max-writes', type: 'number', value: 'N', group: 'load', help: 'checked writes kept for the data check; later ones are counted, not read back', default: '10000', option: 'load.dataCheckMaxWrites', example: '500' },
  { name: 'recheck-writes', type: 'string', multiple: true, value: 'FILE', group: 'load', help: 'the --json report of an earlier deploy: its verified writes are read back again by this one\'s data check (a later migration step must not lose them), repeatable', option: 'recheckWrites', coerce: keptWrites, combine: concat, example: 'test/fleet/fixtures/kept-writes.json' },
  { name: 'data-check-timeout-ms', type: 'number', value: 'MS', group: 'load', help: 'the data check\'s read-back ends within this; writes not read by then are unverified', default: '30000', option: 'load.dataCheckTimeoutMs', example: '10000' },
  { name: 'lead-ms', type: 'number', value: 'MS', group: 'load', help: 'load before the rollout starts', default: '1500', option: 'load.leadMs', example: '500' },
  { name: 'tail-ms', type: 'number', value: 'MS', group: 'load', help: 'load after the rollout ends', default: '1500', option: 'load.tailMs', example: '500' },
  { name: 'timeout-ms', type: 'number', value: 'MS', group: 'load', help: 'a request without an answer after this long is a timeout', default: '10000', option: 'load.timeoutMs', example: '5000' },
  { name: 'exact-clients', type: 'number', value: 'N', group: 'load', help: 'exact closed-loop clients beside the main load, 0 none', default: '4', option: 'load.exactClients', example: '2' },
]

const canary = { strategy: 'canary' } as const
const blueGreen = { strategy: 'blue-green' } as const
const docker = { runtime: 'docker' } as const

/** `zerodrop deploy`. */
export const DEPLOY_FLAGS: readonly FlagSpec[] = [
  { name: 'from', type: 'string', value: 'CMD', group: 'revisions', help: 'command of the running revision (required, unless --runtime docker)', option: 'from', example: 'node v1.js' },
  { name: 'to', type: 'string', value: 'CMD', group: 'revisions', help: 'command of the revision to deploy (required, unless --runtime docker)', option: 'to', example: 'node v2.js' },
  { name: 'strategy', type: 'string', value: STRATEGIES.join('|'), group: 'revisions', help: 'deployment strategy', default: 'rolling', option: 'strategy', example: 'blue-green' },
  { name: 'replicas', type: 'number', value: 'N', group: 'revisions', help: 'instances per revision', default: '3', option: 'replicas', example: '2' },
  { name: 'runtime', type: 'string', value: 'process|docker', group: 'revisions', help: 'process: each instance runs the command; docker: each instance is a container on the host network, stopped with docker stop -t <grace>', default: 'process', coerce: oneOf(['process', 'docker']), example: 'process' },
  { name: 'image', type: 'string', value: 'IMG', group: 'revisions', help: 'the image of the running revision, instead of --from', only: docker, example: 'zerodrop-demo:v1' },
  { name: 'to-image', type: 'string', value: 'IMG', group: 'revisions', help: 'the image of the revision to deploy, instead of --to', only: docker, example: 'zerodrop-demo:v2' },
  { name: 'container-env', type: 'string', multiple: true, value: 'NAME=VALUE', group: 'revisions', help: 'environment for every container, repeatable', coerce: envPair, combine: pairs, only: docker, example: 'NAIVE=1' },

  { name: 'router', type: 'string', value: ROUTER_MODES.join('|'), group: 'router', help: 'l4: each connection pinned to one instance (kube-proxy); l7: each request balanced over keep-alive upstream pools (an ingress)', default: 'l4', option: 'router', example: 'l7' },
  { name: 'port', type: 'number', value: 'N', group: 'router', help: 'router port on 127.0.0.1; 0 picks a free one', default: '0', option: 'port', example: '0' },
  { name: 'endpoint-delay-ms', type: 'number', value: 'MS', group: 'router', help: 'removal from the router lags SIGTERM by this much, as endpoints do in Kubernetes', default: '1000', option: 'endpointDelayMs', example: '500' },
  { name: 'upstream-idle-timeout-ms', type: 'number', value: 'MS', group: 'router', help: 'l7 upstream keep-alive idle timeout', default: '60000', option: 'upstreamIdleTimeoutMs', example: '30000' },

  { name: 'max-surge', type: 'string', value: 'N|P%', group: 'rolling', help: 'instances above replicas during the update, rounded up', default: '25%', option: 'rolling.maxSurge', coerce: surge, example: '1' },
  { name: 'max-unavailable', type: 'string', value: 'N|P%', group: 'rolling', help: 'instances below replicas during the update, rounded down', default: '25%', option: 'rolling.maxUnavailable', coerce: surge, example: '50%' },
  { name: 'min-ready-seconds', type: 'number', value: 'S', group: 'rolling', help: 'ready this long before an instance counts as available', default: '0', option: 'rolling.minReadySeconds', example: '1' },
  { name: 'progress-deadline-seconds', type: 'number', value: 'S', group: 'rolling', help: 'no progress for this long: stop and roll back', default: '600', option: 'rolling.progressDeadlineSeconds', example: '60' },
  { name: 'termination-grace-period-seconds', type: 'number', value: 'S', group: 'rolling', help: 'SIGKILL this long after SIGTERM (with --runtime docker: docker stop -t)', default: '30', option: 'terminationGracePeriodSeconds', example: '10' },

  { name: 'steps', type: 'string', value: 'LIST', group: 'canary', help: 'weights, each followed by an analysis ("1,5,25,50,100"), or Argo-like steps: "w10,pause:30s,analysis,w50,analysis" (pause takes 30s, 1m30s, 1h, 500ms)', default: DEFAULT_CANARY_WEIGHTS.join(','), option: 'canary.steps', coerce: steps, only: canary, example: 'w10,pause:1m30s,analysis,w100' },
  { name: 'abort-scale-down-delay-seconds', type: 'number', value: 'S', group: 'canary', help: 'after an abort (weight 0 at once), drain the canary this much later', default: '0', option: 'canary.abortScaleDownDelaySeconds', only: canary, example: '1' },

  { name: 'scale-down-delay-seconds', type: 'number', value: 'S', group: 'blue-green', help: 'blue is kept this long after the switch for an instant flip back, then drained', default: '30', option: 'blueGreen.scaleDownDelaySeconds', only: blueGreen, example: '1' },
  { name: 'pre-promotion-analysis', type: 'string', value: 'on|off', group: 'blue-green', help: 'analyse green under synthetic load on the preview before the switch', default: 'on', option: 'blueGreen.prePromotionAnalysis', coerce: onOff, only: blueGreen, example: 'off' },
  { name: 'post-promotion-analysis', type: 'string', value: 'on|off', group: 'blue-green', help: 'analyse green on live traffic after the switch; failure flips back', default: 'on', option: 'blueGreen.postPromotionAnalysis', coerce: onOff, only: blueGreen, example: 'off' },
  { name: 'preview-port', type: 'number', value: 'N', group: 'blue-green', help: 'preview router port on 127.0.0.1, 0 a free one', default: '0', option: 'blueGreen.previewPort', only: blueGreen, example: '0' },
  { name: 'preview-rate', type: 'number', value: 'N', group: 'blue-green', help: 'synthetic requests per second on the preview', default: '50', option: 'blueGreen.previewRate', only: blueGreen, example: '20' },
  { name: 'auto-promotion-seconds', type: 'number', value: 'S', group: 'blue-green', help: "wait this long after green is proven before the switch (Argo's autoPromotionSeconds)", default: '0', option: 'blueGreen.autoPromotionSeconds', only: blueGreen, example: '1' },

  { name: 'max-error-rate', type: 'number', value: 'X', group: 'analysis', help: 'the error budget: the share of requests that may fail (sequential: H0 of the test; fixed: a window above it fails)', default: '0.02', option: 'analysis.maxErrorRate', example: '0.05' },
  { name: 'max-p99-ms', type: 'number', value: 'MS', group: 'analysis', help: 'the latency budget, a bucket of the histogram (sequential: at most 1 % of requests slower, in-flight ones included; fixed: a window whose p99 is above it fails)', default: '300', option: 'analysis.maxP99Ms', example: '500' },
  { name: 'gate', type: 'string', value: 'sequential|fixed', group: 'analysis', help: "sequential: each measurement is a sequential test that decides as soon as the evidence is clear; fixed: one window per measurement (Argo's AnalysisTemplate semantics, the default with --prometheus-url)", default: 'sequential', option: 'analysis.gate', example: 'fixed' },
  { name: 'alpha', type: 'number', value: 'X', group: 'analysis', help: 'sequential: the chance of failing a release within budget', default: '0.05', option: 'analysis.alpha', example: '0.01' },
  { name: 'beta', type: 'number', value: 'X', group: 'analysis', help: 'sequential: the chance of passing a release at --effect times the budget', default: '0.05', option: 'analysis.beta', example: '0.1' },
  { name: 'effect', type: 'number', value: 'X', group: 'analysis', help: 'sequential: the failing hypothesis is X times the budget (between them neither answer is promised)', default: '3', option: 'analysis.effect', example: '2' },
  { name: 'min-measurement-ms', type: 'number', value: 'MS', group: 'analysis', help: 'sequential: no measurement passes before this long', default: '10000', option: 'analysis.minMeasurementMs', example: '2000' },
  { name: 'max-measurement-ms', type: 'number', value: 'MS', group: 'analysis', help: 'sequential: a measurement still undecided after this long is inconclusive', default: '120000', option: 'analysis.maxMeasurementMs', example: '60000' },
  { name: 'router-signal', type: 'string', value: 'on|off', group: 'analysis', help: "sequential: the router's resets, refusals, lost requests and timeouts of the revision count as its errors, its requests in flight longer than --max-p99-ms as slow", default: 'on', option: 'analysis.routerSignal', coerce: onOff, example: 'off' },
  { name: 'compare', type: 'string', value: 'absolute|both|baseline', group: 'analysis', help: 'sequential: judge the canary by the budgets (absolute), by the budgets and against the stable revision over the same window (both), or against the stable only (baseline: the budgets off)', default: 'absolute', option: 'analysis.compare', only: canary, example: 'both' },
  { name: 'baseline-error-margin', type: 'number', value: 'X', group: 'analysis', help: "vs stable: the canary's error rate may exceed the stable's by this much (0.02 = 2 points; default: --max-error-rate)", option: 'analysis.baselineErrorMargin', only: canary, example: '0.01' },
  { name: 'baseline-latency-factor', type: 'number', value: 'X', group: 'analysis', help: "vs stable: the canary's p99 may be this many times the stable's (rounded up to a histogram bucket)", default: '1.5', option: 'analysis.baselineLatencyFactor', only: canary, example: '2' },
  { name: 'analysis-interval-ms', type: 'number', value: 'MS', group: 'analysis', help: 'fixed: time between measurements and the window of each (or a duration: 1m30s)', default: '5000', option: 'analysis.intervalMs', example: '1000' },
  { name: 'analysis-count', type: 'number', value: 'N', group: 'analysis', help: 'measurements (sequential: decisions) per analysis (fixed: 3)', default: '1', option: 'analysis.count', example: '2' },
  { name: 'failure-limit', type: 'number', value: 'N', group: 'analysis', help: 'failed measurements tolerated', default: '0', option: 'analysis.failureLimit', example: '1' },
  { name: 'inconclusive-limit', type: 'number', value: 'N', group: 'analysis', help: 'inconclusive measurements tolerated; more: not promoted', default: '1', option: 'analysis.inconclusiveLimit', example: '2' },
  { name: 'min-samples', type: 'number', value: 'N', group: 'analysis', help: 'fixed: a window with fewer requests is inconclusive, never a pass; sequential: no pass on fewer', default: '20', option: 'analysis.minSamples', example: '10' },
  { name: 'prometheus-url', type: 'string', value: 'URL', group: 'analysis', help: "query this Prometheus (loopback only) with k8s/canary's PromQL instead of scraping each instance's /metrics", option: 'analysis.prometheusUrl', example: 'http://127.0.0.1:9090' },
  { name: 'prometheus-targets-file', type: 'string', value: 'FILE', group: 'analysis', help: 'keep a file_sd JSON file of the instances for that Prometheus to scrape', option: 'analysis.prometheusTargetsFile', example: '/tmp/targets.json' },
  { name: 'prometheus-scrape-interval-ms', type: 'number', value: 'MS', group: 'analysis', help: "that Prometheus' scrape interval: the query window is at least 4 times it (default: read from its configuration)", option: 'analysis.prometheusScrapeIntervalMs', example: '15000' },

  ...PROBE_FLAGS,
  ...LOAD_FLAGS,

  { name: 'filename', short: 'f', type: 'string', value: 'DIR', group: 'manifests', help: 'take replicas, probes, grace period, strategy, steps and analysis from a k8s/ folder (a Deployment, or an Argo Rollouts Rollout and its AnalysisTemplates); the container env goes to both revisions; flags given here win; every field the fleet does not model is listed on stderr', example: 'k8s/rolling' },
  { name: 'time-scale', type: 'number', value: 'X', group: 'manifests', help: 'multiply the paces in the files (probe periods, pauses, analysis intervals, minReadySeconds, delays) by X, e.g. 0.05 for CI', default: '1', coerce: positive, only: { filename: true }, example: '0.05' },

  { name: 'html', type: 'string', value: 'FILE', group: 'output', help: 'write the report as one self-contained HTML page (timeline, accounting, instances)', example: 'report.html' },
  { name: 'junit', type: 'string', value: 'FILE', group: 'output', help: 'write JUnit XML: one test case per check (zero dropped, promoted, each analysis)', example: 'report.xml' },
  { name: 'run-dir', type: 'string', value: 'DIR', group: 'output', help: 'folder for instance logs', default: 'a new folder in the temp dir', option: 'runDir', example: '/tmp/zd-run' },
  { name: 'no-stop-check', type: 'boolean', group: 'output', help: 'skip the stop check: after promotion, under load, one new instance is replaced surge-first and stopped the Kubernetes way; a release that ignores SIGTERM or exits at once is not safe to stop (exit 4)', option: 'stopCheck', sets: false, example: '' },
  { name: 'markdown', type: 'string', value: 'FILE', group: 'output', help: 'write the summary table as Markdown; with $GITHUB_STEP_SUMMARY set it is also appended there (the report files never change the exit code)', example: 'summary.md' },
  ...OUTPUT_FLAGS,
]

const DEPLOY_GROUPS: readonly FlagGroup[] = [
  { id: 'revisions', title: 'revisions' },
  { id: 'router', title: 'router' },
  { id: 'rolling', title: "rolling update (a Deployment's spec.strategy.rollingUpdate and friends)" },
  { id: 'canary', title: 'canary (Argo Rollouts steps; l7: a weight is the exact share of requests; l4: approximated by instance counts, new connections only)' },
  { id: 'blue-green', title: 'blue-green (Argo Rollouts blueGreen: preview router, switch after the endpoint lag, flip back on failure)' },
  { id: 'analysis', title: "analysis (gates blue-green and canary; Argo semantics; on the new revision's instances only)" },
  { id: 'probes', title: 'probes (kubelet semantics; HTTP GET, 200-399 passes; the same settings for all three unless noted)' },
  { id: 'load', title: 'load (a paced keep-alive generator through the router, plus exact clients; both cross-check the router)' },
  { id: 'manifests', title: 'manifests (the configuration that ships, run locally)' },
  { id: 'output', title: 'output' },
]

export const DEPLOY_COMMAND: CommandSpec = {
  name: 'deploy',
  title: 'zerodrop — deploy a service v1 → v2 on a local fleet under load, and fail if one request is dropped',
  usage: `zerodrop deploy --from "<command v1>" --to "<command v2>" [flags]
       zerodrop verify --url URL [flags] -- <command>   count every request to URL while <command> rolls out
                                                        your real deployment (see zerodrop verify --help)`,
  intro: `Each instance runs the command (with sh -c) in its own process group with PORT and HOST=127.0.0.1
in its environment; the router sends the load to instances that pass their readiness probe.`,
  groups: DEPLOY_GROUPS,
  flags: DEPLOY_FLAGS,
  epilog: `exit codes (every one is in the fleet README's table, with verify's)
  0   promoted, zero requests dropped, and the new revision proven safe to stop
  1   requests dropped (whatever else happened), or the rollback failed too
  2   rolled back (progress deadline exceeded, the new revision cannot start, or an analysis failed or was
      inconclusive), zero requests dropped
      (a release the analysis failed: its own error answers are reported against their bound, not as drops)
  4   promoted, zero dropped, but not safe to stop: the stop check's instance ignored SIGTERM, exited before the
      router stopped sending to it, or exited non-zero (--no-stop-check skips the check)
  5   zero dropped, but the data check found a checked write (--request '… => GET …') lost, changed or not
      readable after the deploy (promoted or rolled back: data a rollback does not bring back)
  64  bad usage: unknown flag or strategy, missing --to, a command that exits at once, a port that cannot be bound,
      an output file that cannot be written, a request (--method/--path) the running revision does not answer with 2xx
  70  internal error of zerodrop itself: what failed is on stderr, the details in the run folder
  130 interrupted by SIGINT, 143 by SIGTERM: the load stops, every instance drains (SIGTERM, SIGKILL after the
      grace; a second signal kills at once), the report so far is printed and written

Dropped = lost + reset + refused + timed-out requests + non-2xx answers + requests with no endpoint,
counted per request by the router (it never retries), cross-checked by exact clients on the load side.`,
}

/** A shared flag under another command's option path (and default). */
function reuse(list: readonly FlagSpec[], name: string, change: Partial<FlagSpec>): FlagSpec {
  const f = list.find((x) => x.name === name)
  if (f === undefined) throw new Error(`no flag --${name} to reuse`)
  return { ...f, ...change }
}

const readFile = (raw: string): string => {
  try {
    return fs.readFileSync(raw, 'utf8')
  } catch (err) {
    throw new FlagValueError('a readable PEM file', raw, `could not read ${describe(raw)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

function verifyDuration(raw: string): number {
  const expected = `seconds or a duration like 90s or 5m, at most ${VERIFY_LIMITS.durationMs / 1000} s`
  let ms: number
  try {
    ms = parseArgoDuration(numeric(raw), 'duration')
  } catch {
    throw new FlagValueError(expected)
  }
  if (ms > VERIFY_LIMITS.durationMs) throw new FlagValueError(expected)
  return Math.round(ms)
}

const vt = { group: 'target' } as const
const vl = { group: 'load' } as const

/** `zerodrop verify` (its options are flat: `rate`, not `load.rate`). */
export const VERIFY_FLAGS: readonly FlagSpec[] = [
  { name: 'url', type: 'string', value: 'URL', ...vt, help: 'the URL to load (required; no default). http: or https:; any host, so the load goes where you point it — it must answer 2xx before the command starts', option: 'url', example: 'http://127.0.0.1:8080/' },
  reuse(LOAD_FLAGS, 'header', { ...vt, option: 'headers', help: 'request header, repeatable (e.g. --header "Host: api.example.com" behind an ingress)' }),
  reuse(LOAD_FLAGS, 'method', { ...vt, option: 'method', default: VERIFY_DEFAULTS.method }),
  reuse(LOAD_FLAGS, 'body', { ...vt, option: 'body' }),
  { name: 'ca', type: 'string', value: 'FILE', ...vt, help: 'PEM CA certificate(s) to trust for https:', option: 'ca', coerce: readFile, example: 'package.json' },
  { name: 'insecure', type: 'boolean', ...vt, help: "do not verify the server's TLS certificate", option: 'insecure', example: '' },
  { name: 'http2', type: 'boolean', ...vt, help: 'speak HTTP/2: h2 over TLS (ALPN) for https:, h2c with prior knowledge for http:; --connections are sessions, a burst goes out as concurrent streams; a stream refused unprocessed (REFUSED_STREAM, or above a GOAWAY\'s last stream id) is retried once on a new session and counted apart (refusedStreamsRetried), never a drop', option: 'http2', example: '' },

  reuse(LOAD_FLAGS, 'rate', { ...vl, option: 'rate', default: String(VERIFY_DEFAULTS.rate) }),
  reuse(LOAD_FLAGS, 'connections', { ...vl, option: 'connections', help: 'keep-alive connections', default: String(VERIFY_DEFAULTS.connections) }),
  reuse(LOAD_FLAGS, 'burst', { ...vl, option: 'burst', help: 'requests a connection sends back to back, each as soon as the previous answer is in, before it pauses', default: String(VERIFY_DEFAULTS.burst) }),
  { name: 'reconnect-every', type: 'number', value: 'N', ...vl, help: 'replace a connection after N requests, 0 never', default: String(VERIFY_DEFAULTS.reconnectEvery), option: 'reconnectEvery', example: '10' },
  reuse(LOAD_FLAGS, 'timeout-ms', { ...vl, option: 'timeoutMs', help: 'a request without a complete answer after this long is a timeout', default: String(VERIFY_DEFAULTS.timeoutMs) }),
  reuse(LOAD_FLAGS, 'lead-ms', { ...vl, option: 'leadMs', help: 'load before the command starts', default: String(VERIFY_DEFAULTS.leadMs) }),
  reuse(LOAD_FLAGS, 'tail-ms', { ...vl, option: 'tailMs', help: 'load after the rollout is over', default: String(VERIFY_DEFAULTS.tailMs) }),

  { name: 'until', type: 'string', value: 'CMD', group: 'rollout', help: "after the command exits 0, poll this shell command until it exits 0 (e.g. 'kubectl rollout status deploy/api')", option: 'until', example: 'true' },
  { name: 'until-interval-ms', type: 'number', value: 'MS', group: 'rollout', help: 'time between polls', default: String(VERIFY_DEFAULTS.untilIntervalMs), option: 'untilIntervalMs', example: '500' },
  { name: 'duration', type: 'string', value: 'D', group: 'rollout', help: `bound on the rollout (command and --until): seconds, or 90s, 5m (at most ${VERIFY_LIMITS.durationMs / 1000} s); at the bound the command gets SIGTERM and the run exits 3`, default: `${VERIFY_DEFAULTS.durationMs / 1000}s`, option: 'durationMs', coerce: verifyDuration, example: '1m30s' },

  { name: 'version-header', type: 'string', value: 'NAME', group: 'answers', help: "response header naming the version that answered (e.g. x-app-version): the report shows the traffic moving between versions; a 502/503/504 without it is the load balancer's", option: 'versionHeader', example: 'x-app-version' },
  { name: 'lb-header', type: 'string', value: '"Name[: value]"', group: 'answers', help: 'a 502/503/504 carrying this response header (value as a case-insensitive substring) is the load balancer\'s (e.g. "Server: haproxy"); other non-2xx are the application\'s', option: 'lbHeader', example: 'Server: haproxy' },
  { name: 'expect-drops', type: 'boolean', group: 'answers', help: 'the negative control of your set-up: exit 0 only if dropped > 0', option: 'expectDrops', example: '' },

  { name: 'html', type: 'string', value: 'FILE', group: 'output', help: 'write the report as one self-contained HTML page (requests/s by version, every failure marked)', example: 'report.html' },
  { name: 'junit', type: 'string', value: 'FILE', group: 'output', help: 'write JUnit XML: one test case per check (zero dropped, the command succeeded, --until)', example: 'report.xml' },
  { name: 'markdown', type: 'string', value: 'FILE', group: 'output', help: 'write the summary as Markdown; with $GITHUB_STEP_SUMMARY set it is also appended there (the report files never change the exit code)', example: 'summary.md' },
  ...OUTPUT_FLAGS.map((f) => (f.name === 'json' ? { ...f, help: "write { schema: 'zerodrop.verify/v1', dropped, exitCode, requests, ok, non2xx: { lb, app }, lost, reset, refused, timeout, refusedConnections, refusedStreamsRetried, protocol, command: { argv, exitCode }, perSecond }" } : f.name === 'quiet' ? { ...f, help: 'no progress lines on stderr' } : f)),
]

export const VERIFY_COMMAND: CommandSpec = {
  name: 'verify',
  title: 'zerodrop verify — count every request to a URL while your own command performs the rollout',
  usage: 'zerodrop verify --url URL [flags] -- <command> [args…]',
  intro: `  zerodrop verify --url http://127.0.0.1:8080/ --json report.json -- kubectl rollout restart deploy/api
  zerodrop verify --url https://staging.example.com/ --until 'kubectl rollout status deploy/api' -- kubectl apply -f k8s/rolling
  zerodrop verify --url http://127.0.0.1:8080/ -- docker compose up -d --no-deps green

The load starts, runs --lead-ms, then the command runs (its argv as given after --, no shell: write
sh -c '…' for one; its output passes through). The rollout is over when the command exits — and, with
--until, when that shell command exits 0, polled — or at --duration. The load runs --tail-ms more,
stops gracefully (every outstanding request settles), and every request is counted by the load side
itself: ok, non-2xx (the load balancer's or the application's), lost, reset, refused, timeout.`,
  groups: [
    { id: 'target', title: 'target' },
    { id: 'load', title: `load (bounded: at most ${VERIFY_LIMITS.rate} req/s, a rollout of at most ${VERIFY_LIMITS.durationMs / 1000} s)` },
    { id: 'rollout', title: 'the rollout' },
    { id: 'answers', title: 'reading the answers' },
    { id: 'output', title: 'output' },
  ],
  flags: VERIFY_FLAGS,
  epilog: `exit codes
  0   zero dropped, and the command exited 0 (and --until succeeded)
  1   requests dropped, whatever the command did (with --expect-drops: none dropped)
  3   zero dropped, but the command failed or could not start, --until never succeeded, or --duration was reached
  64  bad usage, or --url did not answer 2xx before the command started
  130 interrupted by SIGINT, 143 by SIGTERM; the command gets SIGTERM and the counts so far are reported

Dropped = every request not answered 2xx (lost + reset + refused + timed-out requests + non-2xx answers,
each request in exactly one of those) plus every connection that could not be opened, counted by the
load side (nothing retried).`,
  optionNames: { command: '-- <command>' },
}

// ---- generated views ------------------------------------------------------------------------

type ParseArgsSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>

/** The `node:util` parseArgs spec of a command. Numbers are strings to parseArgs; coercion is ours. */
export function parseArgsSpec(spec: CommandSpec): ParseArgsSpec {
  const out: ParseArgsSpec = {}
  for (const f of spec.flags) {
    out[f.name] = {
      type: f.type === 'boolean' ? 'boolean' : 'string',
      ...(f.multiple === true ? { multiple: true } : {}),
      ...(f.short === undefined ? {} : { short: f.short }),
    }
  }
  return out
}

const onlyText = (only: FlagSpec['only']): string =>
  Object.entries(only ?? {}).map(([k, v]) => (v === true ? `with --${k}` : `${v} only`)).join(', ')

function wrap(text: string, width: number, indent: string): string {
  const words = text.split(' ')
  const lines: string[] = []
  let line = ''
  for (const w of words) {
    if (line !== '' && line.length + 1 + w.length > width) {
      lines.push(line)
      line = w
    } else line = line === '' ? w : `${line} ${w}`
  }
  if (line !== '') lines.push(line)
  return lines.join(`\n${indent}`)
}

/** The help text of a command: every flag, grouped, with its default and where it applies. */
export function helpText(spec: CommandSpec): string {
  const column = 38
  const indent = ' '.repeat(column)
  const out = [spec.title, '', `usage: ${spec.usage}`, '', spec.intro]
  for (const g of spec.groups) {
    const flags = spec.flags.filter((f) => f.group === g.id)
    if (flags.length === 0) continue
    out.push('', g.title)
    for (const f of flags) {
      const names = `${f.short === undefined ? '' : `-${f.short}, `}--${f.name}${f.type === 'boolean' ? '' : ` ${f.value ?? (f.type === 'number' ? 'N' : 'VALUE')}`}`
      const notes = [f.default === undefined ? '' : `default ${f.default}`, onlyText(f.only)].filter((n) => n !== '').join('; ')
      const text = wrap(`${f.help}${notes === '' ? '' : ` (${notes})`}`, 110 - column, indent)
      out.push(names.length + 2 < column ? `  ${names.padEnd(column - 2)}${text}` : `  ${names}\n${indent}${text}`)
    }
  }
  out.push('', spec.epilog)
  return out.join('\n')
}

// ---- parsing --------------------------------------------------------------------------------

/** Edit distance counting a swap of two neighbours as one edit. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1)
      d[i]![j] = best
    }
  }
  return d[a.length]![b.length]!
}

/** The flag most likely meant by an unknown one. */
export function didYouMean(name: string, spec: CommandSpec): string | undefined {
  let best: string | undefined
  let bestScore = Number.POSITIVE_INFINITY
  for (const f of spec.flags) {
    const score = f.name.startsWith(name) || name.startsWith(f.name) ? 1 : distance(name, f.name)
    if (score < bestScore) {
      best = f.name
      bestScore = score
    }
  }
  return bestScore <= Math.max(1, Math.floor(name.length / 4)) ? best : undefined
}

const looksNegative = (token: string): boolean => /^-(\d|\.\d)/.test(token)

/**
 * Tokens → flags, with the table's own rules before parseArgs sees them: an unknown flag gets a
 * did-you-mean; a flag that takes a value takes the next token even when it starts with a dash
 * (`--rate -5` is the value -5, for the validator to judge), unless that token is a flag itself.
 */
function normalise(spec: CommandSpec, argv: readonly string[]): { args: string[]; spelling: Map<string, string> } {
  const byLong = new Map(spec.flags.map((f) => [f.name, f]))
  const byShort = new Map(spec.flags.filter((f) => f.short !== undefined).map((f) => [f.short as string, f]))
  const isFlag = (t: string): boolean => t.startsWith('--') || (t.length === 2 && t.startsWith('-') && byShort.has(t.slice(1)))
  const args: string[] = []
  const spelling = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string
    if (token === '--') {
      args.push(...argv.slice(i))
      break
    }
    let f: FlagSpec | undefined
    let typed: string
    let inline: string | undefined
    if (token.startsWith('--')) {
      const eq = token.indexOf('=')
      typed = eq === -1 ? token : token.slice(0, eq)
      inline = eq === -1 ? undefined : token.slice(eq + 1)
      f = byLong.get(typed.slice(2))
      if (f === undefined) {
        const guess = didYouMean(typed.slice(2), spec)
        throw new CliUsageError(`unknown flag '${typed}'${guess === undefined ? '' : `; did you mean '--${guess}'?`} (see zerodrop ${spec.name} --help)`, typed)
      }
    } else if (token.startsWith('-') && token.length > 1 && !looksNegative(token)) {
      typed = token.slice(0, 2)
      inline = token.length > 2 ? token.slice(2) : undefined
      f = byShort.get(token.slice(1, 2))
      if (f === undefined) throw new CliUsageError(`unknown flag '${typed}' (see zerodrop ${spec.name} --help)`, typed)
    } else {
      args.push(token)
      continue
    }
    spelling.set(f.name, typed)
    if (f.type === 'boolean') {
      if (inline !== undefined) throw new CliUsageError(`${typed}: takes no value, instead got ${describe(inline)}`, typed)
      args.push(`--${f.name}`)
      continue
    }
    if (inline === undefined) {
      const next = argv[i + 1]
      if (next === undefined || isFlag(next)) {
        throw new CliUsageError(`${typed}: expected a value (${f.value ?? 'VALUE'}), instead got ${next === undefined ? 'nothing' : `the flag '${next}'`}`, typed)
      }
      inline = next
      i++
    }
    args.push(`--${f.name}=${inline}`)
  }
  return { args, spelling }
}

/** Sets `value` at a dotted path, merging into an object already there. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.')
  let at = target
  for (const k of keys.slice(0, -1)) {
    const next = at[k]
    if (next === null || typeof next !== 'object' || Array.isArray(next)) at[k] = {}
    at = at[k] as Record<string, unknown>
  }
  const last = keys[keys.length - 1] as string
  const old = at[last]
  const plain = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x)
  at[last] = plain(old) && plain(value) ? { ...old, ...value } : value
}

export function getPath(target: unknown, path: string): unknown {
  let at = target
  for (const k of path.split('.')) at = at === null || typeof at !== 'object' ? undefined : (at as Record<string, unknown>)[k]
  return at
}

/** Parses `argv` (after the command name, or with it among the positionals) against a command's table. */
export function parseFlags(spec: CommandSpec, argv: readonly string[]): ParsedFlags {
  const { args, spelling } = normalise(spec, argv)
  let parsed: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] }
  try {
    parsed = parseArgs({ args, options: parseArgsSpec(spec), allowPositionals: true, strict: true }) as typeof parsed
  } catch (err) {
    throw new CliUsageError(`${(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')}; see zerodrop ${spec.name} --help`)
  }
  const values = new Map<string, unknown>()
  const raw = new Map<string, string | readonly string[]>()
  const options: Record<string, unknown> = {}
  for (const f of spec.flags) {
    const given = parsed.values[f.name]
    if (given === undefined) continue
    const typed = spelling.get(f.name) ?? `--${f.name}`
    raw.set(f.name, given as string | string[])
    const one = (token: string): unknown => {
      if (f.coerce === undefined) return f.type === 'number' ? numeric(token) : token
      try {
        return f.coerce(token)
      } catch (err) {
        if (!(err instanceof FlagValueError)) throw err
        throw new CliUsageError(`${typed}: expected ${err.expected}, instead ${err.instead ?? `got ${describe(numeric(err.received ?? token))}`}`, typed)
      }
    }
    const value = typeof given === 'boolean' ? (f.sets ?? given) : Array.isArray(given) ? (f.combine ?? ((v) => v))(given.map(one)) : one(given)
    values.set(f.name, value)
    if (f.option !== undefined) setPath(options, f.option, value)
  }
  return { spec, positionals: parsed.positionals, values, spelling, raw, options }
}

/**
 * "applies only to …": every given flag whose `only` is not met. `valueOf` gives a flag's
 * effective value (the command may know better than the table's default, e.g. the strategy of
 * a manifest folder).
 */
export function checkApplies(parsed: ParsedFlags, valueOf: (flag: string) => string | undefined): void {
  for (const f of parsed.spec.flags) {
    if (f.only === undefined || !parsed.values.has(f.name)) continue
    for (const [other, wanted] of Object.entries(f.only)) {
      const typed = parsed.spelling.get(f.name) ?? `--${f.name}`
      const actual = valueOf(other)
      if (wanted === true) {
        if (!parsed.values.has(other)) {
          const o = parsed.spec.flags.find((x) => x.name === other)
          throw new CliUsageError(`${typed}: applies with ${o?.short === undefined ? '' : `-${o.short}/`}--${other} only`, typed)
        }
      } else if (actual !== wanted) {
        throw new CliUsageError(`${typed}: applies to --${other} ${wanted} only, instead the ${other} is '${actual ?? 'unset'}'`, typed)
      }
    }
  }
}

/** The effective raw value of a flag: as given, else the table's default. */
export function flagValue(parsed: ParsedFlags, name: string): string | undefined {
  const v = parsed.values.get(name)
  if (typeof v === 'string') return v
  return parsed.spec.flags.find((f) => f.name === name)?.default
}

/**
 * The flag (as typed) that answers for an option path in an error, when the user gave it:
 * its own option, one of its `errorsAt`, or the longest option that is a prefix (`canary.steps[2]`).
 * `a.b/c` (a cross-field check) names each part.
 */
export function flagForOption(parsed: ParsedFlags, option: string): string | undefined {
  if (option.includes('/')) {
    const [first, ...rest] = option.split('/') as [string, ...string[]]
    const parent = first.includes('.') ? first.slice(0, first.lastIndexOf('.') + 1) : ''
    const parts = [first, ...rest.map((r) => parent + r)].map((p) => flagForOption(parsed, p) ?? tableFlag(parsed.spec, p))
    return parts.every((p) => p !== undefined) ? parts.join('/') : undefined
  }
  let best: { flag: FlagSpec; score: number } | undefined
  for (const f of parsed.spec.flags) {
    if (f.option === undefined || !parsed.values.has(f.name)) continue
    // its own option first (--startup-failure-threshold over --probe-failure-threshold), then a fan-out, then the longest prefix
    const own = f.option === option
    const fanned = (f.errorsAt ?? []).includes(option)
    const prefix = option.startsWith(`${f.option}.`) || option.startsWith(`${f.option}[`)
    const score = own ? Number.POSITIVE_INFINITY : fanned ? Number.MAX_SAFE_INTEGER : prefix ? f.option.length : -1
    if (score >= 0 && (best === undefined || score > best.score)) best = { flag: f, score }
  }
  return best === undefined ? undefined : (parsed.spelling.get(best.flag.name) ?? `--${best.flag.name}`)
}

function tableFlag(spec: CommandSpec, option: string): string | undefined {
  const f = spec.flags.find((x) => x.option === option || (x.errorsAt ?? []).includes(option))
  return f === undefined ? undefined : `--${f.name}`
}

/** A usage error's message, re-addressed from the option path to the flag as typed. */
export function messageForFlags(err: FleetUsageError, parsed: ParsedFlags | undefined): string {
  if (parsed === undefined || err.option === undefined || !err.message.startsWith(`${err.option}:`)) return err.message
  const flag = flagForOption(parsed, err.option) ?? parsed.spec.optionNames?.[err.option] ?? tableFlag(parsed.spec, err.option)
  return flag === undefined ? err.message : `${flag}${err.message.slice(err.option.length)}`
}
