export { Lifecycle, createLifecycle } from './lifecycle.js'
export type { DrainDelaySummary, HookOptions, ProbeReport, ProbeResponse, ShutdownSummary, WrapOptions } from './lifecycle.js'
export { WS_GOING_AWAY } from './longlived.js'
export type { EventStreamOptions, GoAway, Release, WebSocketLike } from './longlived.js'
export { resolveOptions, DEFAULTS, DEFAULT_BUCKETS } from './options.js'
export type { AdaptiveDrainDelay, ResolvedDrainDelay, LifecycleOptions, Logger, MetricsOptions, PressureOptions, ProbePaths, ResolvedOptions } from './options.js'
export type { Check, CheckResult } from './probes.js'
export { createMetrics, UNMATCHED_ROUTE } from './metrics.js'
export type { Metrics } from './metrics.js'
export type { DrainableServer } from './drain.js'
export {
  STATE_STARTING, STATE_READY, STATE_DRAINING, STATE_STOPPING, STATE_STOPPED, STATES,
  PROBE_STARTUP, PROBE_LIVENESS, PROBE_READINESS, PROBES,
} from './states.js'
export type { LifecycleState, ProbeName } from './states.js'
export {
  ZeroDropError, InvalidOptionError, InvalidCheckError, DuplicateNameError, CheckTimeoutError, HookTimeoutError, ERROR_CODES,
} from './errors.js'
export type { ErrorCode } from './errors.js'
