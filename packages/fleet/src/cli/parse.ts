import { CliUsageError, FleetUsageError } from '../core/errors.js'
import { deployOptionsFromManifests, mergeOptions } from '../manifests/from-manifests.js'
import { resolveDeployOptions, type DeployOptions } from '../options/deploy.js'
import type { OutputFiles } from '../report/outputs.js'
import { dockerCommandLine } from '../runtime/docker.js'
import { checkApplies, DEPLOY_COMMAND, flagValue, helpText, messageForFlags, parseFlags, type CommandSpec, type ParsedFlags } from './flags.js'

/** The commands the CLI knows, by name: each is a table of flags (cli/flags.ts). */
export const COMMANDS: Readonly<Record<string, CommandSpec>> = Object.freeze({ deploy: DEPLOY_COMMAND })

export interface ParsedDeploy {
  readonly command: 'deploy'
  readonly help: boolean
  /** The options the flags (and -f manifests) give `deploy()`, validated. */
  readonly options: DeployOptions
  readonly json: string | undefined
  /** Report files: --json, --html, --junit, --markdown. */
  readonly outputs: OutputFiles
  readonly quiet: boolean
  /** The flags as parsed, to name them in later errors (`messageFor`). */
  readonly flags: ParsedFlags
}

/** `zerodrop --help`: the usage of the default command. */
export function usage(command = 'deploy'): string {
  return helpText(COMMANDS[command] ?? DEPLOY_COMMAND)
}

/**
 * `zerodrop <command> [flags]` → the command's options, checked the way `deploy()` checks them,
 * with every error naming the flag as the user typed it. Throws FleetUsageError (exit 64).
 */
export function parse(argv: readonly string[]): ParsedDeploy {
  const first = argv[0]
  const spec = (first === undefined ? undefined : COMMANDS[first]) ?? DEPLOY_COMMAND
  const flags = parseFlags(spec, argv)
  const quiet = flags.values.get('quiet') === true
  const json = flags.values.get('json') as string | undefined
  const file = (name: string): string | undefined => flags.values.get(name) as string | undefined
  const outputs: OutputFiles = { json, html: file('html'), junit: file('junit'), markdown: file('markdown') }
  if (flags.values.get('help') === true) return { command: 'deploy', help: true, options: { from: '', to: '' }, json, outputs, quiet, flags }
  const [command, ...rest] = flags.positionals
  if (command === undefined) throw new CliUsageError("expected a command, instead got nothing: use 'zerodrop deploy --from ... --to ...' (see zerodrop --help)")
  if (command !== 'deploy') throw new CliUsageError(`expected the command 'deploy' or 'verify', instead got '${command}' (see zerodrop --help)`)
  if (rest.length > 0) throw new CliUsageError(`unexpected argument '${rest[0] ?? ''}': quote each command, e.g. --from "node server.js"`)

  const options = { ...flags.options } as Record<string, unknown>
  withRuntime(flags, options)
  if (options.from === undefined) throw new CliUsageError('--from: expected the command of the running revision, instead got nothing, e.g. --from "node server.js"', '--from')
  if (options.to === undefined) throw new CliUsageError('--to: expected the command of the revision to deploy, instead got nothing, e.g. --to "APP_VERSION=v2 node server.js"', '--to')

  const dir = flags.values.get('filename') as string | undefined
  const deployOptions = dir === undefined ? (options as unknown as DeployOptions) : withManifests(flags, dir, options as unknown as DeployOptions, quiet)
  checkApplies(flags, (name) => (name === 'strategy' ? (deployOptions.strategy ?? 'rolling') : flagValue(flags, name)))
  try {
    resolveDeployOptions(deployOptions)
  } catch (err) {
    if (err instanceof FleetUsageError) throw new CliUsageError(messageForFlags(err, flags), err.option)
    throw err
  }
  return { command: 'deploy', help: false, options: deployOptions, json, outputs, quiet, flags }
}

/** `--runtime docker --image A --to-image B`: the revisions become commands that run the docker supervisor. */
function withRuntime(flags: ParsedFlags, options: Record<string, unknown>): void {
  if (flagValue(flags, 'runtime') !== 'docker') return
  const image = flags.values.get('image') as string | undefined
  const toImage = flags.values.get('to-image') as string | undefined
  if (image === undefined || toImage === undefined) {
    throw new CliUsageError(`--runtime docker: expected --image (running revision) and --to-image (revision to deploy), instead got ${image === undefined ? 'no --image' : 'no --to-image'}`, '--runtime')
  }
  if (flags.values.has('from') || flags.values.has('to')) throw new CliUsageError('--runtime docker: give --image/--to-image instead of --from/--to, not both', '--runtime')
  const grace = options.terminationGracePeriodSeconds
  const o = { graceSeconds: typeof grace === 'number' && Number.isFinite(grace) && grace >= 0 ? grace : 30, env: (flags.values.get('container-env') as Record<string, string> | undefined) ?? {} }
  try {
    options.from = dockerCommandLine(image, o)
    options.to = dockerCommandLine(toImage, o)
  } catch (err) {
    throw new CliUsageError(`--runtime docker: ${(err as Error).message}`, '--image')
  }
}

/** -f DIR: the files' settings under the flags given on the command line. */
function withManifests(flags: ParsedFlags, dir: string, given: DeployOptions, quiet: boolean): DeployOptions {
  const typed = flags.spelling.get('filename') ?? '-f'
  const timeScale = flags.values.get('time-scale') as number | undefined
  let m: ReturnType<typeof deployOptionsFromManifests>
  try {
    m = deployOptionsFromManifests(dir, timeScale === undefined ? {} : { timeScale })
  } catch (err) {
    throw new CliUsageError(`${typed} ${dir}: ${(err as Error).message}`, typed)
  }
  const strategyFlag = flags.values.get('strategy') as string | undefined
  if (strategyFlag !== undefined && strategyFlag !== m.options.strategy) {
    throw new CliUsageError(`--strategy: the manifests in ${dir} describe a ${m.options.strategy ?? 'rolling'} rollout, instead got --strategy ${strategyFlag}; drop the flag or pick the folder of that strategy`, '--strategy')
  }
  if (!quiet) for (const note of m.notes) process.stderr.write(`zerodrop: ${dir}: ${note}\n`)
  const revision = (command: DeployOptions['from']): DeployOptions['from'] =>
    typeof command === 'string' || Array.isArray(command) ? { command, env: m.env } : command
  const merged = mergeOptions(m.options as DeployOptions, given)
  return { ...merged, from: revision(given.from), to: revision(given.to) }
}

/** The message of an error `deploy()` threw, naming the flag the user typed when there is one. */
export function messageFor(err: FleetUsageError, parsed: ParsedDeploy | undefined): string {
  return messageForFlags(err, parsed?.flags)
}
