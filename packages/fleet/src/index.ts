export { startExactLoad } from './exact-client.js'
export type { ExactLoad, ExactLoadOptions, ExactLoadResult, Outcome, RequestRecord } from './exact-client.js'
