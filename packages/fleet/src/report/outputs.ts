import fs from 'node:fs'
import { renderHtml } from './html.js'
import { deploySuite, renderJUnit } from './junit.js'
import { appendStepSummary, renderMarkdown } from './markdown.js'
import type { Report } from './report.js'

/** The files a run was asked to write (`--json`, `--html`, `--junit`, `--markdown`). */
export interface OutputFiles {
  readonly json?: string | undefined
  readonly html?: string | undefined
  readonly junit?: string | undefined
  readonly markdown?: string | undefined
}

/** How a run renders each output; `deploy` and `verify` each bring their own. */
export interface OutputViews {
  readonly json: () => string
  readonly html: () => string
  readonly junit: () => string
  /** also what goes to $GITHUB_STEP_SUMMARY */
  readonly markdown: () => string
}

export interface OutputResult {
  readonly written: ReadonlyArray<{ readonly kind: string; readonly file: string }>
  /** one line each, naming the file and why it could not be written */
  readonly errors: readonly string[]
}

export function deployViews(r: Report): OutputViews {
  return {
    json: () => `${JSON.stringify(r, null, 2)}\n`,
    html: () => renderHtml(r),
    junit: () => renderJUnit([deploySuite(r)]),
    markdown: () => renderMarkdown(r),
  }
}

/**
 * Writes every requested output, each on its own: one that cannot be written is reported and the
 * others are still written. Never throws, so a caller on any exit path can call it and keep its
 * exit code.
 */
export function writeOutputs(files: OutputFiles, views: OutputViews, env: NodeJS.ProcessEnv = process.env): OutputResult {
  const written: Array<{ kind: string; file: string }> = []
  const errors: string[] = []
  const one = (kind: keyof OutputViews, file: string | undefined): void => {
    if (file === undefined) return
    try {
      fs.writeFileSync(file, views[kind]())
      written.push({ kind, file })
    } catch (err) {
      errors.push(`--${kind} ${file}: could not write the ${kind} report: ${(err as Error).message}`)
    }
  }
  one('json', files.json)
  one('html', files.html)
  one('junit', files.junit)
  one('markdown', files.markdown)
  const summary = env.GITHUB_STEP_SUMMARY
  if (summary !== undefined && summary !== '') {
    try {
      appendStepSummary(views.markdown(), env)
      written.push({ kind: 'step-summary', file: summary })
    } catch (err) {
      errors.push(`GITHUB_STEP_SUMMARY ${summary}: could not append the job summary: ${(err as Error).message}`)
    }
  }
  return { written, errors }
}
