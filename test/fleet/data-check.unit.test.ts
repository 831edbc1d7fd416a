import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { readBack, WriteLedger } from '#fleet/load/data-check.js'
import { startLoadGenerator } from '#fleet/load/generator.js'
import { deployChecks } from '#fleet/report/checks.js'
import { EXIT_CODES, exitCodeFor, verdictWord } from '#fleet/report/report.js'
import { parseRequestSpec, resolveRecheckWrites } from '#fleet/options/requests.js'
import { parse } from '#fleet/cli/parse.js'

// The data check's ledger and read-back against a real server on port 0: each write ends as
// exactly one of verified, lost, changed, unverified, and the exit code and the checks agree.

const specs = [parseRequestSpec('GET /items'), parseRequestSpec('POST /items {"name":"{{seq}}"} => GET /items/{{.id}} .name')]
let server: http.Server | undefined
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())))

async function serve(items: Record<string, { status: number; body?: unknown; delayMs?: number }>): Promise<string> {
  server = http.createServer((req, res) => {
    const it = items[decodeURIComponent(req.url!.slice('/items/'.length))] ?? { status: 404 }
    setTimeout(() => res.writeHead(it.status, { 'content-type': 'application/json' }).end(it.body === undefined ? '' : JSON.stringify(it.body)), it.delayMs ?? 0)
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const json = (x: unknown): Buffer => Buffer.from(JSON.stringify(x))

describe('data check', () => {
  it('keeps 2xx writes with their id, up to its bound; later ones counted only', () => {
    const ledger = new WriteLedger(specs, 2)
    ledger.answer(1, 'r-1', 201, json({ id: 1, name: 'r-1' }))
    ledger.answer(1, 'r-2', 500, json({ error: 'x' }))
    ledger.answer(1, 'r-3', 200, Buffer.from('not json'))
    expect(ledger.room).toBe(false)
    ledger.answer(1, 'r-4', 200, json({ id: 4 }))
    ledger.answer(1, 'r-5', 503, undefined)
    expect(ledger.writes).toEqual([{ entry: 1, value: 'r-1', id: 1 }, { entry: 1, value: 'r-3', id: undefined }])
    expect(ledger.untracked).toBe(1)
  })

  it("the load generator hands a response's body to the requests that ask for it, and only to them", async () => {
    server = http.createServer((req, res) => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: req.url!.slice(1) })))
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
    const got: Array<[number, number, string | undefined]> = []
    const g = startLoadGenerator({
      url,
      connections: 2,
      pace: { thinkMs: 0 },
      durationMs: 10_000,
      maxRequestsPerConnection: 10,
      request: ({ sequence }) => ({
        path: `/${sequence}`,
        ...(sequence % 2 === 0 ? { onResponse: (status: number, body: Buffer | undefined) => got.push([sequence, status, body?.toString()]) } : {}),
        ...(sequence % 4 === 0 ? { statusOnly: true } : {}),
      }),
    })
    const run = await g.done
    expect(run.ok).toBe(20)
    expect(got.map(([n]) => n).sort((a, b) => a - b)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18])
    for (const [n, status, body] of got) expect([n, status, body]).toEqual([n, 201, n % 4 === 0 ? undefined : JSON.stringify({ id: String(n) })])
  })

  it('reads every write back: verified, lost, changed, unverified, adding up to the writes', async () => {
    const url = await serve({
      1: { status: 200, body: { id: 1, name: 'r-1' } },
      2: { status: 200, body: { id: 2, name: null } }, // the field lost on insert
      3: { status: 200, body: { id: 3, name: 'someone else' } },
      5: { status: 500, body: { error: 'db' } },
      'a/b': { status: 200, body: { name: 'r-6' } },
    })
    const ledger = new WriteLedger(specs, 100)
    for (const [value, id] of [['r-1', 1], ['r-2', 2], ['r-3', 3], ['r-4', 4], ['r-5', 5], ['r-6', 'a/b']] as const) ledger.answer(1, value, 201, json({ id }))
    ledger.answer(1, 'r-7', 201, json({ other: 7 }))
    const d = await readBack({ url, specs, ledger, maxWrites: 100, headers: { 'content-type': 'application/json', 'x-test': '1' }, timeoutMs: 5000, requestTimeoutMs: 2000 })
    expect(d).toMatchObject({ writes: 7, writesVerified: 2, lostWrites: 2, changedWrites: 1, unverifiedWrites: 2, untrackedWrites: 0 })
    expect(d.writesVerified + d.lostWrites + d.changedWrites + d.unverifiedWrites).toBe(d.writes)
    expect(d.problems.find((p) => p.value === 'r-3')).toMatchObject({ kind: 'changed', got: 'someone else', path: '/items/3', status: 200 })
    expect(d.problems.find((p) => p.value === 'r-4')).toMatchObject({ kind: 'lost', status: 404 })
    expect(d.problems.find((p) => p.value === 'r-7')).toMatchObject({ kind: 'unverified', error: expect.stringMatching(/no id at \{\{\.id\}\}/) })
    expect(d.requests).toEqual([specs[1]!.raw])
  })

  it("reads earlier deploys' writes again, counted apart, and keeps every write that read back for the next", async () => {
    const url = await serve({ 1: { status: 200, body: { name: 'r-1' } }, 8: { status: 200, body: { name: 'old-8' } }, 9: { status: 200, body: { name: null } } })
    const ledger = new WriteLedger(specs, 100)
    ledger.answer(1, 'r-1', 201, json({ id: 1 }))
    const earlier = resolveRecheckWrites([{ request: specs[1]!.raw, value: 'old-8', id: 8 }, { request: specs[1]!.raw, value: 'old-9', id: 9 }])
    const d = await readBack({ url, specs, ledger, earlier, maxWrites: 100, headers: {}, timeoutMs: 5000, requestTimeoutMs: 2000 })
    expect(d).toMatchObject({ writes: 1, writesVerified: 1, lostWrites: 0, earlier: { writes: 2, writesVerified: 1, lostWrites: 1, changedWrites: 0, unverifiedWrites: 0 } })
    expect(d.problems).toEqual([expect.objectContaining({ kind: 'lost', value: 'old-9', earlier: true })])
    expect(d.kept.map((k) => k.value).sort()).toEqual(['old-8', 'r-1'])
    expect(exitCodeFor('promoted', 0, undefined, d)).toBe(EXIT_CODES.writesLost)
  })

  it('refuses earlier writes it cannot read back, naming the option and the flag', () => {
    expect(() => resolveRecheckWrites([{ request: 'GET /items', value: 'a', id: 1 }])).toThrow(/recheckWrites\[0\]\.request: expected a checked write/)
    expect(() => resolveRecheckWrites([{ request: specs[1]!.raw, value: 'a' }])).toThrow(/recheckWrites\[0\]: expected \{ request: string, value: string, id: string or number \}/)
    expect(() => parse(['deploy', '--from', 'a', '--to', 'b', '--recheck-writes', 'no-such-report.json'])).toThrow(/--recheck-writes: expected a zerodrop deploy --json report, instead could not read 'no-such-report.json': ENOENT/)
    expect(() => parse(['deploy', '--from', 'a', '--to', 'b', '--recheck-writes', 'package.json'])).toThrow(/has no dataCheck.kept/)
    expect(parse(['deploy', '--from', 'a', '--to', 'b', '--recheck-writes', 'test/fleet/fixtures/kept-writes.json', '--recheck-writes', 'test/fleet/fixtures/kept-writes.json']).options.recheckWrites).toHaveLength(2)
  })

  it('ends within its time bound: what is not read by then is unverified', async () => {
    const url = await serve({ 1: { status: 200, body: { name: 'r-1' }, delayMs: 3000 } })
    const ledger = new WriteLedger(specs, 100)
    ledger.answer(1, 'r-1', 201, json({ id: 1 }))
    const d = await readBack({ url, specs, ledger, maxWrites: 100, headers: {}, timeoutMs: 300, requestTimeoutMs: 10_000 })
    expect(d).toMatchObject({ writes: 1, writesVerified: 0, unverifiedWrites: 1 })
    expect(d.durationMs).toBeLessThan(3000)
  })

  it('reads on loopback only', async () => {
    await expect(readBack({ url: 'http://192.0.2.1:80', specs, ledger: new WriteLedger(specs, 1), maxWrites: 1, headers: {}, timeoutMs: 100, requestTimeoutMs: 100 })).rejects.toThrow(/loopback/)
  })

  it('a lost write exits 5: below drops, above a rollback and an unsafe stop; the check says the same', () => {
    const lost = { requests: [], writes: 10, writesVerified: 9, lostWrites: 1, changedWrites: 0, unverifiedWrites: 0, untrackedWrites: 0, durationMs: 5, maxWrites: 10, timeoutMs: 1000, problems: [{ kind: 'lost' as const, request: 'x', value: 'r-1', id: 1, path: '/items/1', status: 404 }] }
    const clean = { ...lost, writesVerified: 10, lostWrites: 0, problems: [] }
    expect(exitCodeFor('promoted', 0, undefined, lost)).toBe(EXIT_CODES.writesLost)
    expect(exitCodeFor('rolled-back', 0, undefined, lost)).toBe(EXIT_CODES.writesLost)
    expect(exitCodeFor('promoted', 3, undefined, lost)).toBe(EXIT_CODES.dropped)
    expect(exitCodeFor('promoted', 0, { verdict: 'unsafe' } as never, lost)).toBe(EXIT_CODES.writesLost)
    expect(exitCodeFor('promoted', 0, undefined, clean)).toBe(EXIT_CODES.promoted)
    expect(verdictWord({ verdict: 'promoted', exitCode: EXIT_CODES.writesLost })).toBe('PROMOTED BUT WRITES LOST')
    const report = (dataCheck: typeof lost): never => ({
      dropped: 0,
      verdict: 'promoted',
      reason: undefined,
      bothRevisionsServed: true,
      timing: { rolloutDurationMs: 1000 },
      parameters: { to: { name: 'v2' } },
      accounting: { requests: 10, byRevision: {}, crossCheck: undefined },
      failures: { records: [], omitted: 0 },
      dataCheck,
    }) as never
    const check = (d: typeof lost) => deployChecks(report(d)).find((c) => c.type === 'lost-writes')
    expect(check(lost)).toMatchObject({ ok: false, message: expect.stringMatching(/10 checked writes answered 2xx: 9 verified, 1 lost/), detail: expect.stringMatching(/lost: 'r-1' id 1, GET \/items\/1 → 404/) })
    expect(check(clean)).toMatchObject({ ok: true })
    expect(check({ ...clean, writes: 0, writesVerified: 0 })).toMatchObject({ ok: true, skipped: true })
  })
})
