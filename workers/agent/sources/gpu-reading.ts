import type { GpuInventory, GpuSample } from '../../../lib/protocol/agent';
import type { AgentLog } from '../log';
import { OnceLog } from '../log';
import type { TelemetrySource } from './source';

/**
 * One GPU as a collector read it, before protocol defaults are applied: every reading may be
 * null (unsupported, `[N/A]`, missing from the scrape), so that readings from two collectors
 * can be merged field by field, preferring whichever has a value.
 */
export type GpuReading = {
  index: number;
  /** Unique within the node (see uniqueGpuUuids). */
  uuid: string;
  name: string | null;
  utilizationPct: number | null;
  memoryUsedMiB: number | null;
  memoryTotalMiB: number | null;
  powerW: number | null;
  temperatureC: number | null;
  smClockMHz: number | null;
  /** Errors during the interval; null when the collector cannot tell. */
  xidErrors: number | null;
  eccErrors: number | null;
  remappedRowsPending: boolean | null;
  remappedRowsFailed: boolean | null;
};

/**
 * Health signals beyond what a frame carries (retired pages, remapped row counts, MIG mode,
 * cumulative ECC counts; frames carry only the remapping state and per-interval errors).
 * Collectors keep the latest per GPU, for the agent to report once the protocol has a place
 * for them.
 */
export type GpuHealth = {
  index: number;
  uuid: string;
  migMode: string | null;
  eccMode: string | null;
  retiredPages: { singleBitEcc: number | null; doubleBit: number | null; pending: boolean | null };
  remappedRows: {
    correctable: number | null;
    uncorrectable: number | null;
    pending: boolean | null;
    failure: boolean | null;
  };
  eccUncorrected: { volatileTotal: number | null; aggregateTotal: number | null };
  /** The most recent XID code (dcgm), or null when the collector has none. */
  lastXid: number | null;
  /** Every health field as the collector named and read it, for what the typed fields leave out. */
  fields: Record<string, string | number | boolean | null>;
};

/** A collector of GPU readings; the composite source merges several of them per GPU. */
export interface GpuReadingSource extends TelemetrySource {
  readonly kind: string;
  readGpus(): Promise<GpuReading[]>;
  gpuHealth(): Map<string, GpuHealth>;
}

export function emptyHealth(index: number, uuid: string): GpuHealth {
  return {
    index,
    uuid,
    migMode: null,
    eccMode: null,
    retiredPages: { singleBitEcc: null, doubleBit: null, pending: null },
    remappedRows: { correctable: null, uncorrectable: null, pending: null, failure: null },
    eccUncorrected: { volatileTotal: null, aggregateTotal: null },
    lastXid: null,
    fields: {},
  };
}

/** Zero-masked identifiers, as in shared captures: `GPU-00000000-0000-0000-0000-000000000000`. */
function isMaskedUuid(uuid: string): boolean {
  return /^(GPU-|MIG-)?[0-]+$/i.test(uuid);
}

/**
 * GPU UUIDs that are unique within the node. Masked captures (and some virtualised hosts)
 * report the same UUID for several GPUs; the server keys GPUs by UUID, so a repeated or
 * all-zero UUID becomes `${uuid}-${index}`, which is stable as long as the index is. A GPU
 * without a UUID at all gets `GPU-unknown-${index}`. Returns whether anything was rewritten.
 */
export function uniqueGpuUuids(gpus: { index: number; uuid: string | null }[]): {
  uuids: string[];
  rewritten: boolean;
} {
  const seen = new Map<string, number>();
  for (const gpu of gpus) if (gpu.uuid) seen.set(gpu.uuid, (seen.get(gpu.uuid) ?? 0) + 1);
  let rewritten = false;
  const uuids = gpus.map(({ index, uuid }) => {
    if (!uuid) {
      rewritten = true;
      return `GPU-unknown-${index}`;
    }
    if (isMaskedUuid(uuid) || (seen.get(uuid) ?? 0) > 1) {
      rewritten = true;
      return `${uuid}-${index}`;
    }
    return uuid;
  });
  // Two GPUs reporting the same index as well would still collide: number the later ones.
  const used = new Set<string>();
  for (let i = 0; i < uuids.length; i++) {
    let candidate = uuids[i] as string;
    for (let n = 2; used.has(candidate); n++) candidate = `${uuids[i]}-${n}`;
    if (candidate !== uuids[i]) rewritten = true;
    uuids[i] = candidate;
    used.add(candidate);
  }
  return { uuids, rewritten };
}

const finite = (value: number | null): value is number => value !== null && Number.isFinite(value);

/**
 * Turns readings into protocol samples. Nullable fields stay null when unknown or out of
 * range; utilization and memory have no null in the protocol, so a missing value becomes 0
 * and is logged once per field, naming the collector.
 */
export class GpuSampleBuilder {
  private readonly once: OnceLog;

  constructor(
    log: AgentLog,
    private readonly origin: string,
  ) {
    this.once = new OnceLog(log);
  }

  samples(readings: GpuReading[]): GpuSample[] {
    return readings.map((reading) => this.sample(reading));
  }

  inventory(readings: GpuReading[]): GpuInventory[] {
    return readings.map((reading) => {
      const total = finite(reading.memoryTotalMiB) ? Math.round(reading.memoryTotalMiB) : 0;
      if (total < 1) {
        this.once.warn(
          'inventory.memoryTotalMiB',
          `${this.origin}: GPU ${reading.index} reports no total memory; listing it with 1 MiB`,
        );
      }
      return {
        index: reading.index,
        uuid: reading.uuid,
        name: (reading.name ?? '').slice(0, 128) || 'Unknown GPU',
        memoryTotalMiB: Math.max(1, total),
      };
    });
  }

  private sample(reading: GpuReading): GpuSample {
    return {
      uuid: reading.uuid,
      utilizationPct: Math.min(100, this.required(reading, 'utilizationPct')),
      memoryUsedMiB: this.required(reading, 'memoryUsedMiB'),
      memoryTotalMiB: this.required(reading, 'memoryTotalMiB'),
      powerW: nonNegativeOrNull(reading.powerW),
      temperatureC:
        finite(reading.temperatureC) && reading.temperatureC >= -50 && reading.temperatureC <= 200
          ? reading.temperatureC
          : null,
      smClockMHz: nonNegativeOrNull(reading.smClockMHz),
      xidErrors: countOrZero(reading.xidErrors),
      eccErrors: countOrZero(reading.eccErrors),
      remappedRowsPending: reading.remappedRowsPending === true,
      remappedRowsFailed: reading.remappedRowsFailed === true,
    };
  }

  private required(
    reading: GpuReading,
    field: 'utilizationPct' | 'memoryUsedMiB' | 'memoryTotalMiB',
  ): number {
    const value = reading[field];
    if (finite(value) && value >= 0) return value;
    this.once.warn(
      field,
      `${this.origin}: no ${field} reading (first seen on GPU ${reading.index}); sending 0`,
    );
    return 0;
  }
}

function nonNegativeOrNull(value: number | null): number | null {
  return finite(value) && value >= 0 ? value : null;
}

function countOrZero(value: number | null): number {
  return finite(value) && value > 0 ? Math.round(value) : 0;
}

/**
 * Merges readings of the same GPUs from several collectors, matched by UUID. The first
 * collector's readings come first and win where both have a value; the others fill its
 * nulls, and GPUs only they know are appended.
 */
export function mergeGpuReadings(perSource: GpuReading[][]): GpuReading[] {
  const merged = new Map<string, GpuReading>();
  for (const readings of perSource) {
    for (const reading of readings) {
      const known = merged.get(reading.uuid);
      if (!known) {
        merged.set(reading.uuid, { ...reading });
        continue;
      }
      for (const key of Object.keys(reading) as (keyof GpuReading)[]) {
        if (known[key] === null && reading[key] !== null) Object.assign(known, { [key]: reading[key] });
      }
    }
  }
  return [...merged.values()];
}

/**
 * Per-GPU change of a cumulative error counter between samples. The first sample only sets
 * the baseline (errors from before the agent started are not this interval's); a counter
 * that went down was reset (driver reload, reboot), so its current value is the increase.
 */
export class CounterDeltas {
  private readonly previous = new Map<string, number>();

  delta(key: string, value: number | null): number | null {
    if (!finite(value)) return null;
    const before = this.previous.get(key);
    this.previous.set(key, value);
    if (before === undefined) return 0;
    return value >= before ? value - before : value;
  }
}
