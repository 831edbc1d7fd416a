/**
 * The docker runtime's per-instance supervisor (see ../runtime/docker.ts for what it does and
 * why): started as an instance's command, it runs one container and answers SIGTERM with
 * `docker stop`; a watchdog in its own process group removes the container if it is SIGKILLed.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { RUNTIME_DOCKER_ERROR_CODES } from '../core/errors.js'
import { WATCH_ENV } from '../runtime/watchdog.js'

const SELF = fileURLToPath(import.meta.url)

// This process carries the fleet watch's marker (it is the instance); the helpers it detaches on
// purpose — `docker stop`, `docker logs -f`, the container watchdog — must outlive it to remove the
// container, so they do not inherit the marker the watch looks for in /proc.
delete process.env[WATCH_ENV]

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

const argv = process.argv.slice(2)
if (argv[0] === '--watchdog') watchdog(argv[1] ?? '', Number(argv[2]))
else await supervise(argv)
