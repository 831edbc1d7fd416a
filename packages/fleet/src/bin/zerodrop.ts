#!/usr/bin/env node
// The `zerodrop` command. Everything it does lives in ../cli (import-safe); this file only runs it.
import { main } from '../cli/cli.js'
import { reportInternalError } from '../cli/internal-error.js'
import { killAllInstancesSync } from '../runtime/instance.js'

// a fault of zerodrop itself, anywhere: instances stopped, one line on stderr, never a stack trace
const crash = (err: unknown): void => {
  killAllInstancesSync()
  process.exit(reportInternalError(err, undefined))
}
process.on('uncaughtException', crash)
process.on('unhandledRejection', crash)

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
    // a stray handle (a socket still closing) must not keep a finished deploy alive
    setTimeout(() => process.exit(code), 1000).unref()
  },
  crash,
)
