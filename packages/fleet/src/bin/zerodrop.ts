#!/usr/bin/env node
// The `zerodrop` command. Everything it does lives in ../cli (import-safe); this file only runs it.
import { main } from '../cli/cli.js'
import { killAllInstancesSync } from '../runtime/instance.js'

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
    // a stray handle (a socket still closing) must not keep a finished deploy alive
    setTimeout(() => process.exit(code), 1000).unref()
  },
  (err: unknown) => {
    process.stderr.write(`zerodrop: unexpected error: ${(err as Error).stack ?? String(err)}\n`)
    killAllInstancesSync()
    process.exitCode = 70
  },
)
