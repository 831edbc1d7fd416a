#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { deployOptionsFromManifests, mergeOptions } from '../manifests/from-manifests.js'
import fs from 'node:fs'
import path from 'node:path'
import { deploy, partialReportOf } from '../deploy/deploy.js'
import { AbortedError, FleetUsageError, RuntimeDockerError } from '../core/errors.js'
import { killAllInstancesSync } from '../runtime/instance.js'
import type { DeployOptions, ProbeOptions } from '../options/deploy.js'
import { parseStepsFlag } from '../options/progressive.js'
import { EXIT_CODES, formatReport, type Report } from '../report/report.js'
import { deployViews, writeOutputs, type OutputFiles } from '../report/outputs.js'
import { createProgress } from './progress.js'
import { applyRuntimeFlags } from '../runtime/docker.js'
import { reportInternalError } from './internal-error.js'
import { verifyMain } from './verify.js'

const HELP = `zerodrop — deploy a service v1 → v2 on a local fleet under load, and fail if one request is dropped

usage: zerodrop deploy --from "<command v1>" --to "<command v2>" [flags]
       zerodrop verify --url URL [flags] -- <command>   count every request to URL while <command> rolls out
                                                        your real deployment (see zerodrop verify --help)

Each instance runs the command (with sh -c) in its own process group with PORT and HOST=127.0.0.1
in its environment; the router sends the load to instances that pass their readiness probe.

revisions
  --from CMD                          command of the running revision (required)
  --to CMD                            command of the revision to deploy (required)
  --strategy rolling|blue-green|canary  deployment strategy (default rolling)
  --replicas N                        instances per revision (default 3)
  --runtime process|docker            process: each instance runs the command (default); docker: each instance is a
                                      container on the host network, stopped with docker stop -t <grace>
  --image IMG --to-image IMG          with --runtime docker, instead of --from/--to: the images of the two revisions
  --container-env NAME=VALUE          with --runtime docker: environment for every container, repeatable

router
  --router l4|l7                      l4: each connection pinned to one instance (kube-proxy);
                                      l7: each request balanced over keep-alive upstream pools (an ingress) (default l4)
  --port N                            router port on 127.0.0.1; 0 picks a free one (default 0)
  --endpoint-delay-ms MS              removal from the router lags SIGTERM by this much, as endpoints do in Kubernetes (default 1000)
  --upstream-idle-timeout-ms MS       l7 upstream keep-alive idle timeout (router default)

rolling update (a Deployment's spec.strategy.rollingUpdate and friends)
  --max-surge N|P%                    instances above replicas during the update, rounded up (default 25%)
  --max-unavailable N|P%              instances below replicas during the update, rounded down (default 25%)
  --min-ready-seconds S               ready this long before an instance counts as available (default 0)
  --progress-deadline-seconds S       no progress for this long: stop and roll back (default 600)
  --termination-grace-period-seconds S  SIGKILL this long after SIGTERM (default 30)

canary (Argo Rollouts steps; l7: a weight is the exact share of requests; l4: approximated by instance counts, new connections only)
  --steps LIST                        weights, each followed by an analysis: "1,5,25,50,100" (the default), or
                                      Argo-like steps: "w10,pause:30s,analysis,w50,analysis" (pause takes 30s, 1m, 1h, 500ms)
  --abort-scale-down-delay-seconds S  after an abort (weight 0 at once), drain the canary this much later (default 0)

blue-green (Argo Rollouts blueGreen: preview router, switch after the endpoint lag, flip back on failure)
  --scale-down-delay-seconds S        blue is kept this long after the switch for an instant flip back, then drained (default 30)
  --pre-promotion-analysis on|off     analyse green under synthetic load on the preview before the switch (default on)
  --post-promotion-analysis on|off    analyse green on live traffic after the switch; failure flips back (default on)
  --preview-port N                    preview router port on 127.0.0.1, 0 a free one (default 0)
  --preview-rate N                    synthetic requests per second on the preview (default 50)
  --auto-promotion-seconds S          wait this long after green is proven before the switch (Argo's autoPromotionSeconds; default 0)

analysis (gates blue-green and canary; Argo semantics; on the new revision's instances only)
  --max-error-rate X                  5xx / all above this fails a measurement (default 0.02)
  --max-p99-ms MS                     p99 latency above this fails a measurement (default 300)
  --analysis-interval-ms MS           time between measurements and the window of each (default 5000)
  --analysis-count N                  measurements per analysis (default 3)
  --failure-limit N                   failed measurements tolerated (default 0)
  --inconclusive-limit N              inconclusive measurements tolerated; more: not promoted (default 1)
  --min-samples N                     a window with fewer requests is inconclusive, never a pass (default 20)
  --prometheus-url URL                query this Prometheus (loopback only) with k8s/canary's PromQL instead of
                                      scraping each instance's /metrics
  --prometheus-targets-file FILE      keep a file_sd JSON file of the instances for that Prometheus to scrape

probes (kubelet semantics; HTTP GET, 200-399 passes; the same settings for all three unless noted)
  --probe-period-ms MS                time between probes (default 1000; Kubernetes' default is 10 s)
  --probe-timeout-ms MS               a slower probe fails (default 1000)
  --probe-initial-delay-ms MS         wait after start before the first probe (default 0)
  --probe-failure-threshold N         consecutive failures that count (default 3)
  --probe-success-threshold N         consecutive successes for readiness (default 1)
  --startup-failure-threshold N       startup probe failures before a restart (default 60)
  --startup-path PATH                 (default /startupz; "none" disables the startup probe)
  --readiness-path PATH               (default /readyz; "none" disables: ready once started)
  --liveness-path PATH                (default /livez; "none" disables)

load (autocannon through the router, plus exact clients as a cross-check)
  --connections N                     autocannon keep-alive connections (default 50)
  --rate N                            requests per second over all connections, evenly paced (default 300)
  --reconnect-rate N                  reopen each connection after N requests, 0 never (default 30)
  --burst N                           requests a connection sends back to back before pausing (default 3)
  --method M --path P                 request line (default GET /)
  --header "Name: value"              request header, repeatable
  --body TEXT                         request body
  --lead-ms MS / --tail-ms MS         load before the rollout starts / after it ends (default 1500 / 1500)
  --timeout-ms MS                     a request without an answer after this long is a timeout (default 10000)
  --exact-clients N                   paced exact clients beside autocannon, 0 none (default 4)

manifests (the configuration that ships, run locally)
  -f, --filename DIR                  take replicas, probes, grace period, strategy, steps and analysis from a
                                      k8s/ folder (a Deployment, or an Argo Rollouts Rollout and its AnalysisTemplates);
                                      the container env goes to both revisions; flags given here win; every field
                                      the fleet does not model is listed on stderr
  --time-scale X                      with -f: multiply the paces in the files (readiness/liveness periods, pauses, analysis
                                      intervals, minReadySeconds, delays) by X, e.g. 0.05 for CI (default 1)

output
  --json FILE                         write the report as JSON
  --html FILE                         write the report as one self-contained HTML page (timeline, accounting, instances)
  --junit FILE                        write JUnit XML: one test case per check (zero dropped, promoted, each analysis)
  --markdown FILE                     write the summary table as Markdown; with $GITHUB_STEP_SUMMARY set it is
                                      also appended there (the report files never change the exit code)
  --run-dir DIR                       folder for instance logs (default a new folder in the temp dir)
  --quiet                             no progress on stderr (on a terminal: event lines under one live status line;
                                      elsewhere: the event lines only)
  --no-stop-check                     skip the stop check: after promotion, under load, one new instance is replaced
                                      surge-first and stopped the Kubernetes way; a release that ignores SIGTERM or
                                      exits at once is not safe to stop (exit 4)
  -h, --help                          this text

exit codes (every one is in the fleet README's table, with verify's)
  0   promoted, zero requests dropped, and the new revision proven safe to stop
  1   requests dropped (whatever else happened), or the rollback failed too
  2   rolled back (progress deadline exceeded, the new revision cannot start, or an analysis failed or was
      inconclusive), zero requests dropped
      (a release the analysis failed: its own error answers are reported against their bound, not as drops)
  4   promoted, zero dropped, but not safe to stop: the stop check's instance ignored SIGTERM, exited before the
      router stopped sending to it, or exited non-zero (--no-stop-check skips the check)
  64  bad usage: unknown flag or strategy, missing --to, a command that exits at once, a port that cannot be bound,
      an output file that cannot be written, a request (--method/--path) the running revision does not answer with 2xx
  70  internal error of zerodrop itself: what failed is on stderr, the details in the run folder
  130 interrupted by SIGINT, 143 by SIGTERM: the load stops, every instance drains (SIGTERM, SIGKILL after the
      grace; a second signal kills at once), the report so far is printed and written

Dropped = lost + reset + refused + timed-out requests + non-2xx answers + requests with no endpoint,
counted per request by the router (it never retries), cross-checked by exact clients on the load side.`

/** API option names → CLI flags, so errors name what the user typed. */
const FLAGS: Readonly<Record<string, string>> = {
  strategy: '--strategy',
  from: '--from',
  to: '--to',
  replicas: '--replicas',
  router: '--router',
  port: '--port',
  endpointDelayMs: '--endpoint-delay-ms',
  terminationGracePeriodSeconds: '--termination-grace-period-seconds',
  'rolling.maxSurge': '--max-surge',
  'rolling.maxUnavailable': '--max-unavailable',
  'rolling.maxSurge/maxUnavailable': '--max-surge/--max-unavailable',
  'rolling.minReadySeconds': '--min-ready-seconds',
  'rolling.progressDeadlineSeconds': '--progress-deadline-seconds',
  'load.connections': '--connections',
  'load.rate': '--rate',
  'load.reconnectRate': '--reconnect-rate',
  'load.burst': '--burst',
  'load.method': '--method',
  'load.path': '--path',
  'load.leadMs': '--lead-ms',
  'load.tailMs': '--tail-ms',
  'load.timeoutMs': '--timeout-ms',
  'load.exactClients': '--exact-clients',
  upstreamIdleTimeoutMs: '--upstream-idle-timeout-ms',
  'canary.steps': '--steps',
  'canary.abortScaleDownDelaySeconds': '--abort-scale-down-delay-seconds',
  'blueGreen.scaleDownDelaySeconds': '--scale-down-delay-seconds',
  'blueGreen.previewPort': '--preview-port',
  'blueGreen.previewRate': '--preview-rate',
  'blueGreen.autoPromotionSeconds': '--auto-promotion-seconds',
  'analysis.maxErrorRate': '--max-error-rate',
  'analysis.maxP99Ms': '--max-p99-ms',
  'analysis.intervalMs': '--analysis-interval-ms',
  'analysis.count': '--analysis-count',
  'analysis.failureLimit': '--failure-limit',
  'analysis.inconclusiveLimit': '--inconclusive-limit',
  'analysis.minSamples': '--min-samples',
  'analysis.prometheusUrl': '--prometheus-url',
}

class UsageError extends Error {}

const numberFlags = {
  replicas: 'int',
  port: 'int',
  'endpoint-delay-ms': 'int',
  'termination-grace-period-seconds': 'num',
  'min-ready-seconds': 'num',
  'progress-deadline-seconds': 'num',
  'probe-period-ms': 'int',
  'probe-timeout-ms': 'int',
  'probe-initial-delay-ms': 'int',
  'probe-failure-threshold': 'int',
  'probe-success-threshold': 'int',
  'startup-failure-threshold': 'int',
  connections: 'int',
  rate: 'num',
  'reconnect-rate': 'int',
  burst: 'int',
  'lead-ms': 'int',
  'tail-ms': 'int',
  'timeout-ms': 'int',
  'exact-clients': 'int',
  'upstream-idle-timeout-ms': 'int',
  'abort-scale-down-delay-seconds': 'num',
  'scale-down-delay-seconds': 'num',
  'preview-port': 'int',
  'preview-rate': 'num',
  'auto-promotion-seconds': 'num',
  'time-scale': 'num',
  'max-error-rate': 'num',
  'max-p99-ms': 'num',
  'analysis-interval-ms': 'int',
  'analysis-count': 'int',
  'failure-limit': 'int',
  'inconclusive-limit': 'int',
  'min-samples': 'int',
} as const

const stringFlags = [
  'strategy',
  'from',
  'to',
  'router',
  'max-surge',
  'max-unavailable',
  'startup-path',
  'readiness-path',
  'liveness-path',
  'method',
  'path',
  'body',
  'json',
  'html',
  'junit',
  'markdown',
  'run-dir',
  'filename',
  'steps',
  'pre-promotion-analysis',
  'post-promotion-analysis',
  'prometheus-url',
  'prometheus-targets-file',
] as const

type Values = Record<string, string | boolean | string[] | undefined>

interface Parsed {
  readonly help: boolean
  readonly options: DeployOptions
  readonly outputs: OutputFiles
  readonly quiet: boolean
}

function parse(argv: string[]): Parsed {
  const spec: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    quiet: { type: 'boolean' },
    'no-stop-check': { type: 'boolean' },
    header: { type: 'string', multiple: true },
  }
  for (const f of stringFlags) spec[f] = { type: 'string' }
  spec.filename = { type: 'string', short: 'f' }
  for (const f of Object.keys(numberFlags)) spec[f] = { type: 'string' }
  let parsed: { values: Values; positionals: string[] }
  try {
    parsed = parseArgs({ args: argv, options: spec, allowPositionals: true, strict: true }) as { values: Values; positionals: string[] }
  } catch (err) {
    throw new UsageError(`${(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')}; see zerodrop --help`)
  }
  const v = parsed.values
  if (v.help) return { help: true, options: { from: '', to: '' }, outputs: {}, quiet: false }
  const [command, ...rest] = parsed.positionals
  if (command === undefined) throw new UsageError("expected a command, instead got nothing: use 'zerodrop deploy --from ... --to ...' (see zerodrop --help)")
  if (command !== 'deploy') throw new UsageError(`expected the command 'deploy' or 'verify', instead got '${command}' (see zerodrop --help)`)
  if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0] ?? ''}': quote each command, e.g. --from "node server.js"`)

  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined)
  const n = (k: keyof typeof numberFlags): number | undefined => {
    const raw = str(k)
    if (raw === undefined) return undefined
    const x = Number(raw)
    const isInt = numberFlags[k] === 'int'
    if (raw.trim() === '' || !Number.isFinite(x) || (isInt && !Number.isInteger(x)) || x < 0) {
      throw new UsageError(`--${k}: expected ${isInt ? 'a non-negative integer' : 'a non-negative number'}, instead got '${raw}'`)
    }
    return x
  }
  if (str('from') === undefined) throw new UsageError('--from: expected the command of the running revision, instead got nothing, e.g. --from "node server.js"')
  if (str('to') === undefined) throw new UsageError('--to: expected the command of the revision to deploy, instead got nothing, e.g. --to "APP_VERSION=v2 node server.js"')

  const headers: Record<string, string> = {}
  for (const h of (v.header as string[] | undefined) ?? []) {
    const i = h.indexOf(':')
    if (i <= 0) throw new UsageError(`--header: expected "Name: value", instead got '${h}'`)
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim()
  }
  const surge = (k: 'max-surge' | 'max-unavailable'): number | string | undefined => {
    const raw = str(k)
    if (raw === undefined) return undefined
    return /^\d+$/.test(raw.trim()) ? Number(raw) : raw
  }
  const probePath = (k: string): ProbeOptions => {
    const raw = str(k)
    if (raw === undefined) return {}
    return raw === 'none' ? { enabled: false } : { path: raw }
  }
  const common: Record<string, number> = {}
  const setIf = (key: string, value: number | undefined): void => {
    if (value !== undefined) common[key] = value
  }
  setIf('periodMs', n('probe-period-ms'))
  setIf('timeoutMs', n('probe-timeout-ms'))
  setIf('initialDelayMs', n('probe-initial-delay-ms'))
  setIf('failureThreshold', n('probe-failure-threshold'))
  const successThreshold = n('probe-success-threshold')
  const startupFailureThreshold = n('startup-failure-threshold')
  const strategy = str('strategy')
  const router = str('router')
  const onOff = (k: string): boolean | undefined => {
    const raw = str(k)
    if (raw === undefined) return undefined
    if (raw !== 'on' && raw !== 'off') throw new UsageError(`--${k}: expected 'on' or 'off', instead got '${raw}'`)
    return raw === 'on'
  }
  const stepsFlag = str('steps')
  let steps: ReturnType<typeof parseStepsFlag> | undefined
  if (stepsFlag !== undefined) {
    if (strategy !== 'canary') throw new UsageError(`--steps: applies to --strategy canary only, instead the strategy is '${strategy ?? 'rolling'}'`)
    try {
      steps = parseStepsFlag(stepsFlag)
    } catch (err) {
      throw new UsageError(`--steps${(err as Error).message.replace(/^canary\.steps/, '')}`)
    }
  }
  for (const k of ['scale-down-delay-seconds', 'pre-promotion-analysis', 'post-promotion-analysis', 'preview-port', 'preview-rate', 'auto-promotion-seconds']) {
    if (str(k) !== undefined && strategy !== 'blue-green') throw new UsageError(`--${k}: applies to --strategy blue-green only, instead the strategy is '${strategy ?? 'rolling'}'`)
  }

  const options = {
    ...(strategy === undefined ? {} : { strategy }),
    from: str('from'),
    to: str('to'),
    replicas: n('replicas'),
    ...(router === undefined ? {} : { router }),
    port: n('port'),
    endpointDelayMs: n('endpoint-delay-ms'),
    terminationGracePeriodSeconds: n('termination-grace-period-seconds'),
    upstreamIdleTimeoutMs: n('upstream-idle-timeout-ms'),
    rolling: {
      maxSurge: surge('max-surge'),
      maxUnavailable: surge('max-unavailable'),
      minReadySeconds: n('min-ready-seconds'),
      progressDeadlineSeconds: n('progress-deadline-seconds'),
    },
    probes: {
      common,
      startup: { ...probePath('startup-path'), ...(startupFailureThreshold === undefined ? {} : { failureThreshold: startupFailureThreshold }) },
      readiness: { ...probePath('readiness-path'), ...(successThreshold === undefined ? {} : { successThreshold }) },
      liveness: probePath('liveness-path'),
    },
    load: {
      connections: n('connections'),
      rate: n('rate'),
      reconnectRate: n('reconnect-rate'),
      burst: n('burst'),
      method: str('method'),
      path: str('path'),
      headers,
      body: str('body'),
      leadMs: n('lead-ms'),
      tailMs: n('tail-ms'),
      timeoutMs: n('timeout-ms'),
      exactClients: n('exact-clients'),
    },
    analysis: {
      maxErrorRate: n('max-error-rate'),
      maxP99Ms: n('max-p99-ms'),
      intervalMs: n('analysis-interval-ms'),
      count: n('analysis-count'),
      failureLimit: n('failure-limit'),
      inconclusiveLimit: n('inconclusive-limit'),
      minSamples: n('min-samples'),
      prometheusUrl: str('prometheus-url'),
      prometheusTargetsFile: str('prometheus-targets-file'),
    },
    canary: {
      steps,
      abortScaleDownDelaySeconds: n('abort-scale-down-delay-seconds'),
    },
    blueGreen: {
      scaleDownDelaySeconds: n('scale-down-delay-seconds'),
      prePromotionAnalysis: onOff('pre-promotion-analysis'),
      postPromotionAnalysis: onOff('post-promotion-analysis'),
      previewPort: n('preview-port'),
      previewRate: n('preview-rate'),
      autoPromotionSeconds: n('auto-promotion-seconds'),
    },
    runDir: str('run-dir'),
    stopCheck: v['no-stop-check'] === true ? false : undefined,
  }
  const flags = stripUndefined(options) as DeployOptions
  const outputs: OutputFiles = { json: str('json'), html: str('html'), junit: str('junit'), markdown: str('markdown') }
  const dir = str('filename')
  const timeScale = n('time-scale')
  if (dir === undefined) {
    if (timeScale !== undefined) throw new UsageError('--time-scale: applies with -f DIR only')
    return { help: false, options: flags, outputs, quiet: v.quiet === true }
  }
  return { help: false, options: withManifests(dir, timeScale, flags, strategy, v.quiet === true), outputs, quiet: v.quiet === true }
}

/** -f DIR: the files' settings under the flags given on the command line. */
function withManifests(dir: string, timeScale: number | undefined, flags: DeployOptions, strategyFlag: string | undefined, quiet: boolean): DeployOptions {
  if (timeScale === 0) throw new UsageError("--time-scale: expected a positive number, instead got '0'")
  let m: ReturnType<typeof deployOptionsFromManifests>
  try {
    m = deployOptionsFromManifests(dir, timeScale === undefined ? {} : { timeScale })
  } catch (err) {
    throw new UsageError(`-f ${dir}: ${(err as Error).message}`)
  }
  if (strategyFlag !== undefined && strategyFlag !== m.options.strategy) {
    throw new UsageError(`--strategy: the manifests in ${dir} describe a ${m.options.strategy ?? 'rolling'} rollout, instead got --strategy ${strategyFlag}; drop the flag or pick the folder of that strategy`)
  }
  if (!quiet) for (const note of m.notes) process.stderr.write(`zerodrop: ${dir}: ${note}\n`)
  const revision = (command: DeployOptions['from']): DeployOptions['from'] =>
    typeof command === 'string' || Array.isArray(command) ? { command, env: m.env } : command
  const merged = mergeOptions(m.options as DeployOptions, flags)
  return { ...merged, from: revision(flags.from), to: revision(flags.to) }
}

function stripUndefined(x: unknown): unknown {
  if (Array.isArray(x) || x === null || typeof x !== 'object') return x
  const out: Record<string, unknown> = {}
  for (const [k, val] of Object.entries(x)) if (val !== undefined) out[k] = stripUndefined(val)
  return out
}

function usageMessage(err: FleetUsageError): string {
  const flag = err.option === undefined ? undefined : FLAGS[err.option]
  if (flag && err.option && err.message.startsWith(`${err.option}:`)) return `${flag}${err.message.slice(err.option.length)}`
  return err.message
}

/**
 * Every output file checked before any work starts (exit 64 otherwise): its folder exists and can
 * be written, and it is not a folder or a read-only file. Generic over the output flags, so a new
 * one is checked by being in `OutputFiles`.
 */
export function outputProblems(outputs: OutputFiles): string[] {
  const problems: string[] = []
  for (const [kind, file] of Object.entries(outputs)) {
    if (typeof file !== 'string') continue
    const flag = `--${kind}`
    if (file.trim() === '') {
      problems.push(`${flag}: expected a file to write the ${kind} report to, instead got ''`)
      continue
    }
    const dir = path.dirname(path.resolve(file))
    let stat: fs.Stats | undefined
    try {
      stat = fs.statSync(file)
    } catch {
      stat = undefined
    }
    if (stat?.isDirectory()) problems.push(`${flag}: expected a file to write, instead '${file}' is a folder`)
    else if (stat !== undefined) {
      try {
        fs.accessSync(file, fs.constants.W_OK)
      } catch {
        problems.push(`${flag}: expected a file this user can write, instead '${file}' exists and is read-only`)
      }
    } else if (!fs.existsSync(dir)) problems.push(`${flag}: expected a file in an existing folder, instead the folder ${dir} of '${file}' does not exist`)
    else {
      try {
        fs.accessSync(dir, fs.constants.W_OK)
      } catch {
        problems.push(`${flag}: expected a file in a folder this user can write, instead ${dir} (for '${file}') is not writable`)
      }
    }
  }
  return problems
}

/** The terminal report and every output the user asked for (which never change the exit code). */
function emit(report: Report, outputs: OutputFiles, quiet: boolean): void {
  process.stdout.write(`${formatReport(report)}\n`)
  let out: ReturnType<typeof writeOutputs>
  try {
    out = writeOutputs(outputs, deployViews(report))
  } catch (err) {
    process.stderr.write(`zerodrop: could not render the reports: ${(err as Error).message}\n`)
    return
  }
  for (const e of out.errors) process.stderr.write(`zerodrop: ${e}\n`)
  if (!quiet) for (const w of out.written) if (w.kind !== 'json') process.stderr.write(`zerodrop: ${w.kind} report ${w.file}\n`)
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'verify') return verifyMain(argv.slice(1))
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(applyRuntimeFlags(argv))
  } catch (err) {
    if (err instanceof UsageError || err instanceof RuntimeDockerError) {
      process.stderr.write(`zerodrop: ${err.message}\n`)
      return EXIT_CODES.usage
    }
    throw err
  }
  if (parsed.help) {
    process.stdout.write(`${HELP}\n`)
    return 0
  }
  const problems = outputProblems(parsed.outputs)
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`zerodrop: ${p}\n`)
    return EXIT_CODES.usage
  }
  const controller = new AbortController()
  const progress = createProgress(process.stderr, { quiet: parsed.quiet })
  let signals = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++
    if (signals > 1) {
      killAllInstancesSync()
      process.stderr.write(`zerodrop: ${signal} again: every instance killed\n`)
      process.exit(signal === 'SIGTERM' ? EXIT_CODES.terminated : EXIT_CODES.interrupted)
    }
    progress.line(`zerodrop: ${signal}: stopping the load, then draining every instance (SIGTERM, SIGKILL after the grace; ${signal} again to kill at once)`)
    controller.abort(signal)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const start = Date.now()
  try {
    const report = await deploy({
      ...parsed.options,
      signal: controller.signal,
      ...(parsed.quiet ? {} : { onProgress: progress.event }),
      ...(progress.status === undefined ? {} : { onStatus: progress.status }),
    })
    progress.end()
    emit(report, parsed.outputs, parsed.quiet)
    return report.exitCode
  } catch (err) {
    if (err instanceof FleetUsageError) {
      process.stderr.write(`zerodrop: ${usageMessage(err)}\n`)
      return EXIT_CODES.usage
    }
    progress.end()
    const partial = partialReportOf(err)
    if (partial) emit(partial, parsed.outputs, parsed.quiet)
    if (err instanceof AbortedError) {
      const code = partial?.exitCode ?? (controller.signal.reason === 'SIGTERM' ? EXIT_CODES.terminated : EXIT_CODES.interrupted)
      process.stderr.write(`zerodrop: interrupted after ${((Date.now() - start) / 1000).toFixed(1)} s; the load stopped, every instance stopped after its drain; exit ${code}\n`)
      return code
    }
    return reportInternalError(err, partial?.runDir ?? parsed.options.runDir)
  } finally {
    progress.end()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
