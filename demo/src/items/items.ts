import type { Kysely } from 'kysely'
import { describeTarget, migrate, openDatabase, type DatabaseTarget } from './db.js'
import { itemStore, type ItemStore } from './store.js'
import type { ItemsVersion } from './versions.js'

export interface ItemsSettings {
  readonly database: DatabaseTarget
  readonly itemsVersion: ItemsVersion
  readonly busyTimeoutMs: number
  readonly migrateOnStart: boolean
}

type Log = (fields: object, msg: string) => void

/** Migrates (once across instances, under the lock) and opens the store; before the service listens. */
export async function startItems(s: ItemsSettings, log: Log): Promise<{ store: ItemStore; db: Kysely<unknown> }> {
  if (s.migrateOnStart) {
    const started = performance.now()
    const m = await migrate(s.database, s.itemsVersion, 'startup')
    log({ database: describeTarget(s.database), itemsVersion: s.itemsVersion, applied: m.applied, current: m.current, durationMs: Math.round(performance.now() - started) }, m.applied.length > 0 ? 'migrations applied' : 'schema up to date')
  }
  const db = await openDatabase(s.database, { busyTimeoutMs: s.busyTimeoutMs })
  return { store: itemStore(db, s.itemsVersion), db }
}
