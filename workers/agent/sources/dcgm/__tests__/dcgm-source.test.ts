import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ZInventory, ZTelemetryFrame } from '../../../../../lib/protocol/agent';
import { MetricsEndpoint } from '../../../__tests__/metrics-endpoint';
import { type AgentLog, silentLog } from '../../../log';
import { buildTelemetryFrame } from '../../../telemetry-frame';
import { DcgmSource } from '../dcgm-source';

const FIXTURE = readFileSync(new URL('../__fixtures__/dcgm-exporter-2x-h100.txt', import.meta.url), 'utf8');
const GPU0 = 'GPU-5d5f3c7e-9c1b-4e2a-8f3d-2b7c9a1e4f60';
const GPU1 = 'GPU-a41b7e02-63d8-4c55-b0f1-7e9d2c3a8b14';

/** The fixture with one GPU's value of one field changed. */
function withValue(text: string, field: string, gpu: number, value: number): string {
  const line = new RegExp(`^(${field}\\{gpu="${gpu}",[^\\n]*\\}) \\S+$`, 'm');
  expect(line.test(text), `${field} of GPU ${gpu} in the fixture`).toBe(true);
  return text.replace(line, `$1 ${value}`);
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

async function frameOf(source: DcgmSource) {
  const built = buildTelemetryFrame(1, 1000, await source.sample());
  expect(built.success, built.success ? '' : built.error.message).toBe(true);
  return ZTelemetryFrame.parse(built.data);
}

describe('DcgmSource', () => {
  it('maps the exporter’s fields per GPU, by its gpu and UUID labels', async () => {
    const server = await endpoint(FIXTURE);
    const source = new DcgmSource({ url: server.url, log: silentLog });
    const frame = await frameOf(source);

    expect(frame.gpus).toHaveLength(2);
    expect(frame.gpus[0]).toEqual({
      uuid: GPU0,
      utilizationPct: 87,
      memoryUsedMiB: 61234,
      // used + free + reserved
      memoryTotalMiB: 81559,
      powerW: 612.337,
      temperatureC: 71,
      smClockMHz: 1980,
      xidErrors: 0,
      eccErrors: 0,
      remappedRowsPending: false,
      remappedRowsFailed: false,
    });
    // In MIG mode DCGM has no whole-GPU utilization; instance series are not mistaken for it.
    expect(frame.gpus[1]).toMatchObject({
      uuid: GPU1,
      utilizationPct: 0,
      memoryUsedMiB: 18942,
      smClockMHz: 1755,
    });

    const inventory = ZInventory.parse({
      protocolVersion: 1,
      hostname: 'gpu-node-17',
      agentVersion: 'test',
      gpus: await source.inventory(),
    });
    expect(inventory.gpus).toEqual([
      { index: 0, uuid: GPU0, name: 'NVIDIA H100 80GB HBM3', memoryTotalMiB: 81559 },
      { index: 1, uuid: GPU1, name: 'NVIDIA H100 80GB HBM3', memoryTotalMiB: 81559 },
    ]);

    const health = source.gpuHealth().get(GPU0);
    expect(health?.remappedRows).toEqual({ correctable: 2, uncorrectable: 0, pending: null, failure: false });
    expect(health?.eccUncorrected).toEqual({ volatileTotal: 0, aggregateTotal: 1 });
    expect(health?.fields.DCGM_FI_DEV_PCIE_REPLAY_COUNTER).toBe(0);
  });

  it('counts a new XID code as one error and ECC double-bit errors per interval', async () => {
    let next = withValue(FIXTURE, 'DCGM_FI_DEV_XID_ERRORS', 1, 79);
    next = withValue(next, 'DCGM_FI_DEV_ECC_DBE_VOL_TOTAL', 0, 2);
    const failed = withValue(next, 'DCGM_FI_DEV_ROW_REMAP_FAILURE', 1, 1);
    const server = await endpoint(FIXTURE, next, next, failed);
    const source = new DcgmSource({ url: server.url, log: silentLog });

    const errors = async () =>
      (await frameOf(source)).gpus.map((gpu) => [gpu.xidErrors, gpu.eccErrors, gpu.remappedRowsFailed]);
    expect(await errors()).toEqual([
      [0, 0, false],
      [0, 0, false],
    ]);
    expect(await errors()).toEqual([
      [0, 2, false],
      [1, 0, false],
    ]);
    // The same last XID and ECC total again: nothing new happened.
    expect(await errors()).toEqual([
      [0, 0, false],
      [0, 0, false],
    ]);
    expect(await errors()).toEqual([
      [0, 0, false],
      [0, 0, true],
    ]);
    expect(source.gpuHealth().get(GPU1)?.lastXid).toBe(79);
  });

  it('leaves out what the exporter does not collect', async () => {
    const minimal = [
      '# TYPE DCGM_FI_DEV_GPU_UTIL gauge',
      'DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-11111111-2222-3333-4444-555555555555",modelName="NVIDIA L40S"} 12',
      'DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-11111111-2222-3333-4444-555555555555",modelName="NVIDIA L40S"} 1024',
      '',
    ].join('\n');
    const server = await endpoint(minimal);
    const frame = await frameOf(new DcgmSource({ url: server.url, log: silentLog }));
    expect(frame.gpus[0]).toMatchObject({
      utilizationPct: 12,
      memoryUsedMiB: 1024,
      memoryTotalMiB: 0,
      powerW: null,
      temperatureC: null,
      smClockMHz: null,
    });
  });

  it('fails a sample with the reason when the exporter cannot be scraped', async () => {
    const server = await endpoint('');
    server.respond = () => ({ status: 503, body: 'DCGM not ready' });
    const source = new DcgmSource({ url: server.url, log: silentLog });
    await expect(source.sample()).rejects.toThrow(/HTTP 503/);
    server.respond = () => ({ body: '# no GPUs here\n' });
    await expect(source.sample()).rejects.toThrow(/lists no GPU metrics/);
  });

  it('gives masked or repeated UUIDs an index suffix, warning once', async () => {
    const masked = FIXTURE.replaceAll(GPU1, GPU0);
    const server = await endpoint(masked);
    const warnings: string[] = [];
    const log: AgentLog = { ...silentLog, warn: (message) => warnings.push(message) };
    const source = new DcgmSource({ url: server.url, log });
    const frame = await frameOf(source);
    await frameOf(source);
    expect(frame.gpus.map((gpu) => gpu.uuid)).toEqual([`${GPU0}-0`, `${GPU0}-1`]);
    expect(warnings.filter((line) => line.includes('masked or repeated'))).toHaveLength(1);
  });
});
