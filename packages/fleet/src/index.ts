export { startExactLoad } from './load/exact-client.js'
export type { ExactLoad, ExactLoadOptions, ExactLoadResult, Outcome, RequestRecord } from './load/exact-client.js'
export { createRouter, resolveRouterOptions } from './router/router.js'
export type { Endpoint, RevisionStats, Router, RouterLogger, RouterMode, RouterOptions, RouterStats } from './router/router.js'
export { deploy, partialReportOf } from './deploy/deploy.js'
export type {
  DeployOptions,
  LoadOptions,
  ProbeOptions,
  ProbesOptions,
  ProgressEvent,
  ResolvedDeployOptions,
  RevisionOptions,
  RollingOptions,
  StrategyName,
} from './options/deploy.js'
export { resolveDeployOptions, resolveFenceposts } from './options/deploy.js'
export {
  AbortedError,
  ERROR_CODES,
  ERRORS,
  FleetError,
  FleetUsageError,
  InstanceExitedError,
  InstanceNotReadyError,
  InstanceSpawnError,
  InvalidOptionError,
  GateCannotDecideError,
  ManifestError,
  PortUnavailableError,
  ROUTER_ERROR_CODES,
  RouterError,
  ScrapeError,
} from './core/errors.js'
export type { ErrorCode, RouterErrorCode } from './core/errors.js'
export { loadManifests, formatManifestIssues } from './manifests/manifests.js'
export type { LoadedManifests, ManifestIssue, ManifestOptions } from './manifests/manifests.js'
export { deployOptionsFromManifests } from './manifests/from-manifests.js'
export type { FromManifests, FromManifestsOptions } from './manifests/from-manifests.js'
export { EXIT_CODES, exitCodeFor, formatReport } from './report/report.js'
export type { DeployExitCode, Report, ReportFailure, ReportFailures, ReportStep, Verdict } from './report/report.js'
export type { StopCheckRecord, StopCheckVerdict } from './strategies/stop-check.js'
export type { FailureLog, FailureRecord, FailureRecordCause } from './router/router.js'
export { renderHtml, writeHtml } from './report/html.js'
export { deploySuite, errorSuite, renderJUnit, writeJUnit } from './report/junit.js'
export type { JUnitCase, JUnitSuite } from './report/junit.js'
export { appendStepSummary, renderMarkdown } from './report/markdown.js'
export { deployChecks } from './report/checks.js'
export type { Check } from './report/checks.js'
export { deployViews, writeOutputs } from './report/outputs.js'
export type { OutputFiles, OutputResult, OutputViews } from './report/outputs.js'
export type { Accounting, RevisionAccount } from './report/accounting.js'
export type { FleetEvent, InstanceRecord, RevisionCounts } from './runtime/fleet.js'
export type { Strategy, StrategyContext, StrategyResult, StepRecord, Outcome as RolloutOutcome } from './strategies/types.js'
export { rolling } from './strategies/rolling.js'
export { killAllInstancesSync, liveProcessGroups, groupAlive } from './runtime/instance.js'
export { freePort } from './core/ports.js'
export { canary } from './strategies/canary.js'
export { blueGreen } from './strategies/blue-green.js'
export type { AnalysisSettings, BlueGreenOptions, CanaryOptions, CanaryStepInput, ResolvedAnalysis } from './options/progressive.js'
export { DEFAULT_CANARY_WEIGHTS, parseStepsFlag } from './options/progressive.js'
export type { AnalysisRun, Measurement, MeasurementPhase, MetricsSource, RawMeasurement } from './analysis/analysis.js'
export { runAnalysis, judge, ScrapeSource } from './analysis/analysis.js'
export { histogramQuantile, parsePrometheusText, counterIncrease, RevisionScraper } from './analysis/scrape.js'
export { ERROR_RATE_QUERY, P99_QUERY, PrometheusQueryError, PrometheusSource, queryScalar, renderQuery, writeTargetsFile } from './analysis/promql.js'
export { parseArgoDuration } from './core/durations.js'
export type { Detection, Flip, ProgressiveRecord, WeightPeriod } from './strategies/progressive.js'
export type { BadRelease, ProgressiveReport } from './report/progressive.js'
export { verify, tally as verifyTally, verifyExitCode, VERIFY_EXIT_CODES } from './verify/verify.js'
export type { VerifyEvent, VerifyExitCode, VerifyResult, VerifyRunOptions, VerifySecond } from './verify/verify.js'
export { formatVerifyReport, verifyJson } from './verify/report.js'
export type { VerifyJson } from './verify/report.js'
export type { VerifyOutcome, VerifyRecord } from './verify/client.js'
export { resolveVerifyOptions, VERIFY_DEFAULTS, VERIFY_LIMITS } from './options/verify.js'
export type { ResolvedVerifyOptions, VerifyOptions } from './options/verify.js'
export { VerifyTargetError } from './core/errors.js'
export { boundWording } from './report/progressive.js'
