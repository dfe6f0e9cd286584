import { afterEach, describe, expect, it } from 'vitest';
import { LatencyDistribution } from '../../../../../lib/latency-histogram';
import { type DeploymentSample, ZTelemetryFrame } from '../../../../../lib/protocol/agent';
import { MetricsEndpoint } from '../../../__tests__/metrics-endpoint';
import type { AgentLog } from '../../../log';
import { buildTelemetryFrame } from '../../../telemetry-frame';
import { ModelServerSource, type ModelServerSourceOptions } from '../model-server-source';
import {
  type KserveTotals,
  kserveMetrics,
  type TritonTotals,
  tritonMetrics,
  VLLM_E2E_BOUNDS,
  type VllmTotals,
  vllmMetrics,
} from './metrics-text';

class MemoryLog implements AgentLog {
  readonly lines: string[] = [];
  info(message: string) {
    this.lines.push(`info ${message}`);
  }
  warn(message: string) {
    this.lines.push(`warn ${message}`);
  }
  error(message: string) {
    this.lines.push(`error ${message}`);
  }
}

const endpoints: MetricsEndpoint[] = [];
afterEach(async () => {
  while (endpoints.length > 0) await endpoints.pop()?.stop();
});

async function endpoint(...texts: string[]): Promise<MetricsEndpoint> {
  const server = new MetricsEndpoint();
  server.serve(...texts);
  await server.start();
  endpoints.push(server);
  return server;
}

/** A source on a clock that moves one second per sample, and a way to take frames from it. */
function modelServer(urls: string[], options: Partial<ModelServerSourceOptions> = {}) {
  const log = new MemoryLog();
  let now = 1_800_000_000_000;
  const source = new ModelServerSource({
    urls,
    deploymentId: 'dep-chat',
    log,
    now: () => now,
    ...options,
  });
  const next = async (): Promise<DeploymentSample[]> => {
    now += 1000;
    const sample = await source.sample();
    const frame = buildTelemetryFrame(1, 1000, sample);
    expect(frame.success, frame.success ? '' : frame.error.message).toBe(true);
    return ZTelemetryFrame.parse(frame.data).deployments;
  };
  return { source, log, next };
}

/** Per-bucket counts over VLLM_E2E_BOUNDS (+Inf last) with the given counts at bucket positions. */
function e2e(at: Record<number, number>): number[] {
  return Array.from({ length: VLLM_E2E_BOUNDS.length + 1 }, (_, i) => at[i] ?? 0);
}

function add(a: number[], b: number[]): number[] {
  return a.map((value, i) => value + (b[i] ?? 0));
}

const quantile = (sample: DeploymentSample | undefined, q: number) =>
  sample ? LatencyDistribution.fromWire(sample.latencyMs).quantile(q) : null;

describe('ModelServerSource with vLLM', () => {
  const before: VllmTotals = {
    e2e: e2e({ 0: 400, 1: 300, 4: 50 }),
    e2eSumSeconds: 512.5,
    stop: 700,
    length: 50,
    waiting: 0,
    running: 4,
  };
  // One second later: 10 requests in (0.3, 0.5] s, 5 in (1, 1.5] s and 1 beyond the last bound (60 s).
  const interval = e2e({ 1: 10, 4: 5, 15: 1 });
  const after: VllmTotals = {
    e2e: add(before.e2e, interval),
    e2eSumSeconds: before.e2eSumSeconds + 4 + 6.5 + 75,
    stop: before.stop + 14,
    length: before.length + 2,
    waiting: 3,
    running: 12,
  };

  it('takes the first scrape as a baseline, then reports the interval between scrapes', async () => {
    const server = await endpoint(vllmMetrics(before), vllmMetrics(after), vllmMetrics(after));
    const { next, log } = modelServer([server.url]);

    expect(await next()).toEqual([]);
    const [sample] = await next();
    expect(sample).toMatchObject({ deploymentId: 'dep-chat', requests: 16, errors: 0, queueDepth: 3 });
    expect(sample?.latencyMs.count).toBe(16);
    // The server's own sum is exact; the bucket mid-points would not be.
    expect(sample?.latencyMs.sum).toBeCloseTo(85_500, 6);
    // Each bucket's requests sit at its geometric mid-point; the overflow at the last bound.
    expect(quantile(sample, 0.5)).toBeGreaterThan(300);
    expect(quantile(sample, 0.5)).toBeLessThan(500);
    expect(quantile(sample, 0.8)).toBeGreaterThan(1000);
    expect(quantile(sample, 0.8)).toBeLessThan(1500);
    expect(sample?.latencyMs.max).toBeCloseTo(60_000, -2);

    // Nothing happened since: an empty interval, not a missing one.
    const [quiet] = await next();
    expect(quiet).toMatchObject({ requests: 0, errors: 0, queueDepth: 3 });
    expect(quiet?.latencyMs.count).toBe(0);
    expect(log.lines.some((line) => line.includes('looks like vllm'))).toBe(true);
  });

  it('treats counters that went down as a restart: the current values are the interval', async () => {
    const restarted: VllmTotals = {
      e2e: e2e({ 0: 3, 2: 1 }),
      e2eSumSeconds: 1.4,
      stop: 4,
      length: 0,
      error: 1,
      waiting: 1,
      running: 1,
    };
    const server = await endpoint(vllmMetrics(before), vllmMetrics(after), vllmMetrics(restarted));
    const { next, log } = modelServer([server.url]);
    await next();
    await next();
    const [sample] = await next();
    expect(sample).toMatchObject({ requests: 4, errors: 1, queueDepth: 1 });
    expect(sample?.latencyMs.count).toBe(4);
    expect(sample?.latencyMs.sum).toBeCloseTo(1400, 6);
    expect(log.lines.some((line) => line.includes('restarted'))).toBe(true);
  });

  it('skips an interval it cannot scrape and catches up on the next one', async () => {
    const middle: VllmTotals = { ...after, e2e: add(before.e2e, e2e({ 1: 4 })), e2eSumSeconds: 514.1 };
    const server = await endpoint(vllmMetrics(before));
    const pages = [vllmMetrics(before), '', vllmMetrics(middle), vllmMetrics(after)];
    server.respond = (scrape) =>
      scrape === 1 ? { status: 500, body: 'boom' } : { body: pages[scrape] ?? '' };
    const { next, log } = modelServer([server.url]);

    await next();
    expect(await next()).toEqual([]);
    expect((await next())[0]?.requests).toBe(4);
    expect((await next())[0]?.requests).toBe(12);
    expect(log.lines.filter((line) => line.includes('cannot scrape'))).toHaveLength(1);
    expect(log.lines.some((line) => line.includes('scraping') && line.includes('again'))).toBe(true);
  });

  it('adds several replicas on this node into one deployment sample', async () => {
    const a = await endpoint(vllmMetrics(before), vllmMetrics(after));
    const b = await endpoint(vllmMetrics(before, 'other'), vllmMetrics({ ...after, waiting: 2 }, 'other'));
    const { next } = modelServer([a.url, b.url]);
    await next();
    const samples = await next();
    expect(samples).toHaveLength(1);
    expect(samples[0]).toMatchObject({ requests: 32, queueDepth: 5 });
    expect(samples[0]?.latencyMs.count).toBe(32);
  });

  it('uses the deployment assigned to this node when none is given, and says when it cannot', async () => {
    const server = await endpoint(vllmMetrics(before), vllmMetrics(after));
    const { source, next, log } = modelServer([server.url], { deploymentId: undefined });
    await next();
    expect(await next()).toEqual([]);
    expect(log.lines.some((line) => line.includes('pass --deployment-id'))).toBe(true);

    source.applyAssignments({
      gpus: [
        { uuid: 'GPU-a', deploymentId: 'dep-7', jobId: null },
        { uuid: 'GPU-b', deploymentId: 'dep-7', jobId: null },
        { uuid: 'GPU-c', deploymentId: null, jobId: 'job-1' },
      ],
      deployments: [],
    });
    expect((await next())[0]?.deploymentId).toBe('dep-7');
  });
});

describe('ModelServerSource with Triton', () => {
  const before: TritonTotals = { success: 1000, failure: 3, requestUs: 45_000_000, queueUs: 2_000_000 };

  it('records the interval’s mean latency when Triton exposes no histogram', async () => {
    const after: TritonTotals = {
      success: 1040,
      failure: 5,
      // 40 requests taking 2.4 s in all: 60 ms each on average; 1.5 s spent queued.
      requestUs: before.requestUs + 2_400_000,
      queueUs: before.queueUs + 1_500_000,
    };
    const server = await endpoint(tritonMetrics(before), tritonMetrics(after));
    const { next } = modelServer([server.url], { kind: 'auto' });
    await next();
    const [sample] = await next();
    expect(sample).toMatchObject({ requests: 42, errors: 2 });
    // 1.5 s of queueing during a 1 s interval: 1.5 requests waiting on average (Little's law).
    expect(sample?.queueDepth).toBeCloseTo(1.5, 6);
    expect(sample?.latencyMs.count).toBe(40);
    expect(sample?.latencyMs.sum).toBeCloseTo(2400, 6);
    expect(quantile(sample, 0.5)).toBeCloseTo(60, 0);
    expect(quantile(sample, 0.99)).toBeCloseTo(60, 0);
  });

  it('uses the first-response histogram and the pending gauge when they exist', async () => {
    const withHistogram = {
      ...before,
      pending: 0,
      firstResponse: [900, 100, 3, 0, 0],
      firstResponseSumMs: 61_000,
    };
    const after: TritonTotals = {
      ...withHistogram,
      success: 1010,
      requestUs: before.requestUs + 1_000_000,
      pending: 7,
      // 8 more at ≤ 100 ms and 2 in (2000, 5000] ms
      firstResponse: [908, 100, 3, 2, 0],
      firstResponseSumMs: 61_000 + 8 * 50 + 2 * 3000,
    };
    const server = await endpoint(tritonMetrics(withHistogram), tritonMetrics(after));
    const { next } = modelServer([server.url], { kind: 'triton' });
    await next();
    const [sample] = await next();
    expect(sample).toMatchObject({ requests: 10, errors: 0, queueDepth: 7 });
    expect(sample?.latencyMs.count).toBe(10);
    expect(sample?.latencyMs.sum).toBeCloseTo(6400, 6);
    expect(quantile(sample, 0.5)).toBeLessThan(100);
    expect(quantile(sample, 0.95)).toBeGreaterThan(2000);
  });
});

describe('ModelServerSource with KServe', () => {
  it('reads the predict histogram, and 5xx responses as errors', async () => {
    const empty = Array.from({ length: 15 }, () => 0);
    const before: KserveTotals = {
      predict: empty.map((_, i) => (i === 2 ? 90 : 0)),
      predictSumSeconds: 1.8,
      ok: 88,
      serverErrors: 2,
    };
    const after: KserveTotals = {
      predict: before.predict.map((count, i) => count + (i === 2 ? 6 : i === 7 ? 2 : 0)),
      predictSumSeconds: 1.8 + 6 * 0.02 + 2 * 0.4,
      ok: 95,
      serverErrors: 3,
    };
    const server = await endpoint(kserveMetrics(before), kserveMetrics(after));
    const { next, log } = modelServer([server.url]);
    await next();
    const [sample] = await next();
    expect(sample).toMatchObject({ requests: 8, errors: 1, queueDepth: 0 });
    expect(sample?.latencyMs.count).toBe(8);
    expect(sample?.latencyMs.sum).toBeCloseTo(920, 6);
    expect(quantile(sample, 0.5)).toBeGreaterThan(10);
    expect(quantile(sample, 0.5)).toBeLessThan(25);
    expect(log.lines.some((line) => line.includes('looks like kserve'))).toBe(true);
  });
});
