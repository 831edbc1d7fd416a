import type { Reporter, TestModule } from 'vitest/node'

/**
 * Prints, after the run, every test file with its duration and state, slowest first, and the
 * total: the CI budget (`.ci/run` under 60 minutes) is spent file by file, so it is read that way.
 */
export default class DurationsReporter implements Reporter {
  #start = performance.now()

  onInit(): void {
    this.#start = performance.now()
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const rows = modules.map((m) => ({
      file: m.relativeModuleId,
      project: m.project.name,
      ms: m.diagnostic().duration,
      state: m.state(),
    }))
    rows.sort((a, b) => b.ms - a.ms)
    const total = rows.reduce((s, r) => s + r.ms, 0)
    const lines = rows.map((r) => `${(r.ms / 1000).toFixed(1).padStart(8)} s  ${r.state.padEnd(7)} ${r.project.padEnd(5)} ${r.file}`)
    process.stdout.write(`\n== test file durations (slowest first)\n${lines.join('\n')}\n${(total / 1000).toFixed(1).padStart(8)} s  in ${rows.length} files; wall clock ${((performance.now() - this.#start) / 1000).toFixed(1)} s\n`)
  }
}
