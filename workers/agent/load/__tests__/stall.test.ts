import { afterEach, describe, expect, it } from 'vitest';
import type { StressAssignment } from '../../../../lib/protocol/stress';
import { LATE_TOLERANCE_MS } from '../load-generator';
import { merged, assignment as runAssignment, runGenerator, startTarget, sum } from './support';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const STALL_MS = 1000;

/** Runs against a fast target that freezes for a second, 1.5 s into the run. */
async function runWithStall(assignment: StressAssignment, maxConnections?: number) {
  const target = await startTarget({ slots: 256, serviceMs: () => 3 });
  cleanups.push(() => target.close());
  const stall = setTimeout(() => target.stallFor(STALL_MS), assignment.startAt + 1500 - Date.now());
  cleanups.push(async () => clearTimeout(stall));
  const run = await runGenerator({
    assignment,
    endpoints: [{ url: target.url, replicas: 1 }],
    maxConnections,
  });
  return { ...run, distribution: merged(run.reports) };
}

const openLoop = () =>
  runAssignment({ kind: 'open', arrival: 'constant', stages: [{ durationS: 4, fromRps: 200, toRps: 200 }] });

describe('a target that stalls for a second', () => {
  it('shows in the open-loop p99, with the requests held back counted late', async () => {
    // 32 connections: once they are all stuck, the rest wait in the generator (late) and
    // are still measured from when they were due.
    const { reports, distribution, generator } = await runWithStall(openLoop(), 32);

    expect(sum(reports, 'sent')).toBe(800);
    expect(sum(reports, 'completed')).toBe(800);
    expect(sum(reports, 'errors')).toBe(0);
    // A second's worth of requests (200) was due during the stall; the first 32 had connections,
    // and a few more wait while the backlog drains when it ends. The rest of the run never waits.
    const { queued } = generator.stats();
    expect(queued).toBeGreaterThan(150);
    expect(queued).toBeLessThan(300);
    // Each of those went out when the stall ended, far past its time.
    expect(sum(reports, 'late')).toBeGreaterThanOrEqual(queued - 10);
    expect(distribution.quantile(0.99)).toBeGreaterThan(STALL_MS * 0.8);
    expect(distribution.quantile(0.9)).toBeGreaterThan(STALL_MS * 0.4);
    expect(distribution.quantile(0.5)).toBeLessThan(50);
    // The interval holding the stall is where the latency is.
    const worst = reports.reduce((a, b) => (b.histogram.max > a.histogram.max ? b : a));
    expect(worst.intervalStart - (reports[0]?.intervalStart ?? 0)).toBeGreaterThanOrEqual(1000);
    expect(worst.histogram.max).toBeGreaterThan(STALL_MS * 0.9);
  });

  it('shows in the open-loop p99 when every request finds a connection too', async () => {
    const { reports, distribution, generator } = await runWithStall(openLoop());
    expect(sum(reports, 'completed')).toBe(800);
    // Nothing waited for a connection: the whole delay happened at the target.
    expect(generator.stats().queued).toBe(0);
    expect(generator.stats().connections).toBeGreaterThan(150);
    expect(distribution.quantile(0.99)).toBeGreaterThan(STALL_MS * 0.8);
  });

  it('hides from a closed loop, whose workers stop sending while they wait', async () => {
    const { reports, distribution } = await runWithStall(
      runAssignment({ kind: 'closed', concurrency: 8, durationS: 4 }),
    );
    const completed = sum(reports, 'completed');
    expect(completed).toBeGreaterThan(1000);
    expect(sum(reports, 'late')).toBe(0);
    // Only the 8 requests caught in the stall saw it: under 1 % of the samples.
    expect(distribution.count).toBe(completed);
    expect(distribution.quantile(0.99)).toBeLessThan(STALL_MS / 10);
    expect(distribution.sketch.max).toBeGreaterThan(STALL_MS * 0.8);
    expect(LATE_TOLERANCE_MS).toBe(10);
  });
});
