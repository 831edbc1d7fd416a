#!/usr/bin/env node
// npm links a workspace's bins at `npm ci`, before anything is built, and skips a bin whose file
// does not exist yet: this committed launcher is always there, and runs the compiled CLI.
import { fileURLToPath } from 'node:url'

const cli = new URL('../dist/bin/zerodrop.js', import.meta.url)
try {
  await import(cli.href)
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(fileURLToPath(cli))) {
    process.stderr.write(`zerodrop: the CLI is not built yet (${fileURLToPath(cli)} is missing); run 'npm run build' at the repository root, then try again\n`)
    process.exit(70)
  }
  throw err
}
