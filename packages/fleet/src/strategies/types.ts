import type { Fleet, RevisionCounts } from '../runtime/fleet.js'
import type { ResolvedDeployOptions, ResolvedRevision } from '../options/deploy.js'
import type { Router } from '../router/router.js'

/** What a strategy did, recorded as it happens; the report adds the traffic share until the next step. */
export interface StepRecord {
  /** ms since the rollout started */
  readonly t: number
  /** 'rollout' or 'rollback' (blue-green and canary will add their own phases) */
  readonly phase: string
  readonly action: string
  readonly revisions: Readonly<Record<string, RevisionCounts>>
  /** router requests per revision when the step was taken (cumulative) */
  readonly routerRequests: Readonly<Record<string, number>>
}

export const OUTCOMES = ['promoted', 'rolled-back', 'rollback-failed'] as const
export type Outcome = (typeof OUTCOMES)[number]

export interface StrategyResult {
  readonly outcome: Outcome
  /** why it rolled back, when it did */
  readonly reason?: string
  /** ms since the rollout started when the new revision was complete (or the rollback was) */
  readonly completedAt: number
}

/** Everything a strategy may use; the deploy owns the router, the fleet and the load. */
export interface StrategyContext {
  readonly options: ResolvedDeployOptions
  readonly from: ResolvedRevision
  readonly to: ResolvedRevision
  readonly fleet: Fleet
  readonly router: Router
  readonly signal: AbortSignal
  /** ms since the rollout started */
  now(): number
  /** record a step (an action the strategy took) with the counts of every revision */
  step(phase: string, action: string): void
  /** a line of progress for a human watching */
  progress(message: string): void
  /** throws if the deploy was aborted or an instance failed in a way that makes going on pointless */
  check(): void
}

/** A deployment strategy: rolling now; blue-green and canary plug in here. */
export interface Strategy {
  readonly name: string
  run(context: StrategyContext): Promise<StrategyResult>
}
