// `npm run demo:expand-contract [-- --json FILE] [-- --control lossy]`: both versions live on one
// database (docs/expand-contract.md). Under rolling load that reads and writes (the fleet's load:
// `3* GET /items?limit=5` and the checked write `POST /items {"name":"{{seq}}"} => GET /items/{{.id}} .name`,
// all through the fleet's router, which counts them like every other request):
//   1. breaking: v1 → a release whose startup migration renames the column v1 still uses —
//      the negative control: the old instances answer 5xx during the rollout, dropped > 0;
//   2. the same change as three deploys on one database — expand, migrate, contract (its DROP
//      as a post-deploy migration once the rollout is done, deploy()'s afterRollout) — each
//      0 dropped, every write found.
// The data check is the deploy's own (the fleet README, "The data check"): once the load has
// stopped, every checked write answered 2xx is read back through the router by the id in its
// answer, from the release just deployed: nothing lost, nothing changed. Each step also reads back
// the writes the earlier steps verified (deploy's recheckWrites), so a step that loses an
// earlier step's data (a backfill that skipped rows, a DROP too early) is caught too.
// DATABASE_URL=postgres://… runs it on PostgreSQL (a fresh database per scenario, made and dropped
// through that URL); unset, on the embedded SQLite (a fresh file per scenario).
// `--control lossy` runs only v1 → lossy (a release that drops the field on insert) and exits 0
// when the deploy's data check catches it (lostWrites > 0, zerodrop's exit 5).
// Exit 0 only when breaking dropped > 0, every step dropped 0 and no write was lost.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { deploy, formatReport } from '@zerodrop/fleet'

const server = fileURLToPath(new URL('../dist/server.js', import.meta.url))
const migrateJs = fileURLToPath(new URL('../dist/migrate.js', import.meta.url))
if (!fs.existsSync(server)) {
  console.error(`expand-contract: expected the built demo service at ${server}, instead found nothing; run 'npm run demo:expand-contract' (it builds first)`)
  process.exit(64)
}

let args
try {
  args = parseArgs({ options: { json: { type: 'string' }, control: { type: 'string' }, quiet: { type: 'boolean' } }, strict: true }).values
} catch (err) {
  console.error(`expand-contract: ${err.message}; usage: expand-contract.mjs [--json FILE] [--control lossy] [--quiet]`)
  process.exit(64)
}
if (args.control !== undefined && args.control !== 'lossy') {
  console.error(`expand-contract: --control must be 'lossy', instead got '${args.control}'`)
  process.exit(64)
}

const controller = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => controller.abort(signal))
const log = (msg) => { if (!args.quiet) process.stderr.write(`${msg}\n`) }

const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-expand-contract-'))
const baseUrl = process.env.DATABASE_URL
const postgres = baseUrl !== undefined && baseUrl !== ''
const databaseKind = postgres ? 'postgresql' : 'sqlite (better-sqlite3, WAL)'

// ---- one database per scenario
let pg
async function freshDatabase(name) {
  if (!postgres) return { url: `file:${path.join(runDir, `${name}.sqlite`)}`, drop: async () => {} }
  pg ??= (await import('pg')).default
  const db = `zd_ec_${process.pid}_${name.replace(/[^a-z0-9]/g, '_')}`
  const admin = new pg.Client({ connectionString: baseUrl })
  await admin.connect()
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${db}`)
    await admin.query(`CREATE DATABASE ${db}`)
  } finally {
    await admin.end()
  }
  const u = new URL(baseUrl)
  u.pathname = `/${db}`
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl })
      await c.connect()
      try {
        await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)
      } finally {
        await c.end()
      }
    },
  }
}

// ---- the demo's processes
const instanceEnv = 'DRAIN_DELAY_MS=1000 SHUTDOWN_TIMEOUT_MS=10000 DB_BUSY_TIMEOUT_MS=500'
const command = (version, url) => `${instanceEnv} DATABASE_URL='${url}' ITEMS_VERSION=${version} APP_VERSION=${version} exec node ${server}`

function runNode(file, env, extraArgs = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...extraArgs], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { out += d })
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${path.basename(file)} ${extraArgs.join(' ')} exited ${code}: ${out.trim()}`))))
  })
}

const WRITE = 'POST /items {"name":"{{seq}}"} => GET /items/{{.id}} .name'
const deployOptions = {
  replicas: 2,
  router: 'l4',
  endpointDelayMs: 500,
  rolling: { maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: 60 },
  probes: { common: { periodMs: 250, timeoutMs: 1000 } },
  // reads and checked writes; the exact clients repeat the first GET
  load: { connections: 8, rate: 80, leadMs: 1000, tailMs: 2500, requests: ['3* GET /items?limit=5', WRITE], exactClients: 2 },
  terminationGracePeriodSeconds: 20,
  signal: controller.signal,
}

const failedOf = (c) => (c === undefined ? 0 : c.lostWrites + c.changedWrites + c.unverifiedWrites)

/**
 * One rolling deploy from → to on `db`, its data check reading back this step's writes and the
 * ones earlier steps verified (`earlier`, a report's dataCheck.kept).
 */
async function step({ name, from, to, db, postDeploy = false, earlier = [] }) {
  let postDeployOut
  const onProgress = (e) => log(`  [${(e.t / 1000).toFixed(1).padStart(5)} s] ${e.message}`)
  // contract's DROP COLUMN, once no instance of the previous release runs, under the tail's load
  const afterRollout = async ({ outcome }) => {
    if (!postDeploy || outcome !== 'promoted') return
    postDeployOut = (await runNode(migrateJs, { DATABASE_URL: db.url, ITEMS_VERSION: to }, ['--post-deploy'])).trim()
    log(`  post-deploy migration: ${postDeployOut}`)
  }
  log(`\n=== ${name}: ${from} → ${to} (${databaseKind})\n`)
  const report = await deploy({ ...deployOptions, from: command(from, db.url), to: command(to, db.url), recheckWrites: earlier, afterRollout, onProgress })
  // a step of the safe sequence that dropped: say what, where and when (the report's failure lines)
  if (report.dropped > 0 && name !== 'breaking') console.error(`\n=== ${name} dropped ${report.dropped}: the deploy's report\n${formatReport(report)}`)
  const d = report.dataCheck
  if (d === undefined) throw new Error(`${name}: the deploy's report has no data check (expected one for ${WRITE})`)
  return {
    name,
    from,
    to,
    report,
    row: {
      name,
      dropped: report.dropped,
      non2xx: report.accounting.non2xx,
      requests: report.load.requests,
      writes: d.writes,
      writesVerified: d.writesVerified,
      // this step's writes not found (or changed, or unreadable), and earlier ones verified before and not any more
      lostWrites: failedOf(d) + failedOf(d.earlier),
      earlierVerified: d.earlier?.writesVerified ?? 0,
      exitCode: report.exitCode,
      postDeploy: postDeployOut === undefined ? undefined : JSON.parse(postDeployOut).applied,
    },
  }
}

const results = []
try {
  if (args.control === 'lossy') {
    const db = await freshDatabase('lossy')
    try {
      results.push(await step({ name: 'lossy', from: 'v1', to: 'lossy', db }))
    } finally {
      await db.drop()
    }
  } else {
    const db1 = await freshDatabase('breaking')
    try {
      results.push(await step({ name: 'breaking', from: 'v1', to: 'breaking', db: db1 }))
    } finally {
      await db1.drop()
    }
    const db2 = await freshDatabase('expand_contract')
    try {
      let earlier = []
      for (const [name, from, to, postDeploy] of [['expand', 'v1', 'expand', false], ['migrate', 'expand', 'migrate', false], ['contract', 'migrate', 'contract', true]]) {
        const r = await step({ name, from, to, db: db2, postDeploy, earlier })
        results.push(r)
        // what read back, this step's and the earlier ones: an earlier write lost now counts once, in the step that lost it
        earlier = r.report.dataCheck.kept
      }
    } finally {
      await db2.drop()
    }
  }
} catch (err) {
  console.error(`expand-contract: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(controller.signal.aborted ? 130 : 1)
}

// ---- side by side
const rows = [
  ['deploy', (r) => `${r.from} → ${r.to}`],
  ['verdict', (r) => r.report.verdict],
  ['requests through the router', (r) => String(r.row.requests)],
  ['checked writes answered 2xx', (r) => String(r.row.writes)],
  ['writes verified after the deploy', (r) => String(r.row.writesVerified)],
  ['earlier steps\' writes verified again', (r) => String(r.row.earlierVerified)],
  ['lost writes', (r) => String(r.row.lostWrites)],
  ['dropped', (r) => String(r.row.dropped)],
  ['  non-2xx', (r) => String(r.row.non2xx)],
  ['  5xx from the old revision', (r) => String(r.report.accounting.byRevision[r.report.parameters.from.name]?.status['5xx'] ?? 0)],
  ['post-deploy migration', (r) => (r.row.postDeploy === undefined ? '-' : r.row.postDeploy.join(', ') || 'none')],
  ['zerodrop exit code', (r) => String(r.row.exitCode)],
]
const width = Math.max(...rows.map(([label]) => label.length)) + 2
const col = 22
console.log(`\n=== side by side: ${databaseKind}, ${deployOptions.replicas} replicas, rolling, ${deployOptions.load.rate} req/s reads + writes\n`)
console.log(' '.repeat(width) + results.map((r) => r.name.padEnd(col)).join(''))
for (const [label, cell] of rows) console.log(label.padEnd(width) + results.map((r) => cell(r).padEnd(col)).join(''))

let ok
let outcome
if (args.control === 'lossy') {
  const [r] = results
  outcome = { control: 'lossy', dropped: r.row.dropped, writes: r.row.writes, writesVerified: r.row.writesVerified, lostWrites: r.row.lostWrites, exitCode: r.row.exitCode, database: postgres ? 'postgresql' : 'sqlite' }
  ok = r.row.lostWrites > 0 && r.row.exitCode === 5
  console.log(ok
    ? `\nThe deploy's data check caught the lossy release: ${r.row.lostWrites} of ${r.row.writes} writes answered 2xx do not read back (the rollout itself dropped ${r.row.dropped}; zerodrop's exit ${r.row.exitCode}).`
    : `\nThe data check did not catch the lossy release (unexpected: ${r.row.lostWrites} lost, zerodrop's exit ${r.row.exitCode}).`)
} else {
  const [breaking, ...steps] = results
  outcome = {
    breaking: { dropped: breaking.row.dropped, lostWrites: breaking.row.lostWrites, exitCode: breaking.row.exitCode },
    steps: steps.map((s) => ({ name: s.row.name, dropped: s.row.dropped, non2xx: s.row.non2xx, writesVerified: s.row.writesVerified, lostWrites: s.row.lostWrites })),
    lostWrites: steps.reduce((n, s) => n + s.row.lostWrites, 0),
  }
  ok = outcome.breaking.dropped > 0 && steps.every((s) => s.row.dropped === 0) && outcome.lostWrites === 0
  console.log(`\nBreaking change in one deploy: ${breaking.row.dropped} dropped (${breaking.row.dropped > 0 ? 'the old instances failed once the column was renamed under them' : 'none: unexpected, the control should drop'}).`)
  console.log(`Expand → migrate → contract: ${steps.map((s) => `${s.row.name} ${s.row.dropped} dropped`).join(', ')}; ${outcome.lostWrites} of ${steps.reduce((n, s) => n + s.row.writes, 0)} writes lost.`)
}
for (const r of results) {
  for (const p of r.report.dataCheck.problems.slice(0, 5)) {
    console.log(`  ${p.kind} in ${r.name}${p.earlier ? ' (an earlier step\'s write)' : ''}: id ${p.id ?? '?'} written as '${p.value}', GET ${p.path ?? '-'} → ${p.status ?? p.error} ${JSON.stringify(p.got ?? null)}`)
  }
}
if (args.json !== undefined) fs.writeFileSync(args.json, JSON.stringify(outcome, null, 2) + '\n')
log(`\ninstance logs: ${results.map((r) => r.report.runDir).join(' ')}`)
fs.rmSync(runDir, { recursive: true, force: true })
process.exitCode = ok ? 0 : 1
