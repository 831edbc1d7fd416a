import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as fleet from '@zerodrop/fleet'
import { CLI, DEMO, ROOT } from '../helpers/process.js'

// The public surface users and scripts rely on — package exports, CLI flags, report JSON fields —
// pinned as it was before the move into folders. Extend it; renaming or removing is a breaking change.

const EXPORTS = [
  'AbortedError', 'DEFAULT_CANARY_WEIGHTS', 'ERROR_CODES', 'ERROR_RATE_QUERY', 'EXIT_CODES', 'FleetError', 'FleetUsageError',
  'InstanceExitedError', 'InstanceNotReadyError', 'InstanceSpawnError', 'InvalidOptionError', 'ManifestError', 'P99_QUERY',
  'PortUnavailableError', 'PrometheusQueryError', 'PrometheusSource', 'ROUTER_ERROR_CODES', 'RevisionScraper', 'RouterError',
  'ScrapeSource', 'blueGreen', 'canary', 'counterIncrease', 'createRouter', 'deploy', 'deployOptionsFromManifests', 'exitCodeFor',
  'formatManifestIssues', 'formatReport', 'freePort', 'groupAlive', 'histogramQuantile', 'judge', 'killAllInstancesSync',
  'liveProcessGroups', 'loadManifests', 'parseArgoDuration', 'parsePrometheusText', 'parseStepsFlag', 'queryScalar', 'renderQuery',
  'resolveDeployOptions', 'resolveFenceposts', 'resolveRouterOptions', 'rolling', 'runAnalysis', 'startExactLoad', 'writeTargetsFile',
  'appendStepSummary', 'deployChecks', 'deploySuite', 'deployViews', 'errorSuite', 'renderHtml', 'renderJUnit', 'renderMarkdown',
  'writeHtml', 'writeJUnit', 'writeOutputs', 'partialReportOf',
]

const FLAGS = [
  '--abort-scale-down-delay-seconds', '--analysis-count', '--analysis-interval-ms', '--auto-promotion-seconds', '--body', '--burst',
  '--connections', '--container-env', '--endpoint-delay-ms', '--exact-clients', '--failure-limit', '--filename', '--from', '--header',
  '--help', '--image', '--inconclusive-limit', '--json', '--lead-ms', '--liveness-path', '--max-error-rate', '--max-p99-ms',
  '--max-surge', '--max-unavailable', '--method', '--min-ready-seconds', '--min-samples', '--path', '--port',
  '--post-promotion-analysis', '--pre-promotion-analysis', '--preview-port', '--preview-rate', '--probe-failure-threshold',
  '--probe-initial-delay-ms', '--probe-period-ms', '--probe-success-threshold', '--probe-timeout-ms', '--progress-deadline-seconds',
  '--prometheus-targets-file', '--prometheus-url', '--quiet', '--rate', '--readiness-path', '--reconnect-rate', '--replicas',
  '--router', '--run-dir', '--runtime', '--scale-down-delay-seconds', '--startup-failure-threshold', '--startup-path', '--steps',
  '--strategy', '--tail-ms', '--termination-grace-period-seconds', '--time-scale', '--timeout-ms', '--to', '--to-image',
  '--upstream-idle-timeout-ms', '--html', '--junit', '--markdown', '--request', '--no-stop-check',
]

const REPORT_FIELDS = [
  'schema', 'verdict', 'exitCode', 'dropped', 'bothRevisionsServed', 'parameters', 'timing', 'timing.startedAt',
  'timing.rolloutStartMs', 'timing.rolloutDurationMs', 'timing.loadDurationMs', 'timing.loadStopMs', 'timing.totalMs', 'steps',
  'events', 'load', 'load.requests', 'load.rps', 'load.latencyMs', 'load.autocannon', 'load.exact', 'accounting',
  'accounting.connections', 'accounting.requests', 'accounting.ok', 'accounting.non2xx', 'accounting.status', 'accounting.lost',
  'accounting.reset', 'accounting.refused', 'accounting.timeout', 'accounting.aborted', 'accounting.unaccounted',
  'accounting.dropped', 'accounting.noEndpoint', 'accounting.byRevision', 'accounting.crossCheck', 'perSecond', 'instances', 'runDir',
  'timing.eventsOriginMs', 'failures', 'failures.records', 'failures.omitted', 'load.generator', 'accounting.refusedConnections', 'stopCheck',
  'stopCheck.verdict', 'stopCheck.detail', 'stopCheck.exitedAfterMs', 'stopCheck.killed', 'stopCheck.during',
]

let dir: string | undefined
afterEach(() => {
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

describe('@zerodrop/fleet public surface', () => {
  it('the package exports at least these names', () => {
    expect(Object.keys(fleet).sort()).toEqual(expect.arrayContaining(EXPORTS))
  })

  it('`zerodrop --help` documents every flag the CLI has always had', () => {
    const help = execFileSync(process.execPath, [CLI, '--help'], { cwd: ROOT, encoding: 'utf8' })
    const documented = new Set(help.match(/--[a-z0-9-]+/g))
    expect(FLAGS.filter((f) => !documented.has(f))).toEqual([])
  })

  it('the package manifest passes publint (bin launcher included)', () => {
    expect(() => execFileSync('npx', ['publint', `${ROOT}packages/fleet`, '--strict'], { cwd: ROOT, stdio: 'pipe' })).not.toThrow()
  }, 60_000)

  it('a deploy report (--json) still carries every field it had', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zd-surface-'))
    const json = path.join(dir, 'report.json')
    execFileSync(process.execPath, [
      CLI, 'deploy', '--quiet', '--replicas', '1', '--max-surge', '1', '--max-unavailable', '0', '--rate', '50', '--connections', '4',
      '--lead-ms', '300', '--tail-ms', '300', '--probe-period-ms', '100', '--endpoint-delay-ms', '300',
      '--from', `DRAIN_DELAY_MS=500 node ${DEMO}`, '--to', `DRAIN_DELAY_MS=500 APP_VERSION=v2 node ${DEMO}`, '--json', json,
    ], { cwd: ROOT, stdio: 'pipe', timeout: 60_000 })
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as Record<string, unknown>
    const fields = new Set<string>()
    for (const [k, v] of Object.entries(report)) {
      fields.add(k)
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) for (const k2 of Object.keys(v)) fields.add(`${k}.${k2}`)
    }
    expect(REPORT_FIELDS.filter((f) => !fields.has(f))).toEqual([])
    expect(report.schema).toBe('zerodrop.report/v1')
  }, 90_000)
})
