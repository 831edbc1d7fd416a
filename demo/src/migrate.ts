// `node demo/dist/migrate.js [--post-deploy]`: runs ITEMS_VERSION's migrations against DATABASE_URL
// (or the embedded SQLite file) and exits: the startup set, or with --post-deploy the migrations
// that must wait until no instance of the previous release runs (contract's DROP COLUMN).
import { DemoConfigError, readConfig } from './config.js'
import { describeTarget, migrate } from './items/db.js'

const args = process.argv.slice(2)
const unknown = args.filter((a) => a !== '--post-deploy')
if (unknown.length > 0) {
  process.stderr.write(`demo migrate: expected no argument or --post-deploy, instead got '${unknown.join(' ')}'\n`)
  process.exit(64)
}
const phase = args.includes('--post-deploy') ? 'postDeploy' : 'startup'
try {
  const config = readConfig()
  const m = await migrate(config.database, config.itemsVersion, phase)
  process.stdout.write(JSON.stringify({ msg: m.applied.length > 0 ? 'migrations applied' : 'schema up to date', database: describeTarget(config.database), itemsVersion: config.itemsVersion, phase, applied: m.applied, current: m.current }) + '\n')
} catch (err) {
  process.stderr.write(`demo migrate: ${err instanceof DemoConfigError ? 'bad configuration: ' : ''}${(err as Error).message}\n`)
  process.exit(err instanceof DemoConfigError ? 64 : 1)
}
