// What the telemetry-path suites share: an embedded Postgres with a fleet of bench nodes,
// a headless server process, a browser stand-in that times live updates, and load
// processes (bench/load-host.ts) hosting the simulated agents.
import { type ChildProcess, fork } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { io } from 'socket.io-client';
import { hashPassword } from '../server/auth/passwords';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../server/db/embedded-postgres';
import { migrate } from '../server/db/migrate';
import { type BenchNode, createBenchFleet } from './fleet';

export const ROOT = path.resolve(import.meta.dirname, '..');
const DATA_DIR = path.join(ROOT, '.switchyard-bench');
const PORT = 3295;
/** Load runs this long before anything is measured (connections settle, JIT warms up). */
export const WARMUP_MS = 5_000;
export const log = (message: string) => process.stdout.write(`[bench] ${message}\n`);

export function quantile(sorted: number[], q: number): number | null {
  return sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export type BenchStack = {
  url: string;
  pool: pg.Pool;
  nodes: BenchNode[];
  cookie: string;
  server: ChildProcess;
  /** Resident memory of the server process now, MiB (from /proc). */
  serverRssMiB: () => Promise<number>;
  /** Stops the server (if still running) and Postgres, and deletes the data. */
  stop: () => Promise<void>;
};

/** Postgres with `nodeCount` bench nodes, a viewer `bench`, and a headless server. */
export async function startBenchStack(nodeCount: number): Promise<BenchStack> {
  await fs.rm(DATA_DIR, { recursive: true, force: true });
  await fs.mkdir(DATA_DIR, { recursive: true, mode: 0o755 });
  const database: EmbeddedDatabase = await startEmbeddedPostgres(DATA_DIR, 54369);
  await migrate(database.url);
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  const nodes = await createBenchFleet(pool, nodeCount);
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
  const login = await fetch(`${url}/api/trpc/auth.login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: url },
    body: JSON.stringify({ username: 'bench', password: 'bench-password' }),
  });
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;

  return {
    url,
    pool,
    nodes,
    cookie,
    server,
    serverRssMiB: async () => {
      const status = await fs.readFile(`/proc/${server.pid}/status`, 'utf8').catch(() => '');
      return Number(status.match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? 0) / 1024;
    },
    stop: async () => {
      if (server.exitCode === null) {
        server.kill('SIGTERM');
        await new Promise((r) => server.once('exit', r));
      }
      await pool.end();
      await database.stop();
      await fs.rm(DATA_DIR, { recursive: true, force: true });
    },
  };
}

/**
 * A browser stand-in: watches the live rooms of up to 100 nodes and records, while
 * `measuring` is on, how long each update took from the agent's sample to the browser.
 */
export async function watchLive(stack: BenchStack, nodes = stack.nodes) {
  const browser = io(`${stack.url}/live`, {
    transports: ['websocket'],
    extraHeaders: { cookie: stack.cookie },
  });
  await new Promise<void>((r) => browser.once('connect', () => r()));
  const watched = nodes.filter((_, i) => i % Math.max(1, Math.floor(nodes.length / 100)) === 0).slice(0, 100);
  for (const n of watched) await browser.emitWithAck('subscribe', `node:${n.nodeId}`);
  const watcher = {
    delays: [] as number[],
    measuring: false,
    close: () => browser.disconnect(),
  };
  browser.on('fleet:gpus', (update: { sampledAt?: number }) => {
    if (watcher.measuring && update.sampledAt) watcher.delays.push(Date.now() - update.sampledAt);
  });
  return watcher;
}

type HostMessage =
  | { type: 'connected'; count: number; failures: number }
  | { type: 'progress'; acked: number; failed: number }
  | {
      type: 'done';
      acked: number;
      failed: number;
      disconnects: number;
      ackP50: number | null;
      ackP99: number | null;
    };

export type LoadOptions = {
  url: string;
  nodes: BenchNode[];
  mode: 'paced' | 'max';
  target: 'switchyard' | 'bare';
  /** Load processes to spread the agents over. */
  hosts: number;
  /** Measured seconds, after WARMUP_MS. */
  durationS: number;
};

/** Runs the load hosts for one phase; resolves with acked frames per second (after warm-up). */
export async function runLoad(options: LoadOptions) {
  const { hosts: hostCount, nodes } = options;
  const exits: Promise<unknown>[] = [];
  const per = Math.ceil(nodes.length / hostCount);
  const progress = new Map<number, number>();
  const done: Extract<HostMessage, { type: 'done' }>[] = [];
  let connected = 0;
  let connectFailures = 0;
  let hostsReady = 0;
  const allConnected = new Promise<void>((resolve, reject) => {
    for (let h = 0; h < hostCount; h++) {
      const slice = nodes.slice(h * per, (h + 1) * per);
      const host = fork(path.join(ROOT, 'bench/load-host.ts'), [], {
        execArgv: ['--import', 'tsx'],
        stdio: 'inherit',
      });
      exits.push(new Promise((r) => host.once('exit', r)));
      host.on('message', (message: HostMessage) => {
        if (message.type === 'connected') {
          connected += message.count;
          connectFailures += message.failures;
          hostsReady += 1;
          if (hostsReady === hostCount) resolve();
        } else if (message.type === 'progress') progress.set(h, message.acked);
        else done.push(message);
      });
      host.once('exit', (code) => {
        if (hostsReady < hostCount)
          reject(new Error(`a load process exited (${code}) before its agents connected`));
      });
      host.send({
        url: options.url,
        nodes: slice,
        mode: options.mode,
        target: options.target,
        window: 4,
        durationMs: options.durationS * 1000 + WARMUP_MS,
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
  await new Promise((r) => setTimeout(r, options.durationS * 1000 - 1000));
  const framesPerSecond = ((total() - startAcked) / (Date.now() - startAt)) * 1000;
  await Promise.all(exits);
  return {
    framesPerSecond,
    samplesPerSecond: framesPerSecond * 8,
    connected,
    connectFailures,
    failed: done.reduce((s, d) => s + d.failed, 0),
    disconnects: done.reduce((s, d) => s + d.disconnects, 0),
    ackP99: Math.max(...done.map((d) => d.ackP99 ?? 0)),
  };
}
