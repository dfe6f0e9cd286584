// Flood suite: a fleet of well-behaved agents at 1 Hz, first alone, then beside one
// hostile agent that floods with its single credential (several connections, parallel
// inventories, frames without waiting for acknowledgements). The well-behaved agents'
// acknowledgement delay, the browser's live delay and the server's memory must stay
// where they were without the flood, and no well-behaved agent may be disconnected.
import { fork } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { log, quantile, ROOT, runLoad, startBenchStack, WARMUP_MS, watchLive } from './stack';

export const ZFloodBenchOptions = z.object({
  floodFleet: z.coerce.number().int().min(10).max(20_000),
  duration: z.coerce.number().int().min(5).max(600),
  hosts: z.coerce.number().int().min(1).max(8),
  floodRate: z.coerce.number().int().min(100).max(100_000),
});
export type FloodBenchOptions = z.infer<typeof ZFloodBenchOptions>;

type FloodCounts = {
  sent: number;
  stored: number;
  rateLimited: number;
  otherRefusals: number;
  unanswered: number;
  disconnects: number;
  refusedConnects: number;
};

export async function runFloodBench(options: FloodBenchOptions): Promise<void> {
  log(
    `starting Postgres; ${options.floodFleet} agents × 8 GPUs at 1 Hz, then the same beside one agent sending ${options.floodRate} frames/s`,
  );
  const stack = await startBenchStack(options.floodFleet + 1);
  const fleet = stack.nodes.slice(0, -1);
  const hostile = stack.nodes.at(-1)!;
  const live = await watchLive(stack, fleet);

  /** One phase: the fleet at 1 Hz for `duration` s, with or without a flooding agent. */
  const phase = async (withFlood: 'hostile' | 'backlog' | null) => {
    live.delays.length = 0;
    let rssMax = 0;
    const rssTimer = setInterval(() => {
      void stack.serverRssMiB().then((mib) => {
        rssMax = Math.max(rssMax, mib);
      });
    }, 500);
    const startMeasuring = setTimeout(() => {
      live.measuring = true;
    }, WARMUP_MS + 2000);
    let flood: Promise<FloodCounts> | null = null;
    if (withFlood) {
      // The flood starts once the fleet is connected and warm, and lasts the measured time.
      flood = new Promise((resolve) => {
        setTimeout(() => {
          const flooder = fork(path.join(ROOT, 'bench/flooder.ts'), [], {
            execArgv: ['--import', 'tsx'],
            stdio: 'inherit',
          });
          flooder.once('message', (m: FloodCounts) => resolve(m));
          flooder.send({
            kind: withFlood,
            url: stack.url,
            node: hostile,
            durationMs: options.duration * 1000,
            framesPerSecond: options.floodRate,
            connections: 4,
          });
        }, WARMUP_MS);
      });
    }
    const load = await runLoad({
      url: stack.url,
      nodes: fleet,
      mode: 'paced',
      target: 'switchyard',
      hosts: options.hosts,
      durationS: options.duration,
    });
    clearTimeout(startMeasuring);
    live.measuring = false;
    clearInterval(rssTimer);
    const delays = [...live.delays].sort((a, b) => a - b);
    return {
      load,
      browserP99: quantile(delays, 0.99),
      browserUpdates: delays.length,
      rssMaxMiB: rssMax,
      flood: flood ? await flood : null,
    };
  };

  log('phase 1: the fleet alone');
  const calm = await phase(null);
  log('phase 2: the fleet beside a hostile agent flooding with one credential');
  const flooded = await phase('hostile');
  log('phase 3: the fleet beside an agent draining a backlog at its full replay budget');
  const draining = await phase('backlog');
  // The server has run three phases by now: its memory alone again tells growth from the flood.
  log('phase 4: the fleet alone again');
  const after = await phase(null);
  live.close();
  await stack.stop();

  const fmt = (n: number | null, digits = 0) =>
    n === null ? '—' : n.toLocaleString('en-US', { maximumFractionDigits: digits });
  const ratio = (a: number | null, b: number | null) => (a && b ? `${fmt(b / a, 2)}×` : '—');
  const phases = [calm, flooded, draining, after];
  const cells = (pick: (p: (typeof phases)[number]) => number | null, unit = '') =>
    phases.map((p) => `${fmt(pick(p))}${unit}`);
  const ratios = (pick: (p: (typeof phases)[number]) => number | null) =>
    `${ratio(pick(calm), pick(flooded))} / ${ratio(pick(calm), pick(draining))} / ${ratio(pick(calm), pick(after))}`;
  const rows: string[][] = [
    [
      'fleet samples/s sustained',
      ...cells((p) => p.load.samplesPerSecond),
      ratios((p) => p.load.samplesPerSecond),
    ],
    ['fleet ack p99', ...cells((p) => p.load.ackP99, ' ms'), ratios((p) => p.load.ackP99)],
    ['agent → browser p99', ...cells((p) => p.browserP99, ' ms'), ratios((p) => p.browserP99)],
    ['server memory, max', ...cells((p) => p.rssMaxMiB, ' MiB'), ratios((p) => p.rssMaxMiB)],
    [
      'fleet agents disconnected / frames failed',
      ...phases.map((p) => `${p.load.disconnects} / ${p.load.failed}`),
      'must stay 0 / 0',
    ],
  ];
  const widths = [42, 13, 13, 13, 13, 24];
  const line = (row: string[]) => row.map((c, i) => c.padEnd(widths[i]!)).join(' ');
  process.stdout.write(
    `\n${line(['measure', 'fleet alone', 'hostile', 'backlog', 'alone again', 'ratios to alone'])}\n${'-'.repeat(124)}\n`,
  );
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
  const summary = (name: string, f: FloodCounts) =>
    `${name}: ${fmt(f.sent)} frames sent in ${options.duration} s, ${fmt(f.stored)} stored, ` +
    `${fmt(f.rateLimited)} refused as RATE_LIMITED, ${fmt(f.otherRefusals)} other refusals, ` +
    `${fmt(f.unanswered)} unanswered (connection closed), ${f.disconnects} disconnects, ${f.refusedConnects} refused reconnects\n`;
  process.stdout.write(
    `\n${summary('hostile agent', flooded.flood!)}${summary('backlog agent', draining.flood!)}`,
  );
  await fs.mkdir(path.join(ROOT, 'bench/results'), { recursive: true });
  await fs.writeFile(
    path.join(ROOT, 'bench/results', `flood-${Date.now()}.json`),
    JSON.stringify({ at: new Date().toISOString(), options, calm, flooded, draining, after }, null, 2),
  );
}
