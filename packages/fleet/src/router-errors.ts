/** Stable codes for every error the router throws. */
export const ROUTER_ERROR_CODES = {
  notLoopback: 'ZD_ERR_ROUTER_NOT_LOOPBACK',
  invalidOption: 'ZD_ERR_ROUTER_INVALID_OPTION',
  invalidEndpoint: 'ZD_ERR_ROUTER_INVALID_ENDPOINT',
  invalidWeights: 'ZD_ERR_ROUTER_INVALID_WEIGHTS',
  listen: 'ZD_ERR_ROUTER_LISTEN',
} as const

export type RouterErrorCode = (typeof ROUTER_ERROR_CODES)[keyof typeof ROUTER_ERROR_CODES]

export class RouterError extends Error {
  readonly code: RouterErrorCode

  constructor(code: RouterErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'RouterError'
    this.code = code
  }
}

const LOOPBACK = /^(127(?:\.\d{1,3}){3}|::1|localhost)$/

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host)
}
