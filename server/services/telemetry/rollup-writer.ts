import { LatencyDistribution } from '../../../lib/latency-histogram';
import type { TelemetryFrame } from '../../../lib/protocol/agent';
import type { Db } from '../../db/client';
import { logger } from '../../log';

const log = logger('rollups');

/** Resolutions Postgres keeps (seconds). Raw 1 s samples stay in memory only. */
export const ROLLUP_RESOLUTIONS = [10, 60] as const;
/** A bucket is written this long after it closes, so late frames still land in it. */
const FLUSH_GRACE_MS = 3_000;

type GpuBucket = {
  gpuId: string;
  resolutionS: number;
  bucketStart: number;
  samples: number;
  utilMin: number;
  utilSum: number;
  utilMax: number;
  memSum: number;
  memMax: number;
  powerSum: number;
  powerMax: number;
  tempSum: number;
  tempMax: number;
  clockSum: number;
  xid: number;
  ecc: number;
};

type DeploymentBucket = {
  deploymentId: string;
  resolutionS: number;
  bucketStart: number;
  requests: number;
  errors: number;
  queueSum: number;
  queueMax: number;
  queueSamples: number;
  latency: LatencyDistribution;
};

/**
 * Folds telemetry frames into 10 s and 1 min buckets and writes closed buckets in
 * batches. A bucket written earlier and reopened by a late (replayed) frame is merged in
 * the database, never overwritten.
 */
export class RollupWriter {
  private gpuBuckets = new Map<string, GpuBucket>();
  private deploymentBuckets = new Map<string, DeploymentBucket>();
  private flushing: Promise<void> = Promise.resolve();
  rowsWritten = 0;

  constructor(private readonly db: Db) {}

  add(frame: TelemetryFrame, gpuIds: string[]): void {
    for (const resolutionS of ROLLUP_RESOLUTIONS) {
      const bucketStart = Math.floor(frame.sampledAt / (resolutionS * 1000)) * resolutionS * 1000;
      frame.gpus.forEach((gpu, i) => {
        const gpuId = gpuIds[i]!;
        const key = `${gpuId}|${resolutionS}|${bucketStart}`;
        let b = this.gpuBuckets.get(key);
        if (!b) {
          b = {
            gpuId,
            resolutionS,
            bucketStart,
            samples: 0,
            utilMin: Number.POSITIVE_INFINITY,
            utilSum: 0,
            utilMax: 0,
            memSum: 0,
            memMax: 0,
            powerSum: 0,
            powerMax: 0,
            tempSum: 0,
            tempMax: Number.NEGATIVE_INFINITY,
            clockSum: 0,
            xid: 0,
            ecc: 0,
          };
          this.gpuBuckets.set(key, b);
        }
        b.samples += 1;
        b.utilMin = Math.min(b.utilMin, gpu.utilizationPct);
        b.utilSum += gpu.utilizationPct;
        b.utilMax = Math.max(b.utilMax, gpu.utilizationPct);
        b.memSum += gpu.memoryUsedMiB;
        b.memMax = Math.max(b.memMax, gpu.memoryUsedMiB);
        b.powerSum += gpu.powerW ?? 0;
        b.powerMax = Math.max(b.powerMax, gpu.powerW ?? 0);
        b.tempSum += gpu.temperatureC ?? 0;
        b.tempMax = Math.max(b.tempMax, gpu.temperatureC ?? 0);
        b.clockSum += gpu.smClockMHz ?? 0;
        b.xid += gpu.xidErrors;
        b.ecc += gpu.eccErrors;
      });
      for (const sample of frame.deployments) {
        const key = `${sample.deploymentId}|${resolutionS}|${bucketStart}`;
        let b = this.deploymentBuckets.get(key);
        if (!b) {
          b = {
            deploymentId: sample.deploymentId,
            resolutionS,
            bucketStart,
            requests: 0,
            errors: 0,
            queueSum: 0,
            queueMax: 0,
            queueSamples: 0,
            latency: new LatencyDistribution(),
          };
          this.deploymentBuckets.set(key, b);
        }
        b.requests += sample.requests;
        b.errors += sample.errors;
        b.queueSum += sample.queueDepth;
        b.queueMax = Math.max(b.queueMax, sample.queueDepth);
        b.queueSamples += 1;
        b.latency.addWire(sample.latencyMs);
      }
    }
  }

  /** Writes every bucket that closed more than the grace period ago (or all, on shutdown). */
  flush(options: { all?: boolean; now?: number } = {}): Promise<void> {
    const run = async () => {
      const now = options.now ?? Date.now();
      const due = (b: { resolutionS: number; bucketStart: number }) =>
        options.all || b.bucketStart + b.resolutionS * 1000 + FLUSH_GRACE_MS <= now;
      const gpuRows = takeWhere(this.gpuBuckets, due);
      const deploymentRows = takeWhere(this.deploymentBuckets, due);
      try {
        if (gpuRows.length > 0) await this.writeGpuRollups(gpuRows);
        if (deploymentRows.length > 0) await this.writeDeploymentRollups(deploymentRows);
        this.rowsWritten += gpuRows.length + deploymentRows.length;
      } catch (error) {
        // Put the rows back so the next flush retries them; nothing is dropped.
        for (const b of gpuRows) this.gpuBuckets.set(`${b.gpuId}|${b.resolutionS}|${b.bucketStart}`, b);
        for (const b of deploymentRows) {
          this.deploymentBuckets.set(`${b.deploymentId}|${b.resolutionS}|${b.bucketStart}`, b);
        }
        log.error('writing rollups failed; will retry', error);
      }
    };
    this.flushing = this.flushing.then(run);
    return this.flushing;
  }

  private async writeGpuRollups(rows: GpuBucket[]): Promise<void> {
    await this.db.$executeRawUnsafe(
      `INSERT INTO "GpuRollup" ("gpuId","resolutionS","bucketStart","samples","utilMin","utilMean","utilMax",
         "memUsedMean","memUsedMax","powerMean","powerMax","tempMean","tempMax","smClockMean","xidErrors","eccErrors")
       SELECT * FROM unnest($1::text[], $2::int[], $3::timestamp(3)[], $4::int[], $5::float8[], $6::float8[],
         $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::float8[],
         $14::float8[], $15::int[], $16::int[])
       ON CONFLICT ("gpuId","resolutionS","bucketStart") DO UPDATE SET
         "samples" = "GpuRollup"."samples" + EXCLUDED."samples",
         "utilMin" = LEAST("GpuRollup"."utilMin", EXCLUDED."utilMin"),
         "utilMax" = GREATEST("GpuRollup"."utilMax", EXCLUDED."utilMax"),
         "utilMean" = ("GpuRollup"."utilMean" * "GpuRollup"."samples" + EXCLUDED."utilMean" * EXCLUDED."samples")
                      / ("GpuRollup"."samples" + EXCLUDED."samples"),
         "memUsedMean" = ("GpuRollup"."memUsedMean" * "GpuRollup"."samples" + EXCLUDED."memUsedMean" * EXCLUDED."samples")
                      / ("GpuRollup"."samples" + EXCLUDED."samples"),
         "memUsedMax" = GREATEST("GpuRollup"."memUsedMax", EXCLUDED."memUsedMax"),
         "powerMean" = ("GpuRollup"."powerMean" * "GpuRollup"."samples" + EXCLUDED."powerMean" * EXCLUDED."samples")
                      / ("GpuRollup"."samples" + EXCLUDED."samples"),
         "powerMax" = GREATEST("GpuRollup"."powerMax", EXCLUDED."powerMax"),
         "tempMean" = ("GpuRollup"."tempMean" * "GpuRollup"."samples" + EXCLUDED."tempMean" * EXCLUDED."samples")
                      / ("GpuRollup"."samples" + EXCLUDED."samples"),
         "tempMax" = GREATEST("GpuRollup"."tempMax", EXCLUDED."tempMax"),
         "smClockMean" = ("GpuRollup"."smClockMean" * "GpuRollup"."samples" + EXCLUDED."smClockMean" * EXCLUDED."samples")
                      / ("GpuRollup"."samples" + EXCLUDED."samples"),
         "xidErrors" = "GpuRollup"."xidErrors" + EXCLUDED."xidErrors",
         "eccErrors" = "GpuRollup"."eccErrors" + EXCLUDED."eccErrors"`,
      rows.map((r) => r.gpuId),
      rows.map((r) => r.resolutionS),
      rows.map((r) => new Date(r.bucketStart)),
      rows.map((r) => r.samples),
      rows.map((r) => r.utilMin),
      rows.map((r) => r.utilSum / r.samples),
      rows.map((r) => r.utilMax),
      rows.map((r) => r.memSum / r.samples),
      rows.map((r) => r.memMax),
      rows.map((r) => r.powerSum / r.samples),
      rows.map((r) => r.powerMax),
      rows.map((r) => r.tempSum / r.samples),
      rows.map((r) => r.tempMax),
      rows.map((r) => r.clockSum / r.samples),
      rows.map((r) => r.xid),
      rows.map((r) => r.ecc),
    );
  }

  /** Sketches cannot be merged in SQL: merge a reopened bucket with the stored one in a transaction. */
  private async writeDeploymentRollups(rows: DeploymentBucket[]): Promise<void> {
    await this.db.$transaction(async (tx) => {
      const existing = await tx.deploymentRollup.findMany({
        where: {
          OR: rows.map((r) => ({
            deploymentId: r.deploymentId,
            resolutionS: r.resolutionS,
            bucketStart: new Date(r.bucketStart),
          })),
        },
      });
      const stored = new Map(
        existing.map((e) => [`${e.deploymentId}|${e.resolutionS}|${e.bucketStart.getTime()}`, e]),
      );
      const fresh: DeploymentBucket[] = [];
      for (const r of rows) {
        const prior = stored.get(`${r.deploymentId}|${r.resolutionS}|${r.bucketStart}`);
        if (!prior) {
          fresh.push(r);
          continue;
        }
        const latency = LatencyDistribution.fromBytes(prior.latencySketch);
        latency.merge(r.latency);
        const samples = r.queueSamples + 1; // the stored row's mean counts as one observation
        await tx.deploymentRollup.update({
          where: {
            deploymentId_resolutionS_bucketStart: {
              deploymentId: r.deploymentId,
              resolutionS: r.resolutionS,
              bucketStart: new Date(r.bucketStart),
            },
          },
          data: {
            requests: prior.requests + r.requests,
            errors: prior.errors + r.errors,
            queueDepthMean: (prior.queueDepthMean + r.queueSum) / samples,
            queueDepthMax: Math.max(prior.queueDepthMax, r.queueMax),
            latencySketch: Buffer.from(latency.toBytes()),
          },
        });
      }
      if (fresh.length > 0) {
        await tx.deploymentRollup.createMany({
          data: fresh.map((r) => ({
            deploymentId: r.deploymentId,
            resolutionS: r.resolutionS,
            bucketStart: new Date(r.bucketStart),
            requests: r.requests,
            errors: r.errors,
            queueDepthMean: r.queueSamples > 0 ? r.queueSum / r.queueSamples : 0,
            queueDepthMax: r.queueMax,
            latencySketch: Buffer.from(r.latency.toBytes()),
          })),
        });
      }
    });
  }
}

function takeWhere<T>(map: Map<string, T>, predicate: (value: T) => boolean): T[] {
  const taken: T[] = [];
  for (const [key, value] of map) {
    if (predicate(value)) {
      taken.push(value);
      map.delete(key);
    }
  }
  return taken;
}
