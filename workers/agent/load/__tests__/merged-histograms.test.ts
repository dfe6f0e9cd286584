import { afterEach, describe, expect, it } from 'vitest';
import { LatencyRecorder, RELATIVE_ACCURACY } from '../../../../lib/latency-histogram';
import { lognormalFactor, mulberry32 } from '../../sources/simulator/random';
import { assignment, exactQuantile, merged, runGenerator, startTarget } from './support';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe('merged stress histograms', () => {
  it('give the percentiles of all samples together, within the sketch’s 1 % relative error', async () => {
    // Widely spread service times, so the percentiles sit in very different bins.
    const rng = mulberry32(7);
    const target = await startTarget({ slots: 512, serviceMs: () => 4 * lognormalFactor(rng, 0.9) });
    cleanups.push(() => target.close());

    // Three agents, a third of the load each, starting together like agents of one run.
    const startAt = Date.now() + 300;
    const agents = await Promise.all(
      [1, 2, 3].map((agent) =>
        runGenerator({
          assignment: assignment(
            { kind: 'open', arrival: 'poisson', stages: [{ durationS: 3, fromRps: 300, toRps: 300 }] },
            { share: 1 / 3, startAt },
          ),
          endpoints: [{ url: target.url, replicas: 1 }],
          random: mulberry32(agent),
        }),
      ),
    );

    const reports = agents.flatMap((agent) => agent.reports);
    const all = agents.flatMap((agent) => agent.latencies).sort((a, b) => a - b);
    expect(all.length).toBeGreaterThan(700);
    for (const agent of agents) expect(agent.reports.length).toBeGreaterThanOrEqual(3);
    const fromIntervals = merged(reports);
    expect(fromIntervals.count).toBe(all.length);

    // The same as one histogram fed every sample: merging loses nothing.
    const single = new LatencyRecorder();
    for (const latency of all) single.record(latency);
    const oneHistogram = merged([{ ...reports[0]!, histogram: single.drain() }]);

    for (const q of [0.5, 0.95, 0.99]) {
      const exact = exactQuantile(all, q);
      const estimate = fromIntervals.quantile(q) as number;
      expect(estimate).toBe(oneHistogram.quantile(q));
      expect(Math.abs(estimate - exact) / exact).toBeLessThanOrEqual(RELATIVE_ACCURACY + 1e-9);
    }
  });
});
