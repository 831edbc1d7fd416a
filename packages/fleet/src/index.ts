export { startExactLoad } from './exact-client.js'
export type { ExactLoad, ExactLoadOptions, ExactLoadResult, Outcome, RequestRecord } from './exact-client.js'
export { createRouter, resolveRouterOptions } from './router.js'
export type { Endpoint, RevisionStats, Router, RouterLogger, RouterMode, RouterOptions, RouterStats } from './router.js'
export { deploy } from './deploy.js'
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
} from './options.js'
export { resolveDeployOptions, resolveFenceposts } from './options.js'
export {
  AbortedError,
  ERROR_CODES,
  FleetError,
  FleetUsageError,
  InstanceExitedError,
  InstanceNotReadyError,
  InstanceSpawnError,
  InvalidOptionError,
  ManifestError,
  PortUnavailableError,
  ROUTER_ERROR_CODES,
  RouterError,
} from './errors.js'
export type { ErrorCode, RouterErrorCode } from './errors.js'
export { loadManifests, formatManifestIssues } from './manifests.js'
export type { LoadedManifests, ManifestIssue, ManifestOptions } from './manifests.js'
export { deployOptionsFromManifests } from './from-manifests.js'
export type { FromManifests, FromManifestsOptions } from './from-manifests.js'
export { EXIT_CODES, exitCodeFor, formatReport } from './report.js'
export type { Report, ReportStep } from './report.js'
export type { Accounting, RevisionAccount } from './accounting.js'
export type { FleetEvent, InstanceRecord, RevisionCounts } from './fleet.js'
export type { Strategy, StrategyContext, StrategyResult, StepRecord, Outcome as RolloutOutcome } from './strategy.js'
export { rolling } from './rolling.js'
export { killAllInstancesSync, liveProcessGroups, groupAlive } from './instance.js'
export { freePort } from './ports.js'
export { canary } from './canary.js'
export { blueGreen } from './blue-green.js'
export type { AnalysisSettings, BlueGreenOptions, CanaryOptions, CanaryStepInput, ResolvedAnalysis } from './progressive-options.js'
export { DEFAULT_CANARY_WEIGHTS, parseStepsFlag } from './progressive-options.js'
export type { AnalysisRun, Measurement, MeasurementPhase, MetricsSource, RawMeasurement } from './analysis.js'
export { runAnalysis, judge, ScrapeSource } from './analysis.js'
export { histogramQuantile, parsePrometheusText, counterIncrease, RevisionScraper } from './scrape.js'
export { ERROR_RATE_QUERY, P99_QUERY, PrometheusQueryError, PrometheusSource, queryScalar, renderQuery, writeTargetsFile } from './promql.js'
export { parseArgoDuration } from './durations.js'
export type { Detection, Flip, ProgressiveRecord, WeightPeriod } from './progressive.js'
export type { BadRelease, ProgressiveReport } from './progressive-report.js'
