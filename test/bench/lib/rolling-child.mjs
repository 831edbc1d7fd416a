// One rolling deploy of the demo (v1 → v2) with @zerodrop/fleet's deploy(), in its own process;
// prints the report as JSON on IPC.
import { deploy } from '@zerodrop/fleet'

const args = JSON.parse(process.argv[2])
const revision = (name) => ({
  name,
  command: [process.execPath, args.demo],
  env: { APP_VERSION: name, DRAIN_DELAY_MS: String(args.drainDelayMs), SHUTDOWN_TIMEOUT_MS: '5000' },
})
process.send({ ready: true })
try {
  // this process is the whole fleet but its instances (router, controller, load generator):
  // its CPU over the deploy is the fleet's own cost
  const cpu0 = process.cpuUsage()
  const report = await deploy({
    from: revision('v1'),
    to: revision('v2'),
    replicas: args.replicas,
    router: 'l4',
    endpointDelayMs: args.endpointDelayMs,
    terminationGracePeriodSeconds: 15,
    rolling: { maxSurge: args.maxSurge, maxUnavailable: 0, minReadySeconds: 0, progressDeadlineSeconds: 60 },
    probes: { common: { periodMs: args.periodMs, timeoutMs: 1000 } },
    load: { leadMs: 1000, tailMs: 1000 },
  })
  const cpu = process.cpuUsage(cpu0)
  process.send({ report: { verdict: report.verdict, dropped: report.dropped, exitCode: report.exitCode, timing: report.timing, events: report.events, steps: report.steps, rolling: report.parameters.rolling, load: { requests: report.load.requests, rps: report.load.rps, rate: report.parameters.load.rate, connections: report.parameters.load.connections }, cpu: { userUs: cpu.user, systemUs: cpu.system } } })
} catch (err) {
  process.send({ error: err instanceof Error ? err.stack : String(err) })
}
process.exit(0)
