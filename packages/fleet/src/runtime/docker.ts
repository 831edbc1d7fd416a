/**
 * The fleet's `docker` instance runtime (docs/architecture.md, "Fleet model"): each instance is a
 * container on the host network, listening on the instance's PORT on 127.0.0.1, stopped with
 * `docker stop -t <grace>` (SIGTERM to the container's PID 1, SIGKILL after the grace period).
 *
 * It plugs into the process runtime without changing it: an instance's command is this module
 * run as a small supervisor (`node runtime-docker.js --image zerodrop-demo:v1 --grace 30`), which
 * - starts the container (`docker run -d --network host -e PORT -e HOST ...`) and streams its
 *   logs to the instance log,
 * - on SIGTERM (the fleet signals the supervisor's process group) runs `docker stop -t <grace>`,
 * - exits with the container's exit code once the container has exited, after removing it.
 * If the supervisor itself is SIGKILLed (the fleet's grace ran out, or an abort), a watchdog in
 * its own process group removes the container, so no container outlives its instance.
 *
 * `zerodrop deploy --runtime docker --image A --to-image B` (cli/) sets `from`/`to` to
 * `dockerCommandLine()`: commands that run this supervisor.
 */
import { fileURLToPath } from 'node:url'
import { RUNTIME_DOCKER_ERROR_CODES, RuntimeDockerError } from '../core/errors.js'

export interface DockerRevisionOptions {
  /** Environment for the container besides PORT and HOST (which the fleet sets per instance). */
  readonly env?: Readonly<Record<string, string>>
  /** `docker stop -t`: seconds between SIGTERM and SIGKILL. Keep it <= the fleet's terminationGracePeriodSeconds. @default 30 */
  readonly graceSeconds?: number
  /** Revision label in the router's counts and the report. */
  readonly name?: string
}

// the supervisor is an entry point of its own (bin/), run as each instance's command
const SELF = fileURLToPath(new URL('../bin/docker-supervisor.js', import.meta.url))

/** The supervisor's argv for an image: use it as a revision's `command`. */
export function dockerArgv(image: string, o: DockerRevisionOptions = {}): string[] {
  if (typeof image !== 'string' || !/^[\w][\w.\-/:@]*$/.test(image)) {
    throw new RuntimeDockerError(RUNTIME_DOCKER_ERROR_CODES.usage, `image must be a docker image reference like 'zerodrop-demo:v1', instead got '${String(image)}'`)
  }
  const grace = o.graceSeconds ?? 30
  if (!Number.isFinite(grace) || grace < 0) {
    throw new RuntimeDockerError(RUNTIME_DOCKER_ERROR_CODES.usage, `graceSeconds must be a number of seconds >= 0, instead got ${String(grace)}`)
  }
  const argv = [process.execPath, SELF, '--image', image, '--grace', String(Math.ceil(grace))]
  for (const [k, v] of Object.entries(o.env ?? {})) argv.push('--env', `${k}=${v}`)
  return argv
}

/** A fleet revision (`deploy({ from, to })`) whose instances are containers of `image`. */
export function dockerRevision(image: string, o: DockerRevisionOptions = {}): { command: string[]; name?: string } {
  return { command: dockerArgv(image, o), ...(o.name === undefined ? {} : { name: o.name }) }
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, '\'\\\'\'')}'`
}

/** A revision's command line (for `sh -c`) that runs the supervisor for `image`: what `--runtime docker --image` becomes. */
export function dockerCommandLine(image: string, o: DockerRevisionOptions = {}): string {
  return `exec ${dockerArgv(image, o).map(shellQuote).join(' ')}`
}

// ---- the supervisor (and its watchdog), when this file is run
