// One load generator of the stress-runner benchmark (bench/stress.ts), in its own process:
// autocannon or Switchyard's LoadGenerator, told over IPC what to run; it answers with the
// completions and a latency histogram (the same sketch for both, so percentiles compare).
import autocannon from 'autocannon';
import { type LatencyHistogramWire, LatencyRecorder } from '../lib/latency-histogram';
import { type StressReport, ZStressAssignment } from '../lib/protocol/stress';
import { LoadGenerator } from '../workers/agent/load/load-generator';

export type ClientCommand = {
  tool: 'autocannon' | 'switchyard';
  url: string;
  /** Closed loop as fast as answers come (max), or paced at `rate` requests/s. */
  mode: 'max' | 'rate';
  connections: number;
  rate?: number;
  durationS: number;
  /** Seconds at the start left out of the latency histogram. */
  warmupS: number;
};

export type ClientResult = {
  /** Responses over the whole run. */
  completed: number;
  errors: number;
  /** Open-loop requests that went out late (Switchyard only). */
  late: number;
  elapsedS: number;
  /** CPU time this process used over the run (user + system), ms. */
  cpuMs: number;
  /** Latency after the warm-up, ms: one histogram (autocannon) or one per interval (Switchyard). */
  histograms: LatencyHistogramWire[];
};

const PATH = '/v1/completions';
const BODY = '{"prompt":"hello","max_tokens":16}';

async function runAutocannon(command: ClientCommand): Promise<ClientResult> {
  const recorder = new LatencyRecorder();
  const started = Date.now();
  const warmupEnds = started + command.warmupS * 1000;
  process.send?.({ started });
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${command.url}${PATH}`,
        method: 'POST',
        body: BODY,
        headers: { 'content-type': 'application/json' },
        connections: command.connections,
        duration: command.durationS,
        ...(command.mode === 'rate' ? { overallRate: command.rate, ignoreCoordinatedOmission: true } : {}),
      },
      (error, done) => (error ? reject(error) : resolve(done)),
    );
    // Raw per-response latencies (float ms), into the same sketch Switchyard uses.
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      if (Date.now() >= warmupEnds) recorder.record(responseTime);
    });
  });
  return {
    completed: result.requests.total,
    errors: result.errors + result.non2xx,
    late: 0,
    elapsedS: (Date.now() - started) / 1000,
    cpuMs: 0,
    histograms: [recorder.drain()],
  };
}

async function runSwitchyard(command: ClientCommand): Promise<ClientResult> {
  const startAt = Date.now() + 200;
  const assignment = ZStressAssignment.parse({
    runId: 'bench',
    deploymentId: 'bench',
    load:
      command.mode === 'max'
        ? { kind: 'closed', concurrency: command.connections, durationS: command.durationS }
        : {
            kind: 'open',
            arrival: 'constant',
            stages: [{ durationS: command.durationS, fromRps: command.rate, toRps: command.rate }],
          },
    share: 1,
    warmupS: command.warmupS,
    request: { method: 'POST', path: PATH, body: BODY, timeoutMs: 30_000 },
    startAt,
  });
  process.send?.({ started: startAt });
  const reports: StressReport[] = [];
  const generator = new LoadGenerator({
    assignment,
    endpoints: [{ url: command.url, replicas: 1 }],
    onReport: (report) => reports.push(report),
  });
  generator.start();
  await generator.done;
  const stats = generator.stats();
  return {
    completed: stats.completed,
    errors: stats.errors,
    late: stats.late,
    elapsedS: (Date.now() - startAt) / 1000,
    cpuMs: 0,
    histograms: reports.filter((report) => report.phase === 'measure').map((report) => report.histogram),
  };
}

process.once('message', async (command: ClientCommand) => {
  const cpu = process.cpuUsage();
  const result = command.tool === 'autocannon' ? await runAutocannon(command) : await runSwitchyard(command);
  const used = process.cpuUsage(cpu);
  result.cpuMs = (used.user + used.system) / 1000;
  process.send?.({ result }, () => process.exit(0));
});
