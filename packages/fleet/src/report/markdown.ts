import fs from 'node:fs'
import { deployChecks, type Check } from './checks.js'
import { dataCheckLine, instanceEnd, verdictWord, type Report } from './report.js'

/** A Markdown table cell: one line, pipes escaped. */
export function mdCell(s: unknown): string {
  return String(s).replace(/\r?\n/g, ' ').replace(/\|/g, '\\|')
}

export function checksTable(checks: readonly Check[]): string {
  const rows = checks.map((c) => `| ${c.skipped ? '➖' : c.ok ? '✅' : '❌'} | ${mdCell(c.name)} | ${mdCell(c.message)} |`)
  return ['| | check | result |', '|---|---|---|', ...rows].join('\n')
}

/** The job summary: verdict, the checks, the accounting per revision. */
export function renderMarkdown(r: Report): string {
  const p = r.parameters
  const word = verdictWord(r)
  const a = r.accounting
  const accRow = (name: string, x: Report['accounting']['byRevision'][string]): string =>
    `| ${mdCell(name)} | ${x.requests} | ${x.ok} | ${x.non2xx} | ${x.lost} | ${x.reset} | ${x.refused} | ${x.timeout} | ${x.aborted} | ${x.refusedConnections ?? 0} | ${x.dropped} |`
  return [
    `### zerodrop deploy: ${mdCell(p.strategy)} ${mdCell(p.from.name)} → ${mdCell(p.to.name)}: ${word}, ${r.dropped} dropped`,
    '',
    `${p.replicas} replicas, ${p.router} router; ${r.load.requests} requests at ${r.load.rps.toFixed(0)} req/s; rollout ${(r.timing.rolloutDurationMs / 1000).toFixed(1)} s; exit ${r.exitCode}${r.reason ? `; ${mdCell(r.reason)}` : ''}`,
    '',
    checksTable(deployChecks(r)),
    '',
    '| revision | requests | ok | non-2xx | lost | reset | refused | timeout | abandoned | refused connections | dropped |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    accRow('all (router)', a),
    ...Object.entries(a.byRevision).map(([rev, x]) => accRow(rev, x)),
    '',
    ...(r.dataCheck === undefined ? [] : [`data check: ${mdCell(dataCheckLine(r.dataCheck))}`, '']),
    '| instance | revision | port | restarts | end |',
    '|---|---|---:|---:|---|',
    ...r.instances.map((i) => `| ${mdCell(i.id)} | ${mdCell(i.revision)} | ${i.port} | ${i.restarts} | ${mdCell(instanceEnd(i))} |`),
    '',
  ].join('\n')
}

export function writeMarkdown(file: string, markdown: string): void {
  fs.writeFileSync(file, markdown)
}

/** GitHub's job summary: appended to, never overwritten (other steps write there too). */
export function appendStepSummary(markdown: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = env.GITHUB_STEP_SUMMARY
  if (file === undefined || file === '') return undefined
  fs.appendFileSync(file, `${markdown}\n`)
  return file
}
