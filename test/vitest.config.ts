import { defineConfig } from 'vitest/config'

// End-to-end files start real processes, send real load and time real drains on a 2-core
// machine: run files one at a time so they do not starve each other's probes and timers.
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
})
