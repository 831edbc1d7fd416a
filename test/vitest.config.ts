import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const root = fileURLToPath(new URL('..', import.meta.url))
const src = (p: string): string => `${root}packages/${p}`

// One import rule for every test: the public API through the package name, internals through
// `#lifecycle/…` and `#fleet/…`; both resolve to the TypeScript sources, so one run never loads
// two copies of a module (dist and src) with module-level state. Child processes (the CLI, the
// demo, the router) run the built dist, as a user would.
const alias = [
  { find: /^@zerodrop\/lifecycle$/, replacement: src('lifecycle/src/index.ts') },
  { find: /^@zerodrop\/lifecycle\/fastify$/, replacement: src('lifecycle/src/adapters/fastify.ts') },
  { find: /^@zerodrop\/lifecycle\/express$/, replacement: src('lifecycle/src/adapters/express.ts') },
  { find: /^@zerodrop\/fleet$/, replacement: src('fleet/src/index.ts') },
  { find: /^#lifecycle\/(.*)\.js$/, replacement: src('lifecycle/src/$1.ts') },
  { find: /^#fleet\/(.*)\.js$/, replacement: src('fleet/src/$1.ts') },
]

// Two speeds. `*.unit.test.ts`: no processes, no load, in parallel. Everything else is end to end:
// real processes, real load and real drains timed on a 2-core machine, one file at a time so
// they do not starve each other's probes and timers.
export default defineConfig({
  resolve: { alias },
  test: {
    root,
    reporters: ['default', './test/helpers/durations-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.unit.test.ts'], testTimeout: 20_000 } },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.unit.test.ts', '**/node_modules/**'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
})
