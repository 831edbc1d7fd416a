import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely'
import type { VersionMigrations } from './versions.js'

export type Dialect = 'sqlite' | 'postgres'

/**
 * Forward-only migrations: none has a `down`, so when an older release starts against a newer
 * schema, Kysely's `migrateTo(older)` finds nothing it may undo and leaves the schema alone —
 * inside the migration lock, with no check-then-act race between instances.
 */
function migrations(dialect: Dialect): Record<VersionMigrations['lineage'], Record<string, Migration>> {
  const create: Migration = {
    async up(db: Kysely<unknown>) {
      if (dialect === 'postgres') {
        await sql`CREATE TABLE items (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name TEXT, created_at TIMESTAMPTZ NOT NULL DEFAULT now())`.execute(db)
      } else {
        await sql`CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)`.execute(db)
      }
    },
  }
  return {
    rename: {
      '001_create_items': create,
      // the one-deploy change: every running v1 statement that names `name` fails from here on
      '002_rename_name_to_title': { up: (db) => sql`ALTER TABLE items RENAME COLUMN name TO title`.execute(db).then(() => {}) },
    },
    'expand-contract': {
      '001_create_items': create,
      // expand: a nullable column beside the old one; v1 ignores it
      '002_add_title': { up: (db) => sql`ALTER TABLE items ADD COLUMN title TEXT`.execute(db).then(() => {}) },
      // migrate: rows written before expand (by v1) get their title; expand's rows have both
      '003_backfill_title': { up: (db) => sql`UPDATE items SET title = name WHERE title IS NULL`.execute(db).then(() => {}) },
      // contract, after its rollout: nothing still running reads or writes `name`
      '004_drop_name': { up: (db) => sql`ALTER TABLE items DROP COLUMN name`.execute(db).then(() => {}) },
    },
  }
}

export function migrationProvider(dialect: Dialect, lineage: VersionMigrations['lineage']): MigrationProvider {
  const all = migrations(dialect)[lineage]
  return { getMigrations: async () => all }
}
