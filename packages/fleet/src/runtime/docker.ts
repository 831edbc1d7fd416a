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
 * `zerodrop deploy --runtime docker --image A --to-image B` is rewritten by
 * `applyRuntimeFlags()` into `--from`/`--to` commands that run this supervisor.
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

/**
 * CLI hook: `--runtime docker --image A --to-image B [--container-env K=V]...` becomes
 * `--from CMD --to CMD` running the supervisor (with `--termination-grace-period-seconds` as
 * `docker stop -t`); `--runtime process` is the default and is dropped. Any other argv is
 * returned unchanged.
 */
export function applyRuntimeFlags(argv: readonly string[]): string[] {
  const out: string[] = []
  let runtime: string | undefined
  let image: string | undefined
  let toImage: string | undefined
  let grace: string | undefined
  const containerEnv: Record<string, string> = {}
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1]
    if (v === undefined || v.startsWith('--')) throw new RuntimeDockerError(RUNTIME_DOCKER_ERROR_CODES.usage, `${flag}: expected a value, instead got nothing`)
    return v
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined]
    const take = (): string => {
      if (inline !== undefined) return inline
      const v = value(i, flag)
      i++
      return v
    }
    if (flag === '--runtime') runtime = take()
    else if (flag === '--image') image = take()
    else if (flag === '--to-image') toImage = take()
    else if (flag === '--container-env') {
      const kv = take()
      const eq = kv.indexOf('=')
      if (eq < 1) throw new RuntimeDockerError(RUNTIME_DOCKER_ERROR_CODES.usage, `--container-env: expected NAME=value, instead got '${kv}'`)
      containerEnv[kv.slice(0, eq)] = kv.slice(eq + 1)
    } else {
      if (flag === '--termination-grace-period-seconds') grace = inline ?? argv[i + 1]
      out.push(a)
    }
  }
  const dockerOnly = image !== undefined || toImage !== undefined || Object.keys(containerEnv).length > 0
  if (runtime === undefined && !dockerOnly) return out
  if (runtime === undefined || runtime === 'process') {
    if (dockerOnly) {
      throw new RuntimeDockerError(RUNTIME_DOCKER_ERROR_CODES.usage, `--image, --to-image and --container-env need --runtime docker, instead got runtime '${runtime ?? 'process'}'`)
    }
    return out
  }
  if (runtime !== 'docker') {
    throw new RuntimeDockerError(RUNTIME_DOCKER_ERROR_CODES.usage, `--runtime: expected 'process' or 'docker', instead got '${runtime}'`)
  }
  if (image === undefined || toImage === undefined) {
    throw new RuntimeDockerError(
      RUNTIME_DOCKER_ERROR_CODES.usage,
      `--runtime docker: expected --image (running revision) and --to-image (revision to deploy), instead got ${image === undefined ? 'no --image' : 'no --to-image'}`,
    )
  }
  if (out.some((a) => a === '--from' || a === '--to' || a.startsWith('--from=') || a.startsWith('--to='))) {
    throw new RuntimeDockerError(RUNTIME_DOCKER_ERROR_CODES.usage, '--runtime docker: give --image/--to-image instead of --from/--to, not both')
  }
  const graceSeconds = grace === undefined ? 30 : Number(grace)
  const o = { graceSeconds: Number.isFinite(graceSeconds) ? graceSeconds : 30, env: containerEnv }
  const cmd = (img: string): string => `exec ${dockerArgv(img, o).map(shellQuote).join(' ')}`
  return [...out, '--from', cmd(image), '--to', cmd(toImage)]
}

// ---- the supervisor (and its watchdog), when this file is run
