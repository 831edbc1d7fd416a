import fs from 'node:fs'
import type { TestContext } from 'vitest'
import { deploy, formatReport, killAllInstancesSync, type DeployOptions, type Report } from '@zerodrop/fleet'

/**
 * Runs deploys for one test file and cleans up after each test: the deploy in progress is
 * aborted if a test failed or timed out under it, every instance is killed, and the run's
 * folder is removed unless the test failed (its report, printed, names the folder).
 */
export function deployHarness() {
  const reports: Report[] = []
  let current: { controller: AbortController; settled: Promise<unknown> } | undefined

  async function run(options: Omit<DeployOptions, 'signal'>): Promise<Report> {
    const controller = new AbortController()
    const pending = deploy({ ...options, signal: controller.signal })
    current = { controller, settled: pending.catch(() => undefined) }
    const report = await pending
    reports.push(report)
    return report
  }

  async function cleanup(ctx: TestContext): Promise<void> {
    const report = reports.pop()
    if (ctx.task.result?.state === 'fail' && report) console.log(formatReport(report))
    // on failure too: nothing the test started may outlive it
    if (current) {
      current.controller.abort('test over')
      await Promise.race([current.settled, new Promise((r) => setTimeout(r, 15_000))])
      current = undefined
    }
    killAllInstancesSync()
    if (ctx.task.result?.state !== 'fail') for (const r of [report, ...reports]) if (r) fs.rmSync(r.runDir, { recursive: true, force: true })
    reports.length = 0
  }

  return { run, cleanup }
}
