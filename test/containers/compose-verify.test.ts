import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterEach, expect, it } from 'vitest'
import type { VerifyJson } from '#fleet/verify/report.js'
import { describeWithDocker, docker } from './docker.js'
import { freePort, ROOT, sleep } from '../helpers/process.js'
import { runCli, ZERODROP_CLI, cleanUp } from '../verify/harness.js'

// `npm run compose:demo` re-expressed as `zerodrop verify -- <the switch>`: docker-compose.yml's
// blue (v1), green (v2) and router come up; the command is the switch itself (POST /switch to
// green, then `compose stop blue` 1 s later); verify is the load and the judge. Same verdict as
// the scripted demo: zero dropped; a naive blue (exits at once on SIGTERM) drops.
const exec = promisify(execFile)
const projects: Array<{ project: string; env: NodeJS.ProcessEnv; files?: string[] }> = []

async function composeBin(): Promise<string[]> {
  try {
    await exec('docker', ['compose', 'version'], { timeout: 15_000 })
    return ['docker', 'compose']
  } catch {
    return ['docker-compose']
  }
}

afterEach(async () => {
  await cleanUp()
  const [bin, ...pre] = await composeBin()
  for (const { project, env, files } of projects.splice(0)) {
    await exec(bin!, [...pre, '-p', project, ...(files ?? ['-f', `${ROOT}docker-compose.yml`]), '--project-directory', ROOT, 'down', '--volumes', '--remove-orphans', '--timeout', '5'], { env, timeout: 120_000 }).catch(() => undefined)
    const ids = (await docker(['ps', '-a', '-q', '--filter', `label=com.docker.compose.project=${project}`]).catch(() => '')).split('\n').filter(Boolean)
    if (ids.length > 0) await docker(['rm', '-f', '-v', ...ids]).catch(() => undefined)
  }
})

async function switchUnderVerify(naiveBlue: boolean): Promise<{ code: number | null; json: VerifyJson; stdout: string; ms: number }> {
  const started = performance.now()
  const project = `zerodrop-verify-${process.pid}-${projects.length}`
  const ports = { ROUTER_PORT: await freePort(), ADMIN_PORT: await freePort(), BLUE_PORT: await freePort(), GREEN_PORT: await freePort() }
  const env = { ...process.env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])), DRAIN_DELAY_MS: '2000', SHUTDOWN_TIMEOUT_MS: '10000', BLUE_NAIVE: naiveBlue ? '1' : '' }
  projects.push({ project, env })
  const [bin, ...pre] = await composeBin()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-verify-compose-'))
  const files = ['-f', `${ROOT}docker-compose.yml`]
  // ZERODROP_DEMO_IMAGE=name: the demo images as name:v1 and name:v2 instead of zerodrop-demo:v1/v2
  // (on a shared machine, images built from this tree without retagging everyone's)
  const image = process.env.ZERODROP_DEMO_IMAGE
  if (image !== undefined && image !== '') {
    const override = path.join(dir, 'images.yml')
    fs.writeFileSync(override, `services:\n  blue:\n    image: ${image}:v1\n  green:\n    image: ${image}:v2\n  router:\n    image: ${image}:v1\n`)
    files.push('-f', override)
  }
  const compose = [bin!, ...pre, '-p', project, ...files, '--project-directory', ROOT]
  projects[projects.length - 1]!.files = files
  await exec(compose[0]!, [...compose.slice(1), 'up', '-d', 'blue', 'green', 'router'], { env, timeout: 120_000, cwd: ROOT })
  const deadline = Date.now() + 60_000
  for (;;) {
    const up = await Promise.all([`${ports.ROUTER_PORT}/`, `${ports.GREEN_PORT}/readyz`].map((p) =>
      fetch(`http://127.0.0.1:${p}`, { signal: AbortSignal.timeout(1000) }).then(async (r) => {
        await r.text()
        return r.status === 200
      }, () => false)))
    if (up.every(Boolean)) break
    if (Date.now() > deadline) throw new Error(`compose project ${project}: router or green not answering 200 within 60 s`)
    await sleep(200)
  }
  const q = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`
  const post = `fetch('http://127.0.0.1:${ports.ADMIN_PORT}/switch?to=green',{method:'POST'}).then(async r=>{console.log('switch',r.status,await r.text());process.exit(r.ok?0:1)})`
  const theSwitch = `${q(process.execPath)} -e ${q(post)} && sleep 1 && ${compose.map(q).join(' ')} stop -t 30 blue`
  const jsonFile = path.join(dir, 'verify.json')
  const r = await runCli([ZERODROP_CLI, 'verify', '--url', `http://127.0.0.1:${ports.ROUTER_PORT}/`, '--version-header', 'x-app-version',
    '--lead-ms', '2000', '--tail-ms', '1000', '--duration', '120', '--json', jsonFile,
    // long-lived keep-alive connections, as compose:demo's exact clients keep them: after the switch
    // only blue's drain (Connection: close) moves them to green; the naive blue loses what is on them
    '--reconnect-every', '0', '--rate', '400', '--connections', '20', '--', 'sh', '-c', theSwitch])
  const json = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as VerifyJson
  const ms = Math.round(performance.now() - started)
  console.log(`verify compose ${naiveBlue ? 'naive' : 'fastify'}: exit ${String(r.code)}; ${json.requests} requests, ${json.ok} ok, non-2xx ${json.non2xx.lb} lb + ${json.non2xx.app} app, ` +
    `${json.lost} lost, ${json.reset} reset, ${json.refused} refused, ${json.timeout} timeout, ${json.refusedConnections} refused connections; ${ms} ms`)
  return { code: r.code, json, stdout: r.stdout + r.stderr, ms }
}

describeWithDocker('docker-compose.yml: the blue-green switch under zerodrop verify', () => {
  it('Fastify + zerodrop: zero dropped, exit 0, v1 then v2', async () => {
    const r = await switchUnderVerify(false)
    expect(r.json.dropped, r.stdout).toBe(0)
    expect(r.code, r.stdout).toBe(0)
    const versions = new Set(r.json.perSecond.flatMap((s) => Object.keys(s.byVersion)))
    expect([...versions].sort()).toEqual(['v1', 'v2'])
    expect(Object.keys([...r.json.perSecond].reverse().find((s) => s.ok > 0)?.byVersion ?? {})).toEqual(['v2'])
  }, 240_000)

  it('naive blue (exits at once on SIGTERM), the negative control: dropped > 0, exit 1', async () => {
    const r = await switchUnderVerify(true)
    expect(r.json.dropped, r.stdout).toBeGreaterThan(0)
    expect(r.code).toBe(1)
  }, 240_000)
})
