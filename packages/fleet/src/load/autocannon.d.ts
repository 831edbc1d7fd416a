// The part of autocannon 9's programmatic API the fleet uses (the package ships no types).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'
  namespace autocannon {
  interface AutocannonClient extends EventEmitter {
    destroyed: boolean
    conn: import('node:net').Socket
    _doRequest(): void
    _connect(): void
    _resetConnection(): void
    destroy(): void
  }
  interface AutocannonOptions {
    url: string
    connections?: number
    duration?: number
    amount?: number
    timeout?: number
    pipelining?: number
    reconnectRate?: number
    overallRate?: number
    connectionRate?: number
    method?: string
    headers?: Record<string, string>
    body?: string
    sampleInt?: number
    setupClient?: (client: AutocannonClient) => void
  }
  interface Histogram {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    p50: number
    p90: number
    p97_5: number
    p99: number
    p99_9: number
  }
  interface AutocannonResult {
    latency: Histogram
    requests: Histogram & { total: number; sent: number }
    errors: number
    timeouts: number
    non2xx: number
    resets: number
    duration: number
    start: Date
    finish: Date
    statusCodeStats: Record<string, { count: number }>
    '2xx': number
  }
  interface Instance extends EventEmitter {
    stop(): void
  }
  }
  function autocannon(options: autocannon.AutocannonOptions, cb: (err: Error | null, result: autocannon.AutocannonResult) => void): autocannon.Instance
  export = autocannon
}
