import { afterEach, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../sources/simulator/random';
import { ConstantArrivals, PoissonArrivals, RateSchedule } from '../rate-schedule';
import { assignment, merged, runGenerator, startTarget, sum } from './support';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

function arrivalsOf(process: { next(): number }): number[] {
  const times: number[] = [];
  for (let t = process.next(); t !== Number.POSITIVE_INFINITY; t = process.next()) times.push(t);
  return times;
}

const countBetween = (times: number[], fromMs: number, toMs: number) =>
  times.filter((t) => t >= fromMs && t < toMs).length;

describe('arrival schedule', () => {
  it('spaces constant arrivals evenly at the planned rate, scaled by the share', () => {
    const times = arrivalsOf(
      new ConstantArrivals(new RateSchedule([{ durationS: 10, fromRps: 100, toRps: 100 }], 0.5)),
    );
    expect(times).toHaveLength(500);
    expect(times[0]).toBeCloseTo(10, 6);
    for (let i = 1; i < times.length; i++)
      expect((times[i] as number) - (times[i - 1] as number)).toBeCloseTo(20, 6);
  });

  it('follows ramp stages: the count in any window is the integral of the rate', () => {
    const schedule = new RateSchedule(
      [
        { durationS: 10, fromRps: 0, toRps: 100 },
        { durationS: 5, fromRps: 100, toRps: 100 },
        { durationS: 5, fromRps: 100, toRps: 20 },
      ],
      1,
    );
    expect(schedule.totalCount).toBeCloseTo(500 + 500 + 300, 6);
    const times = arrivalsOf(new ConstantArrivals(schedule));
    expect(times).toHaveLength(1300);
    // The ramp from 0: a quarter of its 500 requests come in the first half.
    expect(countBetween(times, 0, 5000)).toBe(125);
    expect(countBetween(times, 5000, 10_000)).toBe(375);
    expect(countBetween(times, 10_000, 15_000)).toBe(500);
    // Ramping down: 100 → 60 rps over the first 2.5 s (200 requests), 60 → 20 over the rest (100).
    expect(countBetween(times, 15_000, 17_500)).toBe(200);
    expect(countBetween(times, 17_500, 20_000)).toBe(100);
    expect(schedule.meanRps(9000, 10_000)).toBeCloseTo(95, 6);
    expect(schedule.rateAt(17_500)).toBeCloseTo(60, 6);
  });

  it('draws Poisson arrivals at the planned rate with exponential gaps', () => {
    const schedule = new RateSchedule([{ durationS: 100, fromRps: 200, toRps: 200 }], 1);
    const times = arrivalsOf(new PoissonArrivals(schedule, mulberry32(42)));
    // 20 000 expected, standard deviation ~141: 2 % is over four of them.
    expect(Math.abs(times.length - 20_000) / 20_000).toBeLessThan(0.02);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((a, b) => a + (b - mean) ** 2, 0) / gaps.length);
    expect(mean).toBeCloseTo(5, 0);
    // An exponential's coefficient of variation is 1 (evenly spaced arrivals have 0).
    expect(sd / mean).toBeGreaterThan(0.95);
    expect(sd / mean).toBeLessThan(1.05);
  });

  it('follows a ramp with Poisson arrivals too', () => {
    const schedule = new RateSchedule([{ durationS: 100, fromRps: 0, toRps: 400 }], 1);
    const times = arrivalsOf(new PoissonArrivals(schedule, mulberry32(3)));
    expect(Math.abs(countBetween(times, 0, 50_000) - 5000) / 5000).toBeLessThan(0.05);
    expect(Math.abs(countBetween(times, 50_000, 100_000) - 15_000) / 15_000).toBeLessThan(0.03);
  });
});

describe('achieved rate against a real HTTP target', () => {
  it('sends constant arrivals at the target rate, second by second', async () => {
    const target = await startTarget();
    cleanups.push(() => target.close());
    const { reports } = await runGenerator({
      assignment: assignment({
        kind: 'open',
        arrival: 'constant',
        stages: [{ durationS: 4, fromRps: 500, toRps: 500 }],
      }),
      endpoints: [{ url: target.url, replicas: 1 }],
    });
    expect(sum(reports, 'sent')).toBe(2000);
    expect(sum(reports, 'completed')).toBe(2000);
    const full = reports.filter((report) => !report.done);
    expect(full).toHaveLength(4);
    for (const report of full) {
      expect(report.targetRps).toBeCloseTo(500, 6);
      // Within a few %: a report timer that fires a little late moves a few sends across.
      expect(Math.abs(report.sent - 500) / 500).toBeLessThan(0.05);
    }
  });

  it('sends Poisson arrivals at the target rate', async () => {
    const target = await startTarget();
    cleanups.push(() => target.close());
    const { reports } = await runGenerator({
      assignment: assignment({
        kind: 'open',
        arrival: 'poisson',
        stages: [{ durationS: 4, fromRps: 500, toRps: 500 }],
      }),
      endpoints: [{ url: target.url, replicas: 1 }],
      random: mulberry32(11),
    });
    // Seeded: 2000 ± a few %, the same every run.
    expect(Math.abs(sum(reports, 'sent') - 2000) / 2000).toBeLessThan(0.04);
    expect(sum(reports, 'completed')).toBe(sum(reports, 'sent'));
    expect(sum(reports, 'errors')).toBe(0);
  });

  it('ramps through stages, reports warm-up seconds as such, and takes only its share', async () => {
    const target = await startTarget();
    cleanups.push(() => target.close());
    const { reports } = await runGenerator({
      assignment: assignment(
        {
          kind: 'open',
          arrival: 'constant',
          stages: [
            { durationS: 2, fromRps: 200, toRps: 600 },
            { durationS: 2, fromRps: 600, toRps: 600 },
          ],
        },
        { share: 0.5, warmupS: 1 },
      ),
      endpoints: [{ url: target.url, replicas: 1 }],
    });
    const full = reports.filter((report) => !report.done);
    expect(full.map((report) => report.targetRps)).toEqual([150, 250, 300, 300]);
    expect(full.map((report) => report.phase)).toEqual(['warmup', 'measure', 'measure', 'measure']);
    for (const report of full) {
      expect(Math.abs(report.sent - report.targetRps)).toBeLessThanOrEqual(
        Math.max(5, report.targetRps * 0.05),
      );
    }
    expect(sum(reports, 'sent')).toBe(1000);
    expect(reports.map((report) => report.seq)).toEqual(reports.map((_, i) => i + 1));
    expect(reports.at(-1)?.done).toBe(true);
  });

  it('joins a run already under way: what was due before is skipped, and seconds stay aligned', async () => {
    const target = await startTarget();
    cleanups.push(() => target.close());
    const startAt = Date.now() - 1500;
    const { reports, generator } = await runGenerator({
      assignment: assignment(
        { kind: 'open', arrival: 'constant', stages: [{ durationS: 3, fromRps: 100, toRps: 100 }] },
        { startAt },
      ),
      endpoints: [{ url: target.url, replicas: 1 }],
    });
    const { skipped } = generator.stats();
    expect(skipped).toBeGreaterThanOrEqual(150);
    expect(skipped).toBeLessThan(160);
    expect(sum(reports, 'sent')).toBe(300 - skipped);
    expect(reports[0]?.intervalStart).toBe(startAt + 1000);
    expect(reports.every((report) => (report.intervalStart - startAt) % 1000 === 0)).toBe(true);
  });

  it('runs ceil(concurrency × share) closed-loop workers and counts refused connections as errors', async () => {
    const target = await startTarget({ slots: 2, serviceMs: () => 20 });
    cleanups.push(() => target.close());
    const { reports, generator } = await runGenerator({
      assignment: assignment({ kind: 'closed', concurrency: 5, durationS: 2 }, { share: 0.3 }),
      endpoints: [{ url: target.url, replicas: 1 }],
    });
    // Two workers (⌈1.5⌉) against two slots of 20 ms: about 100 requests a second, none queued.
    expect(generator.stats().connections).toBe(2);
    expect(sum(reports, 'completed')).toBeGreaterThan(150);
    expect(sum(reports, 'completed')).toBeLessThan(210);
    expect(sum(reports, 'errors')).toBe(0);
    expect(reports.every((report) => report.targetRps === 0)).toBe(true);

    const missing = await runGenerator({
      assignment: assignment(
        { kind: 'closed', concurrency: 1, durationS: 1 },
        { request: { method: 'GET', path: '/v1/completions', headers: {}, timeoutMs: 1000 } },
      ),
      // Nothing listens there: every request fails, and is counted.
      endpoints: [{ url: 'http://127.0.0.1:9', replicas: 1 }],
    });
    expect(sum(missing.reports, 'errors')).toBeGreaterThan(0);
    expect(sum(missing.reports, 'errors')).toBe(sum(missing.reports, 'completed'));
  });

  it('counts non-2xx answers as errors, with their latency', async () => {
    // One slot and no queue: while a request is served, the others are refused with 503.
    const target = await startTarget({ slots: 1, serviceMs: () => 250, maxQueue: 0 });
    cleanups.push(() => target.close());
    const { reports } = await runGenerator({
      assignment: assignment({
        kind: 'open',
        arrival: 'constant',
        stages: [{ durationS: 1, fromRps: 20, toRps: 20 }],
      }),
      endpoints: [{ url: target.url, replicas: 1 }],
    });
    expect(sum(reports, 'completed')).toBe(20);
    // Served at 0, 250, 500 and 750 ms (give or take one); the rest refused.
    expect(sum(reports, 'errors')).toBeGreaterThanOrEqual(15);
    expect(sum(reports, 'errors')).toBeLessThanOrEqual(17);
    const latency = merged(reports);
    expect(latency.count).toBe(20);
    expect(latency.quantile(0.5)).toBeLessThan(50);
    expect(latency.sketch.max).toBeGreaterThan(240);
  });

  it('times out requests that get no answer, counting them as errors with their latency', async () => {
    const target = await startTarget({ slots: 1, serviceMs: () => 5000 });
    cleanups.push(() => target.close());
    const started = Date.now();
    const { reports } = await runGenerator({
      assignment: assignment(
        { kind: 'open', arrival: 'constant', stages: [{ durationS: 1, fromRps: 10, toRps: 10 }] },
        { request: { method: 'POST', path: '/', headers: {}, timeoutMs: 300 } },
      ),
      endpoints: [{ url: target.url, replicas: 1 }],
    });
    expect(sum(reports, 'completed')).toBe(10);
    expect(sum(reports, 'errors')).toBe(10);
    // The run waits for the last request's timeout, not for the target.
    expect(Date.now() - started).toBeLessThan(2500);
    const last = reports.at(-1);
    expect(last?.done).toBe(true);
    const maxLatency = Math.max(...reports.map((report) => report.histogram.max));
    expect(maxLatency).toBeGreaterThanOrEqual(300);
    expect(maxLatency).toBeLessThan(400);
  });
});
