// Telemetry benchmark: Switchyard's ingest against a bare WebSocket server on the same
// frames, agent → browser latency, and rollup persistence against raw COPY. Everything
// runs on this machine in this run; the table shows ratios to the baselines.
import { fork } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { benchPersistence } from './persistence';
import { log, quantile, ROOT, runLoad, startBenchStack, WARMUP_MS, watchLive } from './stack';

export const ZTelemetryBenchOptions = z.object({
  nodes: z.coerce.number().int().min(1).max(20_000),
  duration: z.coerce.number().int().min(5).max(600),
  hosts: z.coerce.number().int().min(1).max(8),
  skipPersistence: z.boolean(),
});
export type TelemetryBenchOptions = z.infer<typeof ZTelemetryBenchOptions>;

/** Runs the telemetry suite and prints its table. */
export async function runTelemetryBench(options: TelemetryBenchOptions): Promise<void> {
  log(
    `starting Postgres; fleet of ${options.nodes} agents × 8 GPUs, ${options.hosts} load processes, ${options.duration} s per phase`,
  );
  const stack = await startBenchStack(options.nodes);
  const { url, cookie, nodes, pool } = stack;
  const load = (mode: 'paced' | 'max', target: 'switchyard' | 'bare', at = url) =>
    runLoad({ url: at, nodes, mode, target, hosts: options.hosts, durationS: options.duration });
  const live = await watchLive(stack);

  const metric = async (name: string) => {
    const text = await (await fetch(`${url}/metrics`, { headers: { cookie } })).text();
    return Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1] ?? 0);
  };

  log('phase 1: every agent sends one frame a second (the real rate)');
  setTimeout(() => {
    live.measuring = true;
  }, WARMUP_MS + 3000);
  const rowsBefore = await metric('switchyard_rollup_rows_written_total');
  const paced = await load('paced', 'switchyard');
  live.measuring = false;
  // Rollups are written as 10 s buckets close; give the last ones time to land.
  await new Promise((r) => setTimeout(r, 14_000));
  const rowsAfter = await metric('switchyard_rollup_rows_written_total');
  const pacedRowsPerSecond = (rowsAfter - rowsBefore) / (options.duration + WARMUP_MS / 1000);
  const delays = live.delays.sort((a, b) => a - b);

  log('phase 2: every agent keeps 4 frames in flight (as fast as the server acknowledges)');
  const max = await load('max', 'switchyard');
  live.close();
  stack.server.kill('SIGTERM');
  await new Promise((r) => stack.server.once('exit', r));

  log('phase 3: the same frames, as fast as acknowledged, to a bare WebSocket server that only parses them');
  const bare = fork(path.join(ROOT, 'bench/bare-ws-server.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
  });
  const barePort = await new Promise<number>((resolve) =>
    bare.once('message', (m: { port: number }) => resolve(m.port)),
  );
  const ceiling = await load('max', 'bare', `http://127.0.0.1:${barePort}`);
  bare.kill();

  let persistence: Awaited<ReturnType<typeof benchPersistence>> | null = null;
  if (!options.skipPersistence) {
    log('phase 4: rollup rows through Switchyard’s writer against raw COPY of the same rows');
    persistence = await benchPersistence(pool, nodes);
  }
  await stack.stop();

  const fmt = (n: number | null, digits = 0) =>
    n === null ? '—' : n.toLocaleString('en-US', { maximumFractionDigits: digits });
  const rows: [string, string, string, string][] = [
    ['offered load (paced, 1 Hz per agent)', `${fmt(options.nodes * 8)} samples/s`, '', ''],
    [
      'GPU samples/s sustained at 1 Hz',
      fmt(paced.samplesPerSecond),
      '',
      `${fmt((paced.samplesPerSecond / (options.nodes * 8)) * 100, 1)} % of offered`,
    ],
    ['agent → browser latency p50', `${fmt(quantile(delays, 0.5))} ms`, '', `${delays.length} updates`],
    ['agent → browser latency p99', `${fmt(quantile(delays, 0.99))} ms`, '', 'target < 250 ms'],
    ['ack latency p99 at 1 Hz (journal commit)', `${fmt(paced.ackP99)} ms`, '', ''],
    [
      'GPU samples/s, max (4 in flight per agent)',
      fmt(max.samplesPerSecond),
      fmt(ceiling.samplesPerSecond),
      `${fmt(max.samplesPerSecond / ceiling.samplesPerSecond, 2)}× bare WebSocket`,
    ],
    ['rollup rows/s written at 1 Hz', fmt(pacedRowsPerSecond), '', '10 s + 1 min rows'],
  ];
  if (persistence) {
    rows.push([
      'rollup rows/s, bulk (writer vs COPY)',
      fmt(persistence.oursRowsPerSecond),
      fmt(persistence.copyRowsPerSecond),
      `${fmt(persistence.oursRowsPerSecond / persistence.copyRowsPerSecond, 2)}× COPY`,
    ]);
  }
  const widths = [44, 18, 18, 26];
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' ');
  process.stdout.write(
    `\n${line(['measure', 'Switchyard', 'baseline', 'ratio / note'])}\n${'-'.repeat(108)}\n`,
  );
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
  process.stdout.write(`\nfailed frames: paced ${paced.failed}, max ${max.failed}, bare ${ceiling.failed}\n`);

  const results = {
    at: new Date().toISOString(),
    options,
    paced,
    max,
    ceiling,
    delays: { p50: quantile(delays, 0.5), p99: quantile(delays, 0.99), n: delays.length },
    pacedRowsPerSecond,
    persistence,
  };
  await fs.mkdir(path.join(ROOT, 'bench/results'), { recursive: true });
  await fs.writeFile(
    path.join(ROOT, 'bench/results', `telemetry-${Date.now()}.json`),
    JSON.stringify(results, null, 2),
  );
}
