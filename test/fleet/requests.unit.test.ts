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
