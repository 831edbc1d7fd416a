import fs from 'node:fs'
import path from 'node:path'
import { deploy, partialReportOf } from '../deploy/deploy.js'
import { AbortedError, FleetUsageError } from '../core/errors.js'
import { killAllInstancesSync } from '../runtime/instance.js'
import { EXIT_CODES, formatReport, type Report } from '../report/report.js'
import { deployViews, writeOutputs, type OutputFiles } from '../report/outputs.js'
import { messageFor, parse, usage, type ParsedDeploy } from './parse.js'
import { createProgress } from './progress.js'
import { reportInternalError } from './internal-error.js'
import { verifyMain } from './verify.js'

/**
 * Every output file checked before any work starts (exit 64 otherwise): its folder exists and can
 * be written, and it is not a folder or a read-only file. Generic over the output flags, so a new
 * one is checked by being in `OutputFiles`.
 */
export function outputProblems(outputs: OutputFiles): string[] {
  const problems: string[] = []
  for (const [kind, file] of Object.entries(outputs)) {
    if (typeof file !== 'string') continue
    const flag = `--${kind}`
    if (file.trim() === '') {
      problems.push(`${flag}: expected a file to write the ${kind} report to, instead got ''`)
      continue
    }
    const dir = path.dirname(path.resolve(file))
    let stat: fs.Stats | undefined
    try {
      stat = fs.statSync(file)
    } catch {
      stat = undefined
    }
    if (stat?.isDirectory()) problems.push(`${flag}: expected a file to write, instead '${file}' is a folder`)
    else if (stat !== undefined) {
      try {
        fs.accessSync(file, fs.constants.W_OK)
      } catch {
        problems.push(`${flag}: expected a file this user can write, instead '${file}' exists and is read-only`)
      }
    } else if (!fs.existsSync(dir)) problems.push(`${flag}: expected a file in an existing folder, instead the folder ${dir} of '${file}' does not exist`)
    else {
      try {
        fs.accessSync(dir, fs.constants.W_OK)
      } catch {
        problems.push(`${flag}: expected a file in a folder this user can write, instead ${dir} (for '${file}') is not writable`)
      }
    }
  }
  return problems
}

/** The terminal report and every output the user asked for (which never change the exit code). */
function emit(report: Report, outputs: OutputFiles, quiet: boolean): void {
  process.stdout.write(`${formatReport(report)}\n`)
  let out: ReturnType<typeof writeOutputs>
  try {
    out = writeOutputs(outputs, deployViews(report))
  } catch (err) {
    process.stderr.write(`zerodrop: could not render the reports: ${(err as Error).message}\n`)
    return
  }
  for (const e of out.errors) process.stderr.write(`zerodrop: ${e}\n`)
  if (!quiet) for (const w of out.written) if (w.kind !== 'json') process.stderr.write(`zerodrop: ${w.kind} report ${w.file}\n`)
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'verify') return verifyMain(argv.slice(1))
  let parsed: ParsedDeploy
  try {
    parsed = parse(argv)
  } catch (err) {
    if (err instanceof FleetUsageError) {
      process.stderr.write(`zerodrop: ${err.message}\n`)
      return EXIT_CODES.usage
    }
    throw err
  }
  if (parsed.help) {
    process.stdout.write(`${usage(parsed.command)}\n`)
    return 0
  }
  const problems = outputProblems(parsed.outputs)
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`zerodrop: ${p}\n`)
    return EXIT_CODES.usage
  }
  const controller = new AbortController()
  const progress = createProgress(process.stderr, { quiet: parsed.quiet })
  let signals = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++
    if (signals > 1) {
      killAllInstancesSync()
      process.stderr.write(`zerodrop: ${signal} again: every instance killed\n`)
      process.exit(signal === 'SIGTERM' ? EXIT_CODES.terminated : EXIT_CODES.interrupted)
    }
    progress.line(`zerodrop: ${signal}: stopping the load, then draining every instance (SIGTERM, SIGKILL after the grace; ${signal} again to kill at once)`)
    controller.abort(signal)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const start = Date.now()
  try {
    const report = await deploy({
      ...parsed.options,
      signal: controller.signal,
      ...(parsed.quiet ? {} : { onProgress: progress.event }),
      ...(progress.status === undefined ? {} : { onStatus: progress.status }),
    })
    progress.end()
    emit(report, parsed.outputs, parsed.quiet)
    return report.exitCode
  } catch (err) {
    if (err instanceof FleetUsageError) {
      process.stderr.write(`zerodrop: ${messageFor(err, parsed)}\n`)
      return EXIT_CODES.usage
    }
    progress.end()
    const partial = partialReportOf(err)
    if (partial) emit(partial, parsed.outputs, parsed.quiet)
    if (err instanceof AbortedError) {
      const code = partial?.exitCode ?? (controller.signal.reason === 'SIGTERM' ? EXIT_CODES.terminated : EXIT_CODES.interrupted)
      process.stderr.write(`zerodrop: interrupted after ${((Date.now() - start) / 1000).toFixed(1)} s; the load stopped, every instance stopped after its drain; exit ${code}\n`)
      return code
    }
    return reportInternalError(err, partial?.runDir ?? parsed.options.runDir)
  } finally {
    progress.end()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
