/**
 * The items resource's schema versions: what each release of the demo reads, writes and migrates.
 * The API stays `{ id, name }` in every version; underneath, the column `name` is replaced by
 * `title` (docs/expand-contract.md walks through the SQL and code of each step).
 *
 * - v1:       column `name`
 * - breaking: renames `name` to `title` at startup: the v1 instances still running fail at once
 * - expand:   adds `title`; writes both, reads `title`, falling back to `name`
 * - migrate:  backfills `title` from `name`; writes and reads `title` only
 * - contract: code without `name`; its post-deploy migration drops the column
 * - lossy:    a control: expand's schema, but the insert loses the field (the data check must catch it)
 */
export const ITEMS_VERSIONS = ['v1', 'breaking', 'expand', 'migrate', 'contract', 'lossy'] as const
export type ItemsVersion = typeof ITEMS_VERSIONS[number]

/** Which migrations a version runs: `startup` before it serves; `postDeploy` after its rollout. */
export interface VersionMigrations {
  /** the lineage the version belongs to (names of its migrations, in order) */
  readonly lineage: 'rename' | 'expand-contract'
  readonly startup: string
  readonly postDeploy: string
}

export const VERSION_MIGRATIONS: Readonly<Record<ItemsVersion, VersionMigrations>> = Object.freeze({
  v1: { lineage: 'expand-contract', startup: '001_create_items', postDeploy: '001_create_items' },
  breaking: { lineage: 'rename', startup: '002_rename_name_to_title', postDeploy: '002_rename_name_to_title' },
  expand: { lineage: 'expand-contract', startup: '002_add_title', postDeploy: '002_add_title' },
  lossy: { lineage: 'expand-contract', startup: '002_add_title', postDeploy: '002_add_title' },
  migrate: { lineage: 'expand-contract', startup: '003_backfill_title', postDeploy: '003_backfill_title' },
  contract: { lineage: 'expand-contract', startup: '003_backfill_title', postDeploy: '004_drop_name' },
})
