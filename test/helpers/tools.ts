import { execFileSync } from 'node:child_process'
import { describe, it } from 'vitest'

/**
 * External programs some tests need, and what installs each. On a newcomer's machine a missing
 * program skips its tests with one loud line; where `.ci/run` exports ZERODROP_REQUIRE_<TOOL>=1
 * the same absence is a failure, so CI can never go green by skipping (CI=true alone is not
 * enough: every CI system sets it, including a user's who has none of these installed).
 */
export const TOOLS = {
  prometheus: { command: 'prometheus', args: ['--version'], install: 'apt-get install prometheus (or bash .ci/prometheus.sh)' },
  promtool: { command: 'promtool', args: ['--version'], install: 'apt-get install prometheus (or bash .ci/prometheus.sh)' },
  haproxy: { command: 'haproxy', args: ['-v'], install: 'apt-get install haproxy (or bash .ci/balancers.sh)' },
  nginx: { command: 'nginx', args: ['-v'], install: 'apt-get install nginx-light (or bash .ci/balancers.sh)' },
  chromium: { command: 'chromium', args: ['--version'], install: 'apt-get install chromium' },
  postgres: { command: 'pg_ctlcluster', args: ['--help'], install: 'apt-get install postgresql (or bash .ci/postgres.sh)' },
  valgrind: { command: 'valgrind', args: ['--version'], install: 'apt-get install valgrind' },
  script: { command: 'script', args: ['--version'], install: 'apt-get install bsdutils (util-linux script, for pseudo-terminal tests)' },
} as const satisfies Record<string, { command: string; args: readonly string[]; install: string }>

export type ToolName = keyof typeof TOOLS | 'docker' | 'sqlite' | 'postgres' | 'unshare'

const seen = new Map<string, string | undefined>()

/** Why `tool` cannot be used here, or undefined when it can. */
export function toolMissing(tool: keyof typeof TOOLS): string | undefined {
  if (seen.has(tool)) return seen.get(tool)
  const t = TOOLS[tool]
  let reason: string | undefined
  try {
    execFileSync(t.command, [...t.args], { stdio: 'ignore', timeout: 15_000 })
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { status?: number }
    // `--help` of some programs exits non-zero; only "not found" means absent
    if (e.code === 'ENOENT') reason = `'${t.command}' is not installed; install it with: ${t.install}`
  }
  seen.set(tool, reason)
  return reason
}

export function requireSwitch(tool: ToolName): string {
  return `ZERODROP_REQUIRE_${tool.toUpperCase()}`
}

/**
 * `describe` that runs only where `missing` is undefined. Otherwise it skips with one loud line
 * naming what to install, or fails when ZERODROP_REQUIRE_<TOOL>=1 says the tool must be there.
 */
export function describeWith(tool: ToolName, missing: string | undefined, name: string, fn: () => void): void {
  if (missing === undefined) {
    describe(name, fn)
    return
  }
  const sw = requireSwitch(tool)
  if (process.env[sw] === '1') {
    describe(name, () => {
      it(`needs ${tool} (${sw}=1)`, () => {
        throw new Error(`${name}: required by ${sw}=1, but ${missing}`)
      })
    })
    return
  }
  console.warn(`!! SKIPPED (${tool} missing): ${name} — ${missing}; set ${sw}=1 to make this a failure`)
  describe.skip(name, fn)
}

/** `describeWith` for one of TOOLS. */
export function describeWithTool(tool: keyof typeof TOOLS, name: string, fn: () => void): void {
  describeWith(tool, toolMissing(tool), name, fn)
}

/** Where the tests find PostgreSQL (.ci/postgres.sh makes this role); ZERODROP_POSTGRES_URL overrides. */
export const POSTGRES_URL = process.env.ZERODROP_POSTGRES_URL ?? 'postgres://zerodrop:zerodrop@127.0.0.1:5432/postgres'

/** Why PostgreSQL cannot be used here (not installed, or no server answering POSTGRES_URL), or undefined. */
export async function postgresMissing(url = POSTGRES_URL): Promise<string | undefined> {
  const missing = toolMissing('postgres')
  if (missing !== undefined) return missing
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (err) {
    return `no PostgreSQL answers ${url.replace(/:[^:@/]*@/, ':***@')} (${(err as Error).message}); start one with: bash .ci/postgres.sh`
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * Why the demo's embedded database cannot run here, or undefined when it can. better-sqlite3 is
 * an optional dependency: npm ci builds it from source (python3, make and a C++ compiler), and on
 * a machine without them it is left out rather than failing the install.
 */
export async function sqliteMissing(): Promise<string | undefined> {
  try {
    const { default: Database } = await import('better-sqlite3')
    new Database(':memory:').prepare('select 1').get()
    return undefined
  } catch (err) {
    return `better-sqlite3 did not load (${(err as Error).message.split('\n')[0]}); install python3, make and g++ (apt-get install python3 make g++), then npm rebuild better-sqlite3`
  }
}
