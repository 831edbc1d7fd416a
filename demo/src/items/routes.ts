import type { FastifyInstance } from 'fastify'
import type { Express, RequestHandler } from 'express'
import type { ItemStore } from './store.js'

export interface Answer {
  readonly status: number
  readonly body: unknown
}

type Log = (fields: object, msg: string) => void

const MAX_NAME = 1000
const MAX_LIMIT = 100

/** The items API, framework-neutral: `POST /items`, `GET /items/:id`, `GET /items?limit=N`. */
export function itemsApi(store: ItemStore, logError: Log): {
  create(body: unknown): Promise<Answer>
  get(id: string): Promise<Answer>
  list(limit: unknown): Promise<Answer>
} {
  const guard = async (route: string, fn: () => Promise<Answer>): Promise<Answer> => {
    try {
      return await fn()
    } catch (err) {
      logError({ route, err: { message: (err as Error).message, code: (err as { code?: unknown }).code } }, 'items query failed')
      return { status: 500, body: { error: 'database error', message: (err as Error).message } }
    }
  }
  return {
    create(body) {
      const name = (body as { name?: unknown } | null | undefined)?.name
      if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME) {
        return Promise.resolve({ status: 400, body: { error: `expected a JSON body { "name": string of 1 to ${MAX_NAME} characters }, instead got ${describe(body)}` } })
      }
      return guard('POST /items', async () => ({ status: 201, body: await store.create(name) }))
    },
    get(rawId) {
      const id = Number(rawId)
      if (!/^[1-9][0-9]{0,15}$/.test(rawId) || !Number.isSafeInteger(id)) {
        return Promise.resolve({ status: 400, body: { error: `expected a positive integer id, instead got '${rawId}'` } })
      }
      return guard('GET /items/:id', async () => {
        const found = await store.get(id)
        return found === undefined ? { status: 404, body: { error: `no item with id ${id}` } } : { status: 200, body: found }
      })
    },
    list(rawLimit) {
      let limit = 20
      if (rawLimit !== undefined) {
        limit = Number(rawLimit)
        if (typeof rawLimit !== 'string' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
          return Promise.resolve({ status: 400, body: { error: `expected limit to be an integer from 1 to ${MAX_LIMIT}, instead got '${String(rawLimit)}'` } })
        }
      }
      return guard('GET /items', async () => ({ status: 200, body: { items: await store.list(limit) } }))
    },
  }
}

function describe(body: unknown): string {
  if (body === undefined || body === null) return 'no body'
  const s = JSON.stringify(body) ?? String(body)
  return s.length > 80 ? `${s.slice(0, 80)}…` : s
}

export function fastifyItemsRoutes(app: FastifyInstance, store: ItemStore): void {
  const api = itemsApi(store, (fields, msg) => app.log.error(fields, msg))
  app.post('/items', async (req, reply) => {
    const a = await api.create(req.body)
    return reply.code(a.status).send(a.body)
  })
  app.get<{ Params: { id: string } }>('/items/:id', async (req, reply) => {
    const a = await api.get(req.params.id)
    return reply.code(a.status).send(a.body)
  })
  app.get<{ Querystring: { limit?: string } }>('/items', async (req, reply) => {
    const a = await api.list(req.query.limit)
    return reply.code(a.status).send(a.body)
  })
}

export function expressItemsRoutes(app: Express, json: RequestHandler, store: ItemStore, log: Log): void {
  const api = itemsApi(store, log)
  app.post('/items', json, async (req, res) => {
    const a = await api.create(req.body)
    res.status(a.status).json(a.body)
  })
  app.get('/items/:id', async (req, res) => {
    const a = await api.get(req.params.id)
    res.status(a.status).json(a.body)
  })
  app.get('/items', async (req, res) => {
    const a = await api.list(req.query.limit)
    res.status(a.status).json(a.body)
  })
}
