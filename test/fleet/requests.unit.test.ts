import { describe, expect, it } from 'vitest'
import { mixSource, parseRequestSpec } from '#fleet/options/requests.js'

describe('--request grammar: [WEIGHT*] METHOD PATH [BODY]', () => {
  it('parses method, path, weight and a body with spaces', () => {
    expect(parseRequestSpec('GET /items?limit=5')).toMatchObject({ weight: 1, method: 'GET', path: '/items?limit=5', body: undefined })
    expect(parseRequestSpec('3* post /items {"name": "a b {{seq}}"}')).toMatchObject({ weight: 3, method: 'POST', path: '/items', body: '{"name": "a b {{seq}}"}' })
  })

  it('refuses what it cannot read, naming it as typed', () => {
    expect(() => parseRequestSpec('/items')).toThrow(/instead got '\/items'/)
    expect(() => parseRequestSpec('GET items')).toThrow(/METHOD \/PATH/)
    expect(() => parseRequestSpec('0* GET /')).toThrow(/weight from 1 to 1000/)
  })
})

describe('--request checked writes: … => GET READ_PATH VALUE_FIELD', () => {
  it('reads the id field, the read path around it and the value field', () => {
    const s = parseRequestSpec('2* POST /items {"name":"{{seq}}", "note":"a => b"} => GET /items/{{.id}}?full=1 .name')
    expect(s).toMatchObject({ weight: 2, method: 'POST', path: '/items', body: '{"name":"{{seq}}", "note":"a => b"}' })
    expect(s.check).toEqual({ idField: ['id'], pathBefore: '/items/', pathAfter: '?full=1', valueField: ['name'] })
    expect(parseRequestSpec('PUT /o/{{seq}} => get /v1/o/{{.data.0.id}} .').check).toEqual({ idField: ['data', '0', 'id'], pathBefore: '/v1/o/', pathAfter: '', valueField: [] })
    expect(parseRequestSpec('POST /x {"a":"{{seq}}"} => GET /x/{{.}} .item.a').check).toMatchObject({ idField: [], valueField: ['item', 'a'] })
    // a body with => but no method and path after it is a body
    expect(parseRequestSpec('POST /x {"f":"x => y"}').check).toBeUndefined()
  })

  it('refuses a clause it cannot use, naming the entry as typed', () => {
    const bad = (raw: string, why: RegExp): void => {
      expect(() => parseRequestSpec(raw), raw).toThrow(why)
      expect(() => parseRequestSpec(raw), raw).toThrow(`instead got '${raw}'`)
    }
    bad('POST /items {"name":"x"} => GET /items/{{.id}} .name', /\{\{seq\}\} in its path or body/)
    bad('POST /items {"name":"{{seq}}"} => DELETE /items/{{.id}} .name', /read-back with GET/)
    bad('POST /items {"name":"{{seq}}"} => GET /items/id .name', /one \{\{\.ID_FIELD\}\}/)
    bad('POST /items {"name":"{{seq}}"} => GET /items/{{.id}}/{{.id}} .name', /one \{\{\.ID_FIELD\}\}/)
    bad('POST /items {"name":"{{seq}}"} => GET /items/{{.a..b}} .name', /a field like \{\{\.id\}\}/)
    bad('POST /items {"name":"{{seq}}"} => GET /items/{{.id}} name', /the field of the read's answer/)
    bad('POST /items {"name":"{{seq}}"} => GET /items/{{.id}}', /=> GET \/PATH/)
  })

  it('marks each checked write with its entry and the value it carries', () => {
    const next = mixSource([parseRequestSpec('GET /'), parseRequestSpec('POST /items {"name":"{{seq}}"} => GET /items/{{.id}} .name')], {}, 'r')
    expect(next(0).check).toBeUndefined()
    expect(next(1)).toMatchObject({ body: '{"name":"r-1"}', check: { entry: 1, value: 'r-1' } })
  })
})

describe('mixSource', () => {
  it('interleaves entries by weight and fills {{seq}} with a value unique to the request', () => {
    const next = mixSource([parseRequestSpec('3* GET /'), parseRequestSpec('POST /items {"name":"{{seq}}"}')], {}, 'r1')
    const reqs = Array.from({ length: 8 }, (_, i) => next(i))
    expect(reqs.map((r) => r.method)).toEqual(['GET', 'GET', 'POST', 'GET', 'GET', 'GET', 'POST', 'GET'])
    const bodies = reqs.filter((r) => r.method === 'POST').map((r) => r.body)
    expect(bodies).toEqual(['{"name":"r1-2"}', '{"name":"r1-6"}'])
    expect(reqs[2]!.headers['content-type']).toBe('application/json')
    expect(reqs[0]!.headers['content-type']).toBeUndefined()
  })

  it('keeps a content-type the headers set', () => {
    const next = mixSource([parseRequestSpec('POST /x {"a":1}')], { 'Content-Type': 'text/plain' }, 'r')
    expect(next(0).headers).toEqual({ 'Content-Type': 'text/plain' })
  })
})
