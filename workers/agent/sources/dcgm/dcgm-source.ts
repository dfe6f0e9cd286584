import type { GpuInventory } from '../../../../lib/protocol/agent';
import { type AgentLog, errorMessage, OnceLog } from '../../log';
import {
  CounterDeltas,
  emptyHealth,
  type GpuHealth,
  type GpuReading,
  type GpuReadingSource,
  GpuSampleBuilder,
  uniqueGpuUuids,
} from '../gpu-reading';
import type { Exposition, PromLabels } from '../prometheus/exposition';
import { scrape } from '../prometheus/scrape';
import type { TelemetrySample } from '../source';

export const DEFAULT_DCGM_URL = 'http://localhost:9400/metrics';

export type DcgmSourceOptions = { url?: string; log: AgentLog; timeoutMs?: number };

/** Per-GPU readings of one scrape, by DCGM field name. */
type DcgmGpu = { index: number; uuid: string | null; modelName: string | null; fields: Map<string, number> };

/**
 * GPUs read from a dcgm-exporter endpoint. Series are matched to GPUs by the exporter's
 * `gpu` (index) and `UUID` labels; series of MIG instances (with `GPU_I_ID`) are left out,
 * since a physical GPU is the unit here. Fields the exporter is not configured to collect
 * are null.
 *
 * DCGM_FI_DEV_XID_ERRORS is a gauge holding the most recent XID code, not a count: a change
 * to a non-zero code counts as one error (the same code twice in a row cannot be told apart).
 * DCGM_FI_DEV_ECC_DBE_VOL_TOTAL is cumulative: the increase per interval is reported.
 */
export class DcgmSource implements GpuReadingSource {
  readonly kind = 'dcgm';
  readonly cumulative = true;
  readonly url: string;
  private readonly once: OnceLog;
  private readonly builder: GpuSampleBuilder;
  private readonly timeoutMs: number;
  private readonly eccDeltas = new CounterDeltas();
  private readonly lastXid = new Map<string, number>();
  private health = new Map<string, GpuHealth>();

  constructor(options: DcgmSourceOptions) {
    this.url = options.url ?? DEFAULT_DCGM_URL;
    this.once = new OnceLog(options.log);
    this.builder = new GpuSampleBuilder(options.log, 'dcgm');
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  async inventory(): Promise<GpuInventory[]> {
    return this.builder.inventory(await this.read(false));
  }

  async sample(): Promise<TelemetrySample> {
    return { gpus: this.builder.samples(await this.readGpus()), deployments: [] };
  }

  applyAssignments(): void {}

  readGpus(): Promise<GpuReading[]> {
    return this.read(true);
  }

  gpuHealth(): Map<string, GpuHealth> {
    return new Map(this.health);
  }

  /** Scrapes once; `advance` moves the per-interval error counts on (inventory must not). */
  private async read(advance: boolean): Promise<GpuReading[]> {
    let exposition: Exposition;
    try {
      exposition = await scrape(this.url, { timeoutMs: this.timeoutMs });
    } catch (error) {
      throw new Error(`dcgm: cannot scrape ${this.url}: ${errorMessage(error)}`);
    }
    const gpus = gpusOf(exposition);
    if (gpus.length === 0) throw new Error(`dcgm: ${this.url} lists no GPU metrics (DCGM_FI_DEV_*)`);
    const { uuids, rewritten } = uniqueGpuUuids(gpus.map(({ index, uuid }) => ({ index, uuid })));
    if (rewritten) {
      this.once.warn(
        'uuids',
        'dcgm: GPU UUIDs are masked or repeated; identifying those GPUs as <uuid>-<index>',
      );
    }
    const health = new Map<string, GpuHealth>();
    const readings = gpus.map((gpu, i): GpuReading => {
      const uuid = uuids[i] as string;
      const field = (name: string) => gpu.fields.get(name) ?? null;
      const used = field('DCGM_FI_DEV_FB_USED');
      const free = field('DCGM_FI_DEV_FB_FREE');
      const reserved = field('DCGM_FI_DEV_FB_RESERVED');
      const xid = field('DCGM_FI_DEV_XID_ERRORS');
      const gpuHealth = healthOf(gpu, uuid);
      health.set(uuid, gpuHealth);
      return {
        index: gpu.index,
        uuid,
        name: gpu.modelName,
        utilizationPct: field('DCGM_FI_DEV_GPU_UTIL') ?? percentOf(field('DCGM_FI_PROF_GR_ENGINE_ACTIVE')),
        memoryUsedMiB: used,
        memoryTotalMiB: used !== null && free !== null ? used + free + (reserved ?? 0) : null,
        powerW: field('DCGM_FI_DEV_POWER_USAGE'),
        temperatureC: field('DCGM_FI_DEV_GPU_TEMP'),
        smClockMHz: field('DCGM_FI_DEV_SM_CLOCK'),
        xidErrors: advance ? this.xidChange(uuid, xid) : null,
        eccErrors: advance ? this.eccDeltas.delta(uuid, field('DCGM_FI_DEV_ECC_DBE_VOL_TOTAL')) : null,
        remappedRowsPending: gpuHealth.remappedRows.pending,
        remappedRowsFailed: gpuHealth.remappedRows.failure,
      };
    });
    this.health = health;
    return readings;
  }

  private xidChange(uuid: string, code: number | null): number | null {
    if (code === null) return null;
    const before = this.lastXid.get(uuid);
    this.lastXid.set(uuid, code);
    // The first scrape only learns the code; an XID from before the agent started is not news.
    return before !== undefined && code !== before && code !== 0 ? 1 : 0;
  }
}

/** Profiling ratios (0–1) as a percentage, for exporters configured without DCGM_FI_DEV_GPU_UTIL. */
function percentOf(ratio: number | null): number | null {
  return ratio === null ? null : ratio * 100;
}

function gpusOf(exposition: Exposition): DcgmGpu[] {
  const byIndex = new Map<number, DcgmGpu>();
  for (const sample of exposition.samples) {
    if (!sample.name.startsWith('DCGM_FI_') || !isPhysicalGpu(sample.labels)) continue;
    const index = Number(sample.labels.gpu);
    if (!Number.isInteger(index) || index < 0) continue;
    let gpu = byIndex.get(index);
    if (!gpu) {
      gpu = {
        index,
        uuid: sample.labels.UUID || null,
        modelName: sample.labels.modelName || null,
        fields: new Map(),
      };
      byIndex.set(index, gpu);
    }
    if (Number.isFinite(sample.value) && !gpu.fields.has(sample.name))
      gpu.fields.set(sample.name, sample.value);
  }
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}

function isPhysicalGpu(labels: PromLabels): boolean {
  return labels.gpu !== undefined && !labels.GPU_I_ID;
}

function healthOf(gpu: DcgmGpu, uuid: string): GpuHealth {
  const health = emptyHealth(gpu.index, uuid);
  const field = (name: string) => gpu.fields.get(name) ?? null;
  const flag = (name: string) => (gpu.fields.has(name) ? field(name) !== 0 : null);
  health.retiredPages = {
    singleBitEcc: field('DCGM_FI_DEV_RETIRED_SBE'),
    doubleBit: field('DCGM_FI_DEV_RETIRED_DBE'),
    pending: flag('DCGM_FI_DEV_RETIRED_PENDING'),
  };
  health.remappedRows = {
    correctable: field('DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS'),
    uncorrectable: field('DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS'),
    pending: flag('DCGM_FI_DEV_ROW_REMAP_PENDING'),
    failure: flag('DCGM_FI_DEV_ROW_REMAP_FAILURE'),
  };
  health.eccUncorrected = {
    volatileTotal: field('DCGM_FI_DEV_ECC_DBE_VOL_TOTAL'),
    aggregateTotal: field('DCGM_FI_DEV_ECC_DBE_AGG_TOTAL'),
  };
  health.lastXid = field('DCGM_FI_DEV_XID_ERRORS');
  for (const [name, value] of gpu.fields) health.fields[name] = value;
  return health;
}
