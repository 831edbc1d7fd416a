import { sql, type Kysely } from 'kysely'
import type { ItemsVersion } from './versions.js'

export interface Item {
  readonly id: number
  readonly name: string | null
}

/** The queries one release runs. Each version's SQL is what docs/expand-contract.md shows. */
export interface ItemStore {
  create(name: string): Promise<Item>
  get(id: number): Promise<Item | undefined>
  list(limit: number): Promise<Item[]>
}

interface Row { id: number | string; name: string | null }

const item = (r: Row): Item => ({ id: Number(r.id), name: r.name })

export function itemStore(db: Kysely<unknown>, version: ItemsVersion): ItemStore {
  const one = async (q: ReturnType<typeof sql<Row>>): Promise<Row | undefined> => (await q.execute(db)).rows[0]
  const many = async (q: ReturnType<typeof sql<Row>>): Promise<Item[]> => (await q.execute(db)).rows.map(item)
  const inserted = (r: Row | undefined, name: string): Item => {
    if (r === undefined) throw new Error('INSERT … RETURNING id returned no row')
    return { id: Number(r.id), name }
  }
  switch (version) {
    case 'v1':
      return {
        create: async (name) => inserted(await one(sql<Row>`INSERT INTO items (name) VALUES (${name}) RETURNING id`), name),
        get: async (id) => mapOne(await one(sql<Row>`SELECT id, name FROM items WHERE id = ${id}`)),
        list: (limit) => many(sql<Row>`SELECT id, name FROM items ORDER BY id DESC LIMIT ${limit}`),
      }
    case 'breaking':
      // the column was renamed under v1; this release's own SQL is fine
      return {
        create: async (name) => inserted(await one(sql<Row>`INSERT INTO items (title) VALUES (${name}) RETURNING id`), name),
        get: async (id) => mapOne(await one(sql<Row>`SELECT id, title AS name FROM items WHERE id = ${id}`)),
        list: (limit) => many(sql<Row>`SELECT id, title AS name FROM items ORDER BY id DESC LIMIT ${limit}`),
      }
    case 'expand':
      // writes both columns (v1, still running, reads `name`); reads the new one, falling back to
      // the old for rows v1 wrote
      return {
        create: async (name) => inserted(await one(sql<Row>`INSERT INTO items (name, title) VALUES (${name}, ${name}) RETURNING id`), name),
        get: async (id) => mapOne(await one(sql<Row>`SELECT id, COALESCE(title, name) AS name FROM items WHERE id = ${id}`)),
        list: (limit) => many(sql<Row>`SELECT id, COALESCE(title, name) AS name FROM items ORDER BY id DESC LIMIT ${limit}`),
      }
    case 'lossy':
      // the control: expand's reads, but the insert lost the field on the way (a renamed key, a
      // mapping that was not updated) and the answer still echoes what was sent
      return {
        create: async (name) => inserted(await one(sql<Row>`INSERT INTO items (name, title) VALUES (NULL, NULL) RETURNING id`), name),
        get: async (id) => mapOne(await one(sql<Row>`SELECT id, COALESCE(title, name) AS name FROM items WHERE id = ${id}`)),
        list: (limit) => many(sql<Row>`SELECT id, COALESCE(title, name) AS name FROM items ORDER BY id DESC LIMIT ${limit}`),
      }
    case 'migrate':
    case 'contract':
      // migrate: every row has `title` (its startup backfill; expand wrote both), so `name` is
      // neither read nor written any more; contract is the same SQL in code that no longer
      // knows the column, and drops it once no migrate instance runs
      return {
        create: async (name) => inserted(await one(sql<Row>`INSERT INTO items (title) VALUES (${name}) RETURNING id`), name),
        get: async (id) => mapOne(await one(sql<Row>`SELECT id, title AS name FROM items WHERE id = ${id}`)),
        list: (limit) => many(sql<Row>`SELECT id, title AS name FROM items ORDER BY id DESC LIMIT ${limit}`),
      }
  }
}

function mapOne(r: Row | undefined): Item | undefined {
  return r === undefined ? undefined : item(r)
}
