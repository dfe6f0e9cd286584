import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { LatencyRecorder } from '../../../../lib/latency-histogram';
import { ZTelemetryFrame } from '../../../../lib/protocol/agent';
import { MetricsEndpoint } from '../../__tests__/metrics-endpoint';
import type { AgentLog } from '../../log';
import { buildTelemetryFrame } from '../../telemetry-frame';
import { mergeDeployments } from '../composite-source';
import { createSource } from '../create-source';
import { vllmMetrics } from '../model-server/__tests__/metrics-text';

const FAKE_NVIDIA_SMI = fileURLToPath(
  new URL('../nvidia-smi/__tests__/fake-nvidia-smi.mjs', import.meta.url),
);
const SYNTHETIC_CAPTURE = fileURLToPath(
  new URL('../nvidia-smi/__fixtures__/synthetic-4x-h100-masked.txt', import.meta.url),
);
const MASKED = 'GPU-00000000-0000-0000-0000-000000000000';

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

/** dcgm-exporter lines for GPUs 0–3 with masked UUIDs, as on the machine the capture came from. */
function dcgmText(xidOnGpu3: number): string {
  const lines: string[] = ['# TYPE DCGM_FI_DEV_GPU_UTIL gauge'];
  for (let gpu = 0; gpu < 4; gpu++) {
    const labels = `gpu="${gpu}",UUID="${MASKED}",device="nvidia${gpu}",modelName="NVIDIA H100 80GB HBM3"`;
    lines.push(`DCGM_FI_DEV_GPU_UTIL{${labels}} ${50 + gpu}`);
    lines.push(`DCGM_FI_DEV_XID_ERRORS{${labels}} ${gpu === 3 ? xidOnGpu3 : 0}`);
    lines.push(`DCGM_FI_DEV_POWER_USAGE{${labels}} 111.5`);
  }
  return `${lines.join('\n')}\n`;
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

function withFakeNvidiaSmi<T>(run: () => Promise<T>): Promise<T> {
  const saved = {
    capture: process.env.FAKE_NVIDIA_SMI_CAPTURE,
    section: process.env.FAKE_NVIDIA_SMI_SECTION,
  };
  process.env.FAKE_NVIDIA_SMI_CAPTURE = SYNTHETIC_CAPTURE;
  process.env.FAKE_NVIDIA_SMI_SECTION = 'load';
  return run().finally(() => {
    for (const [key, value] of [
      ['FAKE_NVIDIA_SMI_CAPTURE', saved.capture],
      ['FAKE_NVIDIA_SMI_SECTION', saved.section],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
}

describe('combined sources', () => {
  it('merges nvidia-smi and dcgm per GPU, the first named winning where both have a value', async () => {
    const dcgm = await endpoint(dcgmText(0), dcgmText(43));
    await withFakeNvidiaSmi(async () => {
      const log = new MemoryLog();
      const { source, labels } = createSource({
        sources: ['nvidia-smi', 'dcgm'],
        hostname: 'gpu-node-1',
        log,
        nvidiaSmiCommand: `node ${FAKE_NVIDIA_SMI}`,
        dcgmUrl: dcgm.url,
      });
      expect(labels).toEqual({ source: 'nvidia-smi,dcgm' });
      expect(source.cumulative).toBe(true);

      const inventory = await source.inventory();
      expect(inventory.map((gpu) => gpu.uuid)).toEqual([0, 1, 2, 3].map((i) => `${MASKED}-${i}`));

      await source.sample(1000);
      const frame = ZTelemetryFrame.parse(
        (buildTelemetryFrame(1, 1000, await source.sample(1000)) as { data: unknown }).data,
      );
      // nvidia-smi's readings win; GPU 2's utilization is [N/A] there, so dcgm's fills it.
      expect(frame.gpus.map((gpu) => gpu.utilizationPct)).toEqual([100, 97, 52, 64]);
      expect(frame.gpus[0]?.powerW).toBe(631.95);
      // Only dcgm knows XIDs: GPU 3's last XID changed from 0 to 43.
      expect(frame.gpus.map((gpu) => gpu.xidErrors)).toEqual([0, 0, 0, 1]);
      expect(log.lines.filter((line) => line.startsWith('warn') && line.includes('utilizationPct'))).toEqual(
        [],
      );
    });
  });

  it('still sends the model server’s traffic while the GPU source fails', async () => {
    const base = {
      e2e: Array.from({ length: 16 }, () => 0),
      e2eSumSeconds: 0,
      stop: 0,
      length: 0,
      waiting: 0,
      running: 0,
    };
    const server = await endpoint(
      vllmMetrics({ ...base, stop: 10, e2e: base.e2e.map((_, i) => (i === 0 ? 10 : 0)), e2eSumSeconds: 2 }),
      vllmMetrics({ ...base, stop: 13, e2e: base.e2e.map((_, i) => (i === 0 ? 13 : 0)), e2eSumSeconds: 2.6 }),
    );
    const log = new MemoryLog();
    const { source } = createSource({
      sources: ['nvidia-smi', 'model-server'],
      hostname: 'gpu-node-1',
      log,
      nvidiaSmiCommand: '/nonexistent/nvidia-smi',
      metricsUrls: [server.url],
      deploymentId: 'dep-chat',
    });
    await source.sample(1000);
    const sample = await source.sample(1000);
    expect(sample.gpus).toEqual([]);
    expect(sample.deployments).toMatchObject([{ deploymentId: 'dep-chat', requests: 3 }]);
    await source.sample(1000);
    // Said once when it starts failing, not every interval.
    const failing = log.lines.filter((line) => line.includes('sending what the other sources read'));
    expect(failing).toHaveLength(1);
    expect(failing[0]).toContain('/nonexistent/nvidia-smi: not found');
    await expect(source.inventory()).rejects.toThrow(/not found/);
  });

  it('adds two samples of the same deployment together', () => {
    const a = new LatencyRecorder();
    a.record(100, 3);
    const b = new LatencyRecorder();
    b.record(100, 1);
    b.record(900, 1);
    const merged = mergeDeployments([
      { deploymentId: 'd', requests: 3, errors: 0, queueDepth: 1, latencyMs: a.drain() },
      { deploymentId: 'e', requests: 1, errors: 0, queueDepth: 0, latencyMs: new LatencyRecorder().drain() },
      { deploymentId: 'd', requests: 2, errors: 1, queueDepth: 2, latencyMs: b.drain() },
    ]);
    expect(merged).toHaveLength(2);
    expect(merged[0]).toMatchObject({ deploymentId: 'd', requests: 5, errors: 1, queueDepth: 3 });
    expect(merged[0]?.latencyMs).toMatchObject({ count: 5, sum: 1300, min: 100, max: 900 });
    expect(merged[0]?.latencyMs.bins.reduce((total, [, count]) => total + count, 0)).toBe(5);
  });

  it('refuses the simulator beside a real GPU source', () => {
    expect(() =>
      createSource({ sources: ['simulator', 'dcgm'], hostname: 'h', log: new MemoryLog() }),
    ).toThrow(/simulator invents its own GPUs/);
  });
});
