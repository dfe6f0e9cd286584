// Stress-runner benchmark: Switchyard's load generator against autocannon on the same local
// HTTP target. The target and each generator run in their own processes (bench/stress-target.ts,
// bench/stress-client.ts), so no two share an event loop. Reports, as a markdown table:
//   - maximum request rate from one process (both closed loop, same connections);
//   - p50 / p99 at a rate both can hold (both record into the same 1 % sketch);
//   - a target that stalls for 1 s: Switchyard's open-loop p99 next to autocannon's closed-loop p99.
// Run alone with `npx tsx bench/stress.ts`; `npm run bench` calls runStressBench().
import { type ChildProcess, fork } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { binValue, LatencyDistribution, type LatencyHistogramWire } from '../lib/latency-histogram';
import type { ClientCommand, ClientResult } from './stress-client';
import type { TargetCommand } from './stress-target';

const ROOT = path.resolve(import.meta.dirname, '..');
/** The plain target's fixed answer delay, and the slot target's service time. */
const DELAY_MS = 5;
const SLOTS = 16;
const MAX_CONNECTIONS = 100;
/** autocannon's default connections: a closed loop light enough that nothing queues at the target. */
const LIGHT_CONNECTIONS = 10;
const MAX_DURATION_S = 3;
const PACED_DURATION_S = 4;
/**
 * The percentile comparison alternates the tools this many times and pools each tool's
 * histograms: a p99 of a few milliseconds moves with the machine's scheduling, and
 * alternating keeps a slow moment from landing on one tool only.
 */
const LIGHT_ROUNDS = 3;
const WARMUP_S = 1;
/** Stall scenario: a steady rate for 10 s; the target freezes for 1 s, 5 s in. */
const STALL_RATE = 1000;
const STALL_DURATION_S = 10;
const STALL_AFTER_MS = 5000;
const STALL_MS = 1000;
/** autocannon's default; a closed loop keeps this many requests out at a time. */
const STALL_CLOSED_LOOP_CONNECTIONS = 10;

type Target = { url: string; stallAt(epochMs: number): void; stop(): Promise<void> };

function forkTs(file: string): ChildProcess {
  return fork(path.join(ROOT, file), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

async function startTarget(command: TargetCommand): Promise<Target> {
  const child = forkTs('bench/stress-target.ts');
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message: { port: number }) => resolve(message.port));
    child.once('exit', (code) => reject(new Error(`the target exited (${code}) before listening`)));
    child.send(command);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stallAt: (stallAt) => child.send({ stallAt, stallMs: STALL_MS } satisfies TargetCommand),
    stop: async () => {
      child.kill('SIGTERM');
      await exited(child);
    },
  };
}

/** Runs one generator process to the end; `onStarted` hears when its load begins (epoch ms). */
async function runClient(command: ClientCommand, onStarted?: (at: number) => void): Promise<ClientResult> {
  const child = forkTs('bench/stress-client.ts');
  const result = await new Promise<ClientResult>((resolve, reject) => {
    child.on('message', (message: { started?: number; result?: ClientResult }) => {
      if (message.started !== undefined) onStarted?.(message.started);
      if (message.result) resolve(message.result);
    });
    child.once('exit', (code) =>
      reject(new Error(`the ${command.tool} process exited (${code}) without a result`)),
    );
    child.send(command);
  });
  await exited(child);
  return result;
}

function distribution(histograms: LatencyHistogramWire[]): LatencyDistribution {
  const merged = new LatencyDistribution();
  for (const wire of histograms) merged.addWire(wire);
  return merged;
}

/** Requests slower than `ms`, counted from the histograms' bins. */
function slowerThan(histograms: LatencyHistogramWire[], ms: number): number {
  let count = 0;
  for (const wire of histograms) for (const [key, n] of wire.bins) if (binValue(key) >= ms) count += n;
  return count;
}

type Row = { measure: string; autocannon: string; switchyard: string; ratio: string; target: string };

const fmt = (n: number | null, digits = 0) =>
  n === null
    ? '—'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Several rounds of one tool as one: histograms pooled, counts averaged per round. */
function pooled(rounds: ClientResult[]): { completed: number; histograms: LatencyHistogramWire[] } {
  const completed = rounds.reduce((sum, r) => sum + r.completed, 0) / rounds.length;
  return { completed, histograms: rounds.flatMap((r) => r.histograms) };
}

async function compareOn(
  target: Target,
  label: string,
  rows: Row[],
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  const base = { url: target.url, warmupS: 0 };
  log(`  ${label}: autocannon, ${MAX_CONNECTIONS} connections, as fast as answered (${MAX_DURATION_S} s)`);
  const acMax = await runClient({
    ...base,
    tool: 'autocannon',
    mode: 'max',
    connections: MAX_CONNECTIONS,
    durationS: MAX_DURATION_S,
  });
  log(`  ${label}: Switchyard closed loop, ${MAX_CONNECTIONS} workers (${MAX_DURATION_S} s)`);
  const syMax = await runClient({
    ...base,
    tool: 'switchyard',
    mode: 'max',
    connections: MAX_CONNECTIONS,
    durationS: MAX_DURATION_S,
  });
  const acRps = acMax.completed / MAX_DURATION_S;
  const syRps = syMax.completed / MAX_DURATION_S;
  const cpuPerRequest = (result: ClientResult) => (result.cpuMs * 1000) / Math.max(1, result.completed);
  rows.push({
    measure: `max rate, ${label}`,
    autocannon: `${fmt(acRps)} req/s`,
    switchyard: `${fmt(syRps)} req/s`,
    ratio: fmt(syRps / acRps, 2),
    target: '≥ 0.80',
  });
  rows.push({
    measure: `client CPU per request at max rate, ${label}`,
    autocannon: `${fmt(cpuPerRequest(acMax), 1)} µs`,
    switchyard: `${fmt(cpuPerRequest(syMax), 1)} µs`,
    ratio: fmt(cpuPerRequest(syMax) / cpuPerRequest(acMax), 2),
    target: '(lower is better)',
  });

  // A load both hold, measured the same way: both closed loop on autocannon's default 10
  // connections (fewer than the target's slots, so nothing queues there); this is where the
  // percentiles must agree. Then Switchyard open loop at the rate autocannon reached.
  // (autocannon's own pacing, overallRate, sends each connection's share in a burst at the
  // top of every second, which is a different load, so it is not used for this comparison.)
  const light = {
    ...base,
    mode: 'max' as const,
    connections: LIGHT_CONNECTIONS,
    durationS: PACED_DURATION_S,
    warmupS: WARMUP_S,
  };
  log(
    `  ${label}: both closed loop, ${LIGHT_CONNECTIONS} connections, ${LIGHT_ROUNDS} alternating rounds each (${PACED_DURATION_S} s, first ${WARMUP_S} s left out)`,
  );
  const acRounds: ClientResult[] = [];
  const syRounds: ClientResult[] = [];
  for (let round = 0; round < LIGHT_ROUNDS; round++) {
    acRounds.push(await runClient({ ...light, tool: 'autocannon' }));
    syRounds.push(await runClient({ ...light, tool: 'switchyard' }));
  }
  const acLight = pooled(acRounds);
  const syLight = pooled(syRounds);
  const rate = Math.max(100, Math.floor(acLight.completed / PACED_DURATION_S / 100) * 100);
  log(
    `  ${label}: Switchyard open loop at ${rate} req/s (${PACED_DURATION_S} s, first ${WARMUP_S} s left out)`,
  );
  const syOpen = await runClient({ ...light, tool: 'switchyard', mode: 'rate', rate });

  const ac = distribution(acLight.histograms);
  const sy = distribution(syLight.histograms);
  const open = distribution(syOpen.histograms);
  const acLightRps = acLight.completed / PACED_DURATION_S;
  const syLightRps = syLight.completed / PACED_DURATION_S;
  for (const [name, q] of [
    ['p50', 0.5],
    ['p99', 0.99],
  ] as const) {
    const a = ac.quantile(q);
    const s = sy.quantile(q);
    rows.push({
      measure: `${name}, closed loop × ${LIGHT_CONNECTIONS} (${fmt(acLightRps)} vs ${fmt(syLightRps)} req/s), ${label}`,
      autocannon: `${fmt(a, 2)} ms`,
      switchyard: `${fmt(s, 2)} ms`,
      ratio: a && s ? fmt(s / a, 2) : '—',
      target: '0.90–1.10',
    });
  }
  rows.push({
    measure: `p50 / p99, Switchyard open loop at ${fmt(rate)} req/s, ${label}`,
    autocannon: '—',
    switchyard: `${fmt(open.quantile(0.5), 2)} / ${fmt(open.quantile(0.99), 2)} ms`,
    ratio: '',
    target: `${fmt(syOpen.late)} late of ${fmt(syOpen.completed)}`,
  });
  return {
    maxRate: {
      autocannon: acRps,
      switchyard: syRps,
      errors: [acMax.errors, syMax.errors],
      cpuMicrosPerRequest: [cpuPerRequest(acMax), cpuPerRequest(syMax)],
    },
    closedLoopLight: {
      connections: LIGHT_CONNECTIONS,
      autocannon: { rps: acLightRps, p50: ac.quantile(0.5), p99: ac.quantile(0.99), n: ac.count },
      switchyard: { rps: syLightRps, p50: sy.quantile(0.5), p99: sy.quantile(0.99), n: sy.count },
    },
    openLoop: {
      rate,
      switchyard: {
        p50: open.quantile(0.5),
        p99: open.quantile(0.99),
        late: syOpen.late,
        errors: syOpen.errors,
      },
    },
  };
}

export async function runStressBench(log: (line: string) => void): Promise<void> {
  const started = Date.now();
  const rows: Row[] = [];
  const results: Record<string, unknown> = { at: new Date().toISOString() };

  log(`stress runner: plain target answering after ${DELAY_MS} ms`);
  const plain = await startTarget({ kind: 'plain', delayMs: DELAY_MS });
  try {
    results.plain = await compareOn(plain, 'plain target', rows, log);
  } finally {
    await plain.stop();
  }

  log(`stress runner: slot-limited target (${SLOTS} slots × ${DELAY_MS} ms, FIFO queue)`);
  const slots = await startTarget({ kind: 'slots', slots: SLOTS, delayMs: DELAY_MS });
  try {
    results.slots = await compareOn(slots, `${SLOTS}-slot target`, rows, log);
  } finally {
    await slots.stop();
  }

  log(
    `stress runner: ${STALL_RATE} req/s for ${STALL_DURATION_S} s; the target stalls for ${STALL_MS} ms once`,
  );
  const stalling = {
    url: '',
    warmupS: WARMUP_S,
    mode: 'rate' as const,
    rate: STALL_RATE,
    durationS: STALL_DURATION_S,
  };
  const stallResults: Record<string, ClientResult> = {};
  for (const tool of ['autocannon', 'switchyard'] as const) {
    const target = await startTarget({ kind: 'plain', delayMs: DELAY_MS });
    try {
      stallResults[tool] = await runClient(
        { ...stalling, url: target.url, tool, connections: STALL_CLOSED_LOOP_CONNECTIONS },
        (at) => target.stallAt(at + STALL_AFTER_MS),
      );
    } finally {
      await target.stop();
    }
  }
  const acStall = stallResults.autocannon as ClientResult;
  const syStall = stallResults.switchyard as ClientResult;
  const acP99 = distribution(acStall.histograms).quantile(0.99);
  const syP99 = distribution(syStall.histograms).quantile(0.99);
  rows.push({
    measure: `p99 with a ${STALL_MS} ms stall at ${fmt(STALL_RATE)} req/s`,
    autocannon: `${fmt(acP99, 1)} ms (closed loop, ${STALL_CLOSED_LOOP_CONNECTIONS} conn.)`,
    switchyard: `${fmt(syP99, 1)} ms (open loop)`,
    ratio: acP99 && syP99 ? `${fmt(syP99 / acP99, 1)}×` : '—',
    target: 'stall visible (≥ 500 ms)',
  });
  const acSlow = slowerThan(acStall.histograms, STALL_MS / 2);
  const sySlow = slowerThan(syStall.histograms, STALL_MS / 2);
  rows.push({
    measure: `requests ≥ ${STALL_MS / 2} ms in the stall run`,
    autocannon: fmt(acSlow),
    switchyard: `${fmt(sySlow)} (${fmt(syStall.late)} late)`,
    ratio: acSlow > 0 ? `${fmt(sySlow / acSlow, 1)}×` : '—',
    target: `≈ ${fmt((STALL_RATE * STALL_MS) / 2000)} due in the stall's 2nd half`,
  });
  results.stall = {
    rate: STALL_RATE,
    autocannon: { p99: acP99, slow: acSlow, completed: acStall.completed },
    switchyard: { p99: syP99, slow: sySlow, completed: syStall.completed, late: syStall.late },
  };

  const header: Row = {
    measure: 'measure',
    autocannon: 'autocannon',
    switchyard: 'Switchyard',
    ratio: 'ratio',
    target: 'target',
  };
  const cells = (row: Row) => [row.measure, row.autocannon, row.switchyard, row.ratio, row.target];
  log('');
  log(`| ${cells(header).join(' | ')} |`);
  log(
    `|${cells(header)
      .map(() => '---')
      .join('|')}|`,
  );
  for (const row of rows) log(`| ${cells(row).join(' | ')} |`);
  log('');
  log(`stress runner benchmark took ${fmt((Date.now() - started) / 1000, 0)} s`);

  await fs.mkdir(path.join(ROOT, 'bench/results'), { recursive: true });
  await fs.writeFile(
    path.join(ROOT, 'bench/results', `stress-${Date.now()}.json`),
    JSON.stringify({ ...results, rows }, null, 2),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runStressBench((line) => process.stdout.write(`${line}\n`)).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
