// Telemetry benchmark: Switchyard's ingest against a bare WebSocket server on the same
// frames, agent → browser latency, and rollup persistence against raw COPY. Everything
// runs on this machine in this run; the table shows ratios to the baselines.
import { type ChildProcess, fork } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { io } from 'socket.io-client';
import { z } from 'zod';
import { hashPassword } from '../server/auth/passwords';
import { startEmbeddedPostgres } from '../server/db/embedded-postgres';
import { migrate } from '../server/db/migrate';
import { type BenchNode, createBenchFleet } from './fleet';
import { benchPersistence } from './persistence';

export const ZTelemetryBenchOptions = z.object({
  nodes: z.coerce.number().int().min(1).max(20_000),
  duration: z.coerce.number().int().min(5).max(600),
  hosts: z.coerce.number().int().min(1).max(8),
  skipPersistence: z.boolean(),
});
export type TelemetryBenchOptions = z.infer<typeof ZTelemetryBenchOptions>;

let options: TelemetryBenchOptions;

const ROOT = path.resolve(import.meta.dirname, '..');
const DATA_DIR = path.join(ROOT, '.switchyard-bench');
const PORT = 3295;
const WARMUP_MS = 5_000;
const log = (message: string) => process.stdout.write(`[bench] ${message}\n`);

type HostMessage =
  | { type: 'connected'; count: number; failures: number }
  | { type: 'progress'; acked: number; failed: number }
  | { type: 'done'; acked: number; failed: number; ackP50: number | null; ackP99: number | null };

function quantile(sorted: number[], q: number): number | null {
  return sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Runs the load hosts for one phase; resolves with acked frames per second (after warm-up). */
async function runLoad(
  url: string,
  nodes: BenchNode[],
  mode: 'paced' | 'max',
  target: 'switchyard' | 'bare',
) {
  const hosts: ChildProcess[] = [];
  const exits: Promise<unknown>[] = [];
  const per = Math.ceil(nodes.length / options.hosts);
  const progress = new Map<number, number>();
  const done: Extract<HostMessage, { type: 'done' }>[] = [];
  let connected = 0;
  let connectFailures = 0;
  let hostsReady = 0;
  const allConnected = new Promise<void>((resolve, reject) => {
    for (let h = 0; h < options.hosts; h++) {
      const slice = nodes.slice(h * per, (h + 1) * per);
      const host = fork(path.join(ROOT, 'bench/load-host.ts'), [], {
        execArgv: ['--import', 'tsx'],
        stdio: 'inherit',
      });
      hosts.push(host);
      exits.push(new Promise((r) => host.once('exit', r)));
      host.on('message', (message: HostMessage) => {
        if (message.type === 'connected') {
          connected += message.count;
          connectFailures += message.failures;
          hostsReady += 1;
          if (hostsReady === options.hosts) resolve();
        } else if (message.type === 'progress') progress.set(h, message.acked);
        else done.push(message);
      });
      host.once('exit', (code) => {
        if (hostsReady < options.hosts)
          reject(new Error(`a load process exited (${code}) before its agents connected`));
      });
      host.send({
        url,
        nodes: slice,
        mode,
        target,
        window: 4,
        durationMs: options.duration * 1000 + WARMUP_MS,
      });
    }
  });
  await allConnected;
  log(
    `  ${connected} agents connected${connectFailures > 0 ? `, ${connectFailures} failed to connect` : ''}`,
  );
  const total = () => [...progress.values()].reduce((a, b) => a + b, 0);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const startAcked = total();
  const startAt = Date.now();
  await new Promise((r) => setTimeout(r, options.duration * 1000 - 1000));
  const framesPerSecond = ((total() - startAcked) / (Date.now() - startAt)) * 1000;
  await Promise.all(exits);
  const failed = done.reduce((s, d) => s + d.failed, 0);
  return {
    framesPerSecond,
    samplesPerSecond: framesPerSecond * 8,
    connected,
    connectFailures,
    failed,
    ackP99: Math.max(...done.map((d) => d.ackP99 ?? 0)),
  };
}

/** Runs the telemetry suite and prints its table. */
export async function runTelemetryBench(chosen: TelemetryBenchOptions): Promise<void> {
  options = chosen;
  await fs.rm(DATA_DIR, { recursive: true, force: true });
  await fs.mkdir(DATA_DIR, { recursive: true, mode: 0o755 });
  log(
    `starting Postgres; fleet of ${options.nodes} agents × 8 GPUs, ${options.hosts} load processes, ${options.duration} s per phase`,
  );
  const database = await startEmbeddedPostgres(DATA_DIR, 54369);
  await migrate(database.url);
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  const nodes = await createBenchFleet(pool, options.nodes);
  await pool.query(
    `INSERT INTO "User" (id, username, "passwordHash", role) VALUES (gen_random_uuid()::text, 'bench', $1, 'viewer')`,
    [await hashPassword('bench-password')],
  );

  const server = fork(path.join(ROOT, 'server/headless.ts'), [], {
    // BENCH_PROFILE=1 writes a V8 CPU profile of the server to bench/results/ (where the time goes).
    execArgv: [
      '--import',
      'tsx',
      ...(process.env.BENCH_PROFILE
        ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench/results')}`]
        : []),
    ],
    env: {
      ...process.env,
      PORT: String(PORT),
      HOST: '127.0.0.1',
      DATABASE_URL: database.url,
      SWITCHYARD_DEMO: 'off',
      SWITCHYARD_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve) =>
    server.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()),
  );
  const url = `http://127.0.0.1:${PORT}`;

  // A browser stand-in: watches 100 nodes' live rooms and measures agent → browser delay.
  const login = await fetch(`${url}/api/trpc/auth.login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'bench', password: 'bench-password' }),
  });
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const browser = io(`${url}/live`, { transports: ['websocket'], extraHeaders: { cookie } });
  await new Promise<void>((r) => browser.once('connect', () => r()));
  const watched = nodes.filter((_, i) => i % Math.max(1, Math.floor(nodes.length / 100)) === 0).slice(0, 100);
  for (const n of watched) await browser.emitWithAck('subscribe', `node:${n.nodeId}`);
  const delays: number[] = [];
  let measuring = false;
  browser.on('fleet:gpus', (update: { sampledAt?: number }) => {
    if (measuring && update.sampledAt) delays.push(Date.now() - update.sampledAt);
  });

  const metric = async (name: string) => {
    const text = await (await fetch(`${url}/metrics`, { headers: { cookie } })).text();
    return Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1] ?? 0);
  };

  log('phase 1: every agent sends one frame a second (the real rate)');
  setTimeout(() => {
    measuring = true;
  }, WARMUP_MS + 3000);
  const rowsBefore = await metric('switchyard_rollup_rows_written_total');
  const paced = await runLoad(url, nodes, 'paced', 'switchyard');
  measuring = false;
  // Rollups are written as 10 s buckets close; give the last ones time to land.
  await new Promise((r) => setTimeout(r, 14_000));
  const rowsAfter = await metric('switchyard_rollup_rows_written_total');
  const pacedRowsPerSecond = (rowsAfter - rowsBefore) / (options.duration + WARMUP_MS / 1000);
  delays.sort((a, b) => a - b);

  log('phase 2: every agent keeps 4 frames in flight (as fast as the server acknowledges)');
  const max = await runLoad(url, nodes, 'max', 'switchyard');
  browser.disconnect();
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));

  log('phase 3: the same frames, as fast as acknowledged, to a bare WebSocket server that only parses them');
  const bare = fork(path.join(ROOT, 'bench/bare-ws-server.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
  });
  const barePort = await new Promise<number>((resolve) =>
    bare.once('message', (m: { port: number }) => resolve(m.port)),
  );
  const ceiling = await runLoad(`http://127.0.0.1:${barePort}`, nodes, 'max', 'bare');
  bare.kill();

  let persistence: Awaited<ReturnType<typeof benchPersistence>> | null = null;
  if (!options.skipPersistence) {
    log('phase 4: rollup rows through Switchyard’s writer against raw COPY of the same rows');
    persistence = await benchPersistence(pool, nodes);
  }
  await pool.end();
  await database.stop();

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
  await fs.rm(DATA_DIR, { recursive: true, force: true });
}
