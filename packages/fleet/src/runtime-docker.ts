/**
 * The fleet's `docker` instance runtime (DESIGN.md "Fleet model"; issue 6): each instance is a
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
import { spawn } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { RUNTIME_DOCKER_ERROR_CODES, RuntimeDockerError } from './errors.js'

export interface DockerRevisionOptions {
  /** Environment for the container besides PORT and HOST (which the fleet sets per instance). */
  readonly env?: Readonly<Record<string, string>>
  /** `docker stop -t`: seconds between SIGTERM and SIGKILL. Keep it <= the fleet's terminationGracePeriodSeconds. @default 30 */
  readonly graceSeconds?: number
  /** Revision label in the router's counts and the report. */
  readonly name?: string
}

const SELF = fileURLToPath(import.meta.url)

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
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
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

const log = (o: object, msg: string): void => {
  process.stderr.write(JSON.stringify({ level: 'info', time: Date.now(), component: 'runtime-docker', pid: process.pid, ...o, msg }) + '\n')
}

/**
 * Runs the docker CLI in its own process group: the fleet signals the supervisor's group on
 * termination, and that SIGTERM must not kill a `docker wait` or `docker run` under way.
 */
function docker(args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('docker', args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', (err) => {
      clearTimeout(timer)
      resolve({ code: 127, stdout: '', stderr: err.message })
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? 1, stdout: stdout.trim(), stderr: stderr.trim() })
    })
  })
}

/** Removes the container once the supervisor is gone, however it went. Runs in its own process group. */
function watchdog(name: string, supervisorPid: number): void {
  const timer = setInterval(() => {
    try {
      process.kill(supervisorPid, 0)
    } catch {
      clearInterval(timer)
      void docker(['rm', '-f', '-v', name]).then(() => process.exit(0))
    }
  }, 250)
}

async function supervise(argv: string[]): Promise<void> {
  let image: string | undefined
  let grace = 30
  const env: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = argv[i + 1]
    if (v !== undefined && a === '--image') image = v
    else if (v !== undefined && a === '--grace') grace = Number(v)
    else if (v !== undefined && a === '--env') env.push(v)
    else {
      process.stderr.write(`runtime-docker: unexpected argument '${a ?? ''}'; usage: runtime-docker.js --image IMAGE [--grace S] [--env K=V]...\n`)
      process.exit(64)
    }
    i++
  }
  if (image === undefined || !Number.isFinite(grace) || grace < 0) {
    process.stderr.write(`runtime-docker: expected --image IMAGE and --grace S >= 0, instead got image '${String(image)}', grace '${String(grace)}'\n`)
    process.exit(64)
  }
  const port = process.env.PORT ?? '3000'
  const host = process.env.HOST ?? '127.0.0.1'
  const name = `zerodrop-${port}-${process.pid}-${Date.now().toString(36)}`

  spawn(process.execPath, [SELF, '--watchdog', name, String(process.pid)], { detached: true, stdio: 'ignore' }).unref()

  let stopRequested = false
  let stopping: Promise<unknown> | undefined
  const stop = (signal: string): void => {
    if (stopping) return
    stopRequested = true
    log({ signal, container: name, grace }, `signal received: docker stop -t ${grace}`)
    stopping = docker(['stop', '-t', String(grace), name], (grace + 30) * 1000)
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))

  // A restarted instance keeps its port: a container of its killed predecessor may still hold
  // it (the watchdog removes it asynchronously). Ports are unique per live instance, so any
  // runtime container labelled with this port is such a leftover.
  const stale = await docker(['ps', '-a', '-q', '--filter', 'label=org.zerodrop.runtime=docker', '--filter', `label=org.zerodrop.port=${port}`])
  const staleIds = stale.stdout.split('\n').filter(Boolean)
  if (staleIds.length > 0) {
    log({ port, containers: staleIds }, 'removing containers a killed predecessor left on this port')
    await docker(['rm', '-f', '-v', ...staleIds])
  }

  const started = Date.now()
  const run = await docker([
    'run', '-d', '--name', name, '--network', 'host',
    '--label', 'org.zerodrop.runtime=docker', '--label', `org.zerodrop.port=${port}`,
    // lets a caller (a test) find exactly the containers its own deploy started
    ...(process.env.ZERODROP_DOCKER_OWNER ? ['--label', `org.zerodrop.owner=${process.env.ZERODROP_DOCKER_OWNER}`] : []),
    '--stop-timeout', String(grace),
    '-e', `PORT=${port}`, '-e', `HOST=${host}`,
    ...env.flatMap((e) => ['-e', e]),
    image,
  ])
  if (run.code !== 0) {
    process.stderr.write(`runtime-docker: ${RUNTIME_DOCKER_ERROR_CODES.run}: expected 'docker run' of ${image} to start a container, instead it failed (exit ${run.code}): ${run.stderr}\n`)
    await docker(['rm', '-f', name])
    process.exit(125)
  }
  log({ container: name, id: run.stdout.slice(0, 12), image, port, ms: Date.now() - started }, 'container started')
  if (stopRequested) stop('SIGTERM (before the container started)')

  // detached: the fleet's group signals are for the supervisor, not for these helpers
  const logs = spawn('docker', ['logs', '-f', name], { detached: true, stdio: ['ignore', 'inherit', 'inherit'] })
  const waited = await docker(['wait', name], 24 * 3600 * 1000)
  const exitCode = waited.code === 0 && /^\d+$/.test(waited.stdout) ? Number(waited.stdout) : 1
  log({ container: name, exitCode, stopRequested }, 'container exited')
  await stopping
  await new Promise((r) => setTimeout(r, 100)) // let `docker logs -f` flush the last lines
  logs.kill()
  await docker(['rm', '-f', '-v', name])
  process.exit(exitCode)
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href
if (isMain) {
  const argv = process.argv.slice(2)
  if (argv[0] === '--watchdog') watchdog(argv[1] ?? '', Number(argv[2]))
  else await supervise(argv)
}
