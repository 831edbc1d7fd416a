import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { outputProblems } from '#fleet/cli/cli.js'
import { reportInternalError } from '#fleet/cli/internal-error.js'
import { EXIT_CODES } from '#fleet/report/report.js'

const dirs: string[] = []
afterEach(() => {
  vi.restoreAllMocks()
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

describe('an internal error reaches the user as one line, never a stack trace', () => {
  it('says what failed and where, puts the stack in a file in the run folder, exits 70', () => {
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-internal-'))
    dirs.push(runDir)
    let stderr = ''
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr += String(chunk)
      return true
    })
    const code = reportInternalError(new TypeError("Cannot read properties of undefined (reading 'port')"), runDir)
    expect(code).toBe(EXIT_CODES.internal)
    expect(code).toBe(70)
    expect(stderr).toMatch(/^zerodrop: internal error \(a fault of zerodrop, not of the service under test\): Cannot read properties of undefined \(reading 'port'\) \(at .*:\d+:\d+\); every instance was stopped; details in .*zerodrop-internal-error-\d+\.log, instance logs in .*; exit 70\n$/)
    expect(stderr).not.toMatch(/\n\s+at /)
    const file = /details in (\S+?),/.exec(stderr)?.[1]
    expect(fs.readFileSync(file!, 'utf8')).toMatch(/TypeError: Cannot read properties.*\n\s+at /s)
  })
})

describe('outputs are checked before work starts, whatever the output flag', () => {
  it('names the flag, the file as typed and what is wrong', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'zerodrop-outputs-'))
    dirs.push(d)
    expect(outputProblems({ json: path.join(d, 'ok.json'), html: undefined })).toEqual([])
    expect(outputProblems({ json: path.join(d, 'missing', 'r.json') })).toEqual([expect.stringMatching(/^--json: expected a file in an existing folder, instead the folder .*missing of '.*r\.json' does not exist$/)])
    expect(outputProblems({ markdown: d })).toEqual([`--markdown: expected a file to write, instead '${d}' is a folder`])
    expect(outputProblems({ html: '' })).toEqual(["--html: expected a file to write the html report to, instead got ''"])
  })
})
