import { CliUsageError, FleetUsageError } from '../core/errors.js'
import { resolveVerifyOptions, type VerifyOptions } from '../options/verify.js'
import { formatVerifyReport } from '../verify/report.js'
import { verifyViews } from '../verify/outputs.js'
import { writeOutputs, type OutputFiles } from '../report/outputs.js'
import { verify, VERIFY_EXIT_CODES } from '../verify/verify.js'
import { reportInternalError } from './internal-error.js'
import { helpText, messageForFlags, parseFlags, VERIFY_COMMAND, type ParsedFlags } from './flags.js'

/** `zerodrop verify --help`, generated from the verify flag table (cli/flags.ts). */
export const VERIFY_HELP = helpText(VERIFY_COMMAND)

export interface ParsedVerify {
  readonly help: boolean
  readonly options: VerifyOptions
  readonly json: string | undefined
  /** --json, --html, --junit, --markdown */
  readonly outputs: OutputFiles
  readonly quiet: boolean
  /** The flags as parsed, to name them in later errors. */
  readonly flags?: ParsedFlags
}

/** `zerodrop verify …` (argv after `verify`) → options. The rollout command is everything after `--`. */
export function parseVerifyArgs(argv: readonly string[]): ParsedVerify {
  const dash = argv.indexOf('--')
  const command = dash < 0 ? [] : argv.slice(dash + 1)
  const flags = parseFlags(VERIFY_COMMAND, dash < 0 ? argv : argv.slice(0, dash))
  const quiet = flags.values.get('quiet') === true
  const json = flags.values.get('json') as string | undefined
  const file = (k: string): string | undefined => flags.values.get(k) as string | undefined
  const outputs: OutputFiles = { json, html: file('html'), junit: file('junit'), markdown: file('markdown') }
  if (flags.values.get('help') === true) return { help: true, options: { url: '', command: [] }, json, outputs, quiet, flags }
  if (flags.positionals.length > 0) {
    throw new CliUsageError(`unexpected argument '${flags.positionals[0] ?? ''}' before '--': the rollout command goes after it, e.g. zerodrop verify --url URL -- kubectl rollout restart deploy/api`)
  }
  if (!flags.values.has('url')) throw new CliUsageError('--url: expected the URL to verify, e.g. --url http://127.0.0.1:8080/, instead got nothing (there is no default target)', '--url')
  if (command.length === 0) throw new CliUsageError("expected the rollout command after '--', instead got nothing, e.g. zerodrop verify --url URL -- kubectl rollout restart deploy/api")
  const options = { ...flags.options, command } as unknown as VerifyOptions
  try {
    resolveVerifyOptions(options)
  } catch (err) {
    if (err instanceof FleetUsageError) throw new CliUsageError(messageForFlags(err, flags), err.option)
    throw err
  }
  return { help: false, options, json, outputs, quiet, flags }
}

export async function verifyMain(argv: readonly string[]): Promise<number> {
  let parsed: ParsedVerify
  try {
    parsed = parseVerifyArgs(argv)
  } catch (err) {
    if (err instanceof FleetUsageError) {
      process.stderr.write(`zerodrop verify: ${err.message}\n`)
      return VERIFY_EXIT_CODES.usage
    }
    throw err
  }
  if (parsed.help) {
    process.stdout.write(`${VERIFY_HELP}\n`)
    return 0
  }
  const controller = new AbortController()
  let signals = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++
    if (signals > 1) process.exit(signal === 'SIGTERM' ? VERIFY_EXIT_CODES.terminated : VERIFY_EXIT_CODES.interrupted)
    process.stderr.write(`zerodrop verify: ${signal}: stopping the command and the load, then counting (again to force)\n`)
    controller.abort(signal)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    const result = await verify({
      ...parsed.options,
      signal: controller.signal,
      ...(parsed.quiet ? {} : { onProgress: (e: { t: number; message: string }) => process.stderr.write(`[${(e.t / 1000).toFixed(1).padStart(6)} s] ${e.message}\n`) }),
    })
    process.stdout.write(`${formatVerifyReport(result)}\n`)
    const out = writeOutputs(parsed.outputs, verifyViews(result))
    for (const e of out.errors) process.stderr.write(`zerodrop verify: ${e}\n`)
    return result.exitCode
  } catch (err) {
    if (err instanceof FleetUsageError) {
      process.stderr.write(`zerodrop verify: ${messageForFlags(err, parsed.flags)}\n`)
      return VERIFY_EXIT_CODES.usage
    }
    return reportInternalError(err, undefined, 'zerodrop verify')
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
