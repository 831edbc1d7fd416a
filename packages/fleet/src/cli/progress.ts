import type { DeployStatus, ProgressEvent } from '../options/deploy.js'

/**
 * Progress on stderr. On a terminal: the event lines scroll by above one status line that is
 * redrawn in place (phase, step, ready/available per revision, req/s, failed so far, elapsed).
 * Anywhere else (a pipe, a CI log): the plain event lines only, no control characters.
 * `--quiet`: nothing.
 */
export interface Progress {
  readonly event: (e: ProgressEvent) => void
  readonly status: ((s: DeployStatus) => void) | undefined
  /** a line of the CLI's own (a signal), above the status line; written with --quiet too */
  readonly line: (text: string) => void
  /** clears the status line, so what follows starts on a clean line */
  readonly end: () => void
}

export interface ProgressStream {
  write(chunk: string): unknown
  readonly isTTY?: boolean
  readonly columns?: number
}

const CLEAR = '\r\x1b[2K'
const stamp = (ms: number): string => `[${(ms / 1000).toFixed(1).padStart(6)} s]`

export function formatStatus(s: DeployStatus): string {
  const revs = Object.entries(s.revisions)
    .map(([rev, c]) => `${rev} ${c.ready}/${c.available}${c.terminating ? ` (${c.terminating} terminating)` : ''}`)
    .join(' ')
  const step = s.step ? ` ${s.step}` : ''
  return `${stamp(s.t)} ${s.phase}:${step} | ready/available ${revs} | ${Math.round(s.rps)} req/s | ${s.failed} failed of ${s.requests}`
}

export function createProgress(stream: ProgressStream, o: { readonly quiet: boolean }): Progress {
  // --quiet silences progress, not what the CLI says about a signal
  if (o.quiet) return { event: () => {}, status: undefined, line: (text) => stream.write(`${text}\n`), end: () => {} }
  if (stream.isTTY !== true) {
    return {
      event: (e) => stream.write(`${stamp(e.t)} ${e.message}\n`),
      status: undefined,
      line: (text) => stream.write(`${text}\n`),
      end: () => {},
    }
  }
  let current = ''
  const fit = (text: string): string => {
    // a pseudo-terminal nobody sized (CI, `script`) reports 0 columns
    const width = Math.max(20, (stream.columns !== undefined && stream.columns > 0 ? stream.columns : 100) - 1)
    return text.length > width ? `${text.slice(0, width - 1)}…` : text
  }
  const above = (text: string): void => {
    stream.write(`${CLEAR}${text}\n${current}`)
  }
  return {
    event: (e) => above(`${stamp(e.t)} ${e.message}`),
    status: (s) => {
      current = fit(formatStatus(s))
      stream.write(`${CLEAR}${current}`)
    },
    line: (text) => above(text),
    end: () => {
      if (current !== '') stream.write(CLEAR)
      current = ''
    },
  }
}
