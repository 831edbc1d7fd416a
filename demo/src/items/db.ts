import os from 'node:os'
import path from 'node:path'
import fs from 'node:fs'
import { Kysely, Migrator, PostgresDialect, SqliteAdapter, SqliteDialect, sql, type DialectAdapter, type Migration, type MigrationProvider } from 'kysely'
import type { Dialect } from './migrations.js'
import { migrationProvider } from './migrations.js'
import { VERSION_MIGRATIONS, type ItemsVersion } from './versions.js'

/** Where the items live: a PostgreSQL URL, or an SQLite file (the embedded default). */
export type DatabaseTarget =
  | { readonly dialect: 'postgres'; readonly url: string }
  | { readonly dialect: 'sqlite'; readonly file: string }

export class DemoDatabaseError extends Error {
  readonly code = 'ZD_ERR_DEMO_DATABASE'
}

export const DEFAULT_SQLITE_FILE = path.join(os.tmpdir(), 'zerodrop-demo', 'items.sqlite')

/** DATABASE_URL: unset → the default SQLite file; `file:PATH` or `sqlite:PATH` → that file; `postgres://…` → PostgreSQL. */
export function parseDatabaseUrl(raw: string | undefined): DatabaseTarget {
  if (raw === undefined || raw === '') return { dialect: 'sqlite', file: DEFAULT_SQLITE_FILE }
  if (/^postgres(ql)?:\/\//.test(raw)) return { dialect: 'postgres', url: raw }
  const m = /^(?:file|sqlite):(.+)$/.exec(raw)
  if (m?.[1] !== undefined) return { dialect: 'sqlite', file: path.resolve(m[1].replace(/^\/\/(?=\/)/, '')) }
  throw new DemoDatabaseError(`DATABASE_URL must be postgres://…, postgresql://…, file:PATH or sqlite:PATH, instead got '${redact(raw)}'`)
}

/** A URL fit for a log line: the password replaced. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@')
}

export function describeTarget(t: DatabaseTarget): string {
  return t.dialect === 'postgres' ? redact(t.url) : `sqlite:${t.file}`
}

export interface OpenOptions {
  /**
   * SQLite: how long a statement waits for another process's write lock before failing.
   * Shorter than the readiness probe's timeout, so a stuck writer shows as failed requests
   * rather than as probes that time out and take healthy instances out of the pool.
   */
  readonly busyTimeoutMs: number
}

/** The connection the service answers requests with. */
export async function openDatabase(target: DatabaseTarget, opts: OpenOptions): Promise<Kysely<unknown>> {
  if (target.dialect === 'postgres') {
    const { default: pg } = await import('pg')
    const pool = new pg.Pool({ connectionString: target.url, max: 4, connectionTimeoutMillis: opts.busyTimeoutMs * 4 })
    // a pool error on an idle client (server restart) must not crash the process; the next query reconnects
    pool.on('error', () => {})
    return new Kysely({ dialect: new PostgresDialect({ pool }) })
  }
  return new Kysely({ dialect: new SqliteDialect({ database: await sqliteConnection(target.file, opts.busyTimeoutMs) }) })
}

async function sqliteConnection(file: string, busyTimeoutMs: number): Promise<import('better-sqlite3').Database> {
  let Database: typeof import('better-sqlite3')
  try {
    Database = (await import('better-sqlite3')).default
  } catch (err) {
    throw new DemoDatabaseError(`the embedded database needs the native module better-sqlite3, which did not load (${(err as Error).message}); run 'npm ci' with its install script allowed (package.json allowScripts), or set DATABASE_URL=postgres://…`, { cause: err })
  }
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const db = new Database(file)
  // WAL: readers never wait for the writer, so several processes share the file
  db.pragma('journal_mode = WAL')
  db.pragma(`busy_timeout = ${Math.round(busyTimeoutMs)}`)
  return db
}

/** Kysely's SQLite adapter takes no lock (one process); several instances share this file, so the migration runs in one `BEGIN IMMEDIATE` transaction that holds the database's write lock. */
class LockingSqliteAdapter extends SqliteAdapter {
  constructor(private readonly failed: { value: boolean }) {
    super()
  }

  override async acquireMigrationLock(db: Kysely<unknown>): Promise<void> {
    this.failed.value = false
    await sql`BEGIN IMMEDIATE`.execute(db)
  }

  override async releaseMigrationLock(db: Kysely<unknown>): Promise<void> {
    await sql.raw(this.failed.value ? 'ROLLBACK' : 'COMMIT').execute(db)
  }
}

class LockingSqliteDialect extends SqliteDialect {
  constructor(config: ConstructorParameters<typeof SqliteDialect>[0], private readonly failed: { value: boolean }) {
    super(config)
  }

  override createAdapter(): DialectAdapter {
    return new LockingSqliteAdapter(this.failed)
  }
}

export interface MigrationOutcome {
  /** migrations this call applied, in order (empty when another instance had applied them) */
  readonly applied: readonly string[]
  /** the last migration executed in the database afterwards */
  readonly current: string | undefined
}

/**
 * Brings the schema to `version`'s startup (or post-deploy) migration, once however many instances
 * start together: PostgreSQL serialises them with Kysely's advisory lock, SQLite with the write
 * lock; the instance that waited finds the work done. Waits up to `lockTimeoutMs` for the lock.
 */
export async function migrate(target: DatabaseTarget, version: ItemsVersion, phase: 'startup' | 'postDeploy', lockTimeoutMs = 60_000): Promise<MigrationOutcome> {
  const plan = VERSION_MIGRATIONS[version]
  const failed = { value: false }
  let db: Kysely<unknown>
  if (target.dialect === 'postgres') {
    const { default: pg } = await import('pg')
    // lock_timeout: a DDL statement queued behind a long transaction would block every query after it
    const pool = new pg.Pool({ connectionString: target.url, max: 1, options: '-c lock_timeout=5000' })
    pool.on('error', () => {})
    db = new Kysely({ dialect: new PostgresDialect({ pool }) })
  } else {
    db = new Kysely({ dialect: new LockingSqliteDialect({ database: await sqliteConnection(target.file, lockTimeoutMs) }, failed) })
  }
  const provider = trackFailures(migrationProvider(target.dialect as Dialect, plan.lineage), failed)
  try {
    const migrator = new Migrator({ db, provider })
    const targetName = plan[phase]
    const { error, results = [] } = await migrator.migrateTo(targetName)
    if (error !== undefined) {
      const failedName = results.find((r) => r.status === 'Error')?.migrationName
      throw new DemoDatabaseError(`migration ${failedName ?? `to ${targetName}`} failed on ${describeTarget(target)}: ${(error as Error).message ?? String(error)}`, { cause: error })
    }
    const applied = results.filter((r) => r.status === 'Success' && r.direction === 'Up').map((r) => r.migrationName)
    const all = await migrator.getMigrations()
    const current = all.filter((m) => m.executedAt !== undefined).map((m) => m.name).sort().at(-1)
    return { applied, current }
  } finally {
    await db.destroy()
  }
}

function trackFailures(provider: MigrationProvider, failed: { value: boolean }): MigrationProvider {
  return {
    async getMigrations() {
      const all = await provider.getMigrations()
      const wrapped: Record<string, Migration> = {}
      for (const [name, m] of Object.entries(all)) {
        wrapped[name] = {
          async up(db) {
            try {
              await m.up(db)
            } catch (err) {
              failed.value = true
              throw err
            }
          },
        }
      }
      return wrapped
    },
  }
}
