import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { EXIT_CODES } from '../report/report.js'

/**
 * A fault of zerodrop itself: one line saying what failed and where (never a stack trace on the
 * terminal), the stack in a file beside the instance logs, exit 70.
 */
export function reportInternalError(err: unknown, runDir: string | undefined, command = 'zerodrop'): number {
  const e = err instanceof Error ? err : new Error(String(err))
  const where = /\n\s+at (?:.*? \()?(.*?:\d+:\d+)\)?/.exec(e.stack ?? '')?.[1]
  let file: string | undefined
  try {
    const dir = runDir !== undefined && fs.existsSync(runDir) ? runDir : os.tmpdir()
    file = path.join(dir, `zerodrop-internal-error-${process.pid}.log`)
    fs.writeFileSync(file, `${new Date().toISOString()} zerodrop ${process.argv.slice(2).join(' ')}\n${e.stack ?? e.message}\n`)
  } catch {
    file = undefined
  }
  process.stderr.write(
    `${command}: internal error (a fault of zerodrop, not of the service under test): ${e.message}${where ? ` (at ${where})` : ''}; ` +
      `${command === 'zerodrop' ? 'every instance was stopped; ' : ''}${file ? `details in ${file}` : 'the details could not be written'}` +
      `${runDir ? `, instance logs in ${runDir}` : ''}; exit ${EXIT_CODES.internal}\n`,
  )
  return EXIT_CODES.internal
}
