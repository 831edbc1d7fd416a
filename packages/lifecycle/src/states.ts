/** The life of an instance: starting ─► ready ─(SIGTERM)─► draining ─► stopping ─► stopped. */
export const STATE_STARTING = 'starting'
export const STATE_READY = 'ready'
/** Readiness answers 503; requests are still served, with `Connection: close`. */
export const STATE_DRAINING = 'draining'
/** The listener is closed; in-flight requests finish, then shutdown hooks run. */
export const STATE_STOPPING = 'stopping'
export const STATE_STOPPED = 'stopped'

export const STATES = [STATE_STARTING, STATE_READY, STATE_DRAINING, STATE_STOPPING, STATE_STOPPED] as const
export type LifecycleState = (typeof STATES)[number]

export const PROBE_STARTUP = 'startup'
export const PROBE_LIVENESS = 'liveness'
export const PROBE_READINESS = 'readiness'
export const PROBES = [PROBE_STARTUP, PROBE_LIVENESS, PROBE_READINESS] as const
export type ProbeName = (typeof PROBES)[number]
