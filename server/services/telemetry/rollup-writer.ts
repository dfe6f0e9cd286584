import type pg from 'pg';
import { LatencyDistribution } from '../../../lib/latency-histogram';
import type { TelemetryFrame } from '../../../lib/protocol/agent';
import { logger } from '../../log';

const log = logger('rollups');

/** The resolution frames are folded into; coarser ones are built from it (minute-rollups.ts). */
export const BASE_RESOLUTION_S = 10;
const BUCKET_MS = BASE_RESOLUTION_S * 1000;
/** A bucket is written this long after it closes, so frames a little late still land in it. */
const FLUSH_GRACE_MS = 3_000;

export function bucketStartOf(sampledAt: number): number {
  return Math.floor(sampledAt / BUCKET_MS) * BUCKET_MS;
}

type GpuBucket = {
  gpuId: string;
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
  bucketStart: number;
  requests: number;
  errors: number;
  queueSum: number;
  queueMax: number;
  queueSamples: number;
  latency: LatencyDistribution;
};

/** Journal rows (and the highest sequence per node) whose data a bucket holds. */
type Provenance = { journalIds: string[]; lastSeqByNode: Map<string, number> };

/**
 * Folds journaled telemetry frames into 10 s buckets and writes closed buckets in one
 * transaction that also deletes the journal rows they came from and records the nodes'
 * last sequence: a crash before the commit leaves the journal to replay, a crash after
 * leaves nothing to replay. A bucket reopened by a late frame is merged, never overwritten.
 */
export class RollupWriter {
  private gpuBuckets = new Map<string, GpuBucket>();
  private deploymentBuckets = new Map<string, DeploymentBucket>();
  private provenance = new Map<number, Provenance>();
  private flushing: Promise<void> = Promise.resolve();
  rowsWritten = 0;

  constructor(
    private readonly pool: pg.Pool,
    /** Told which 10 s buckets were written, so coarser rollups can be rebuilt for them. */
    private readonly onWritten: (bucketStarts: number[]) => void = () => {},
  ) {}

  /** Adds a journaled frame (`journalId`) of `nodeId`, whose GPUs resolved to `gpuIds`. */
  add(nodeId: string, journalId: string, frame: TelemetryFrame, gpuIds: string[]): void {
    const bucketStart = bucketStartOf(frame.sampledAt);
    let origin = this.provenance.get(bucketStart);
    if (!origin) {
      origin = { journalIds: [], lastSeqByNode: new Map() };
      this.provenance.set(bucketStart, origin);
    }
    origin.journalIds.push(journalId);
    origin.lastSeqByNode.set(nodeId, Math.max(origin.lastSeqByNode.get(nodeId) ?? 0, frame.seq));

    frame.gpus.forEach((gpu, i) => {
      const gpuId = gpuIds[i]!;
      const key = `${gpuId}|${bucketStart}`;
      let b = this.gpuBuckets.get(key);
      if (!b) {
        b = {
          gpuId,
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
          tempMax: 0,
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
      const key = `${sample.deploymentId}|${bucketStart}`;
      let b = this.deploymentBuckets.get(key);
      if (!b) {
        b = {
          deploymentId: sample.deploymentId,
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

  /** Buckets waiting to be written (for /metrics and tests). */
  get pendingBuckets(): number {
    return this.provenance.size;
  }

  /** Writes every bucket that closed more than the grace period ago (or all, on shutdown). */
  flush(options: { all?: boolean; now?: number } = {}): Promise<void> {
    const run = async () => {
      const now = options.now ?? Date.now();
      const due = [...this.provenance.keys()].filter(
        (start) => options.all || start + BUCKET_MS + FLUSH_GRACE_MS <= now,
      );
      if (due.length === 0) return;
      const dueSet = new Set(due);
      const gpuRows = takeWhere(this.gpuBuckets, (b) => dueSet.has(b.bucketStart));
      const deploymentRows = takeWhere(this.deploymentBuckets, (b) => dueSet.has(b.bucketStart));
      const origins = due.map((start) => this.provenance.get(start)!);
      for (const start of due) this.provenance.delete(start);
      try {
        const gpuRowsWritten = await this.write(gpuRows, deploymentRows, origins);
        this.rowsWritten += gpuRowsWritten + deploymentRows.length;
        this.onWritten(due);
      } catch (error) {
        // Put everything back: the next flush retries, and the journal still holds the frames.
        for (const b of gpuRows) this.restoreGpu(b);
        for (const b of deploymentRows) this.restoreDeployment(b);
        due.forEach((start, i) => {
          this.restoreProvenance(start, origins[i]!);
        });
        log.error('writing rollups failed; will retry', error);
      }
    };
    this.flushing = this.flushing.then(run);
    return this.flushing;
  }

  /** Writes the buckets and forgets their journal rows in one transaction; returns the GPU rows written. */
  private async write(
    gpuRows: GpuBucket[],
    deploymentRows: DeploymentBucket[],
    origins: Provenance[],
  ): Promise<number> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const gpuRowsWritten = gpuRows.length > 0 ? await writeGpuRollups(client, gpuRows) : 0;
      if (deploymentRows.length > 0) await writeDeploymentRollups(client, deploymentRows);
      const journalIds = origins.flatMap((o) => o.journalIds);
      await client.query('DELETE FROM "TelemetryJournal" WHERE id = ANY($1::bigint[])', [journalIds]);
      const lastSeq = new Map<string, number>();
      for (const o of origins)
        for (const [node, seq] of o.lastSeqByNode) lastSeq.set(node, Math.max(lastSeq.get(node) ?? 0, seq));
      await client.query(
        // Locked in id order, as the heartbeat writer does, so the two never deadlock; NO KEY
        // UPDATE leaves the journal inserts' foreign-key checks (KEY SHARE) unblocked.
        `WITH locked AS (SELECT id FROM "Node" WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE)
         UPDATE "Node" AS n SET "lastSeq" = GREATEST(n."lastSeq", u.seq)
         FROM unnest($1::text[], $2::bigint[]) AS u(id, seq), locked
         WHERE n.id = u.id AND locked.id = u.id`,
        [[...lastSeq.keys()], [...lastSeq.values()]],
      );
      await client.query('COMMIT');
      return gpuRowsWritten;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  private restoreGpu(b: GpuBucket): void {
    const key = `${b.gpuId}|${b.bucketStart}`;
    const newer = this.gpuBuckets.get(key);
    if (!newer) {
      this.gpuBuckets.set(key, b);
      return;
    }
    newer.samples += b.samples;
    newer.utilMin = Math.min(newer.utilMin, b.utilMin);
    newer.utilSum += b.utilSum;
    newer.utilMax = Math.max(newer.utilMax, b.utilMax);
    newer.memSum += b.memSum;
    newer.memMax = Math.max(newer.memMax, b.memMax);
    newer.powerSum += b.powerSum;
    newer.powerMax = Math.max(newer.powerMax, b.powerMax);
    newer.tempSum += b.tempSum;
    newer.tempMax = Math.max(newer.tempMax, b.tempMax);
    newer.clockSum += b.clockSum;
    newer.xid += b.xid;
    newer.ecc += b.ecc;
  }

  private restoreDeployment(b: DeploymentBucket): void {
    const key = `${b.deploymentId}|${b.bucketStart}`;
    const newer = this.deploymentBuckets.get(key);
    if (!newer) {
      this.deploymentBuckets.set(key, b);
      return;
    }
    newer.requests += b.requests;
    newer.errors += b.errors;
    newer.queueSum += b.queueSum;
    newer.queueMax = Math.max(newer.queueMax, b.queueMax);
    newer.queueSamples += b.queueSamples;
    newer.latency.merge(b.latency);
  }

  private restoreProvenance(start: number, origin: Provenance): void {
    const newer = this.provenance.get(start);
    if (!newer) {
      this.provenance.set(start, origin);
      return;
    }
    newer.journalIds.push(...origin.journalIds);
    for (const [node, seq] of origin.lastSeqByNode) {
      newer.lastSeqByNode.set(node, Math.max(newer.lastSeqByNode.get(node) ?? 0, seq));
    }
  }
}

async function writeGpuRollups(client: pg.PoolClient, rows: GpuBucket[]): Promise<number> {
  const mean = (field: string) =>
    `("GpuRollup"."${field}" * "GpuRollup"."samples" + EXCLUDED."${field}" * EXCLUDED."samples") / ("GpuRollup"."samples" + EXCLUDED."samples")`;
  const result = await client.query(
    `INSERT INTO "GpuRollup" ("gpuId","resolutionS","bucketStart","samples","utilMin","utilMean","utilMax",
       "memUsedMean","memUsedMax","powerMean","powerMax","tempMean","tempMax","smClockMean","xidErrors","eccErrors")
     SELECT u.*  FROM unnest($1::text[], $2::int[], $3::timestamp(3)[], $4::int[], $5::float8[], $6::float8[],
       $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::float8[],
       $14::float8[], $15::int[], $16::int[]) AS u(gpu, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16)
     -- A GPU removed since its frames arrived (its node removed, or gone from the inventory)
     -- has no row to point at: its bucket is dropped rather than failing every flush.
     WHERE EXISTS (SELECT 1 FROM "Gpu" g WHERE g.id = u.gpu)
     ON CONFLICT ("gpuId","resolutionS","bucketStart") DO UPDATE SET
       "utilMin" = LEAST("GpuRollup"."utilMin", EXCLUDED."utilMin"),
       "utilMax" = GREATEST("GpuRollup"."utilMax", EXCLUDED."utilMax"),
       "utilMean" = ${mean('utilMean')},
       "memUsedMean" = ${mean('memUsedMean')},
       "memUsedMax" = GREATEST("GpuRollup"."memUsedMax", EXCLUDED."memUsedMax"),
       "powerMean" = ${mean('powerMean')},
       "powerMax" = GREATEST("GpuRollup"."powerMax", EXCLUDED."powerMax"),
       "tempMean" = ${mean('tempMean')},
       "tempMax" = GREATEST("GpuRollup"."tempMax", EXCLUDED."tempMax"),
       "smClockMean" = ${mean('smClockMean')},
       "xidErrors" = "GpuRollup"."xidErrors" + EXCLUDED."xidErrors",
       "eccErrors" = "GpuRollup"."eccErrors" + EXCLUDED."eccErrors",
       "samples" = "GpuRollup"."samples" + EXCLUDED."samples"`,
    [
      rows.map((r) => r.gpuId),
      rows.map(() => BASE_RESOLUTION_S),
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
    ],
  );
  return result.rowCount ?? 0;
}

/** A "DeploymentRollup" row as node-postgres returns it. */
export type DeploymentRollupRow = {
  deploymentId: string;
  bucketStart: Date;
  requests: number;
  errors: number;
  queueDepthMean: number;
  queueDepthMax: number;
  latencySketch: Buffer;
};

/** Sketches cannot be merged in SQL: a reopened bucket is read, merged here and written back. */
async function writeDeploymentRollups(client: pg.PoolClient, rows: DeploymentBucket[]): Promise<void> {
  const existing = await client.query<DeploymentRollupRow>(
    `SELECT r.* FROM "DeploymentRollup" r
     JOIN unnest($1::text[], $2::timestamp(3)[]) AS k(id, start) ON r."deploymentId" = k.id AND r."bucketStart" = k.start
     WHERE r."resolutionS" = $3 FOR UPDATE`,
    [rows.map((r) => r.deploymentId), rows.map((r) => new Date(r.bucketStart)), BASE_RESOLUTION_S],
  );
  const stored = new Map(existing.rows.map((e) => [`${e.deploymentId}|${e.bucketStart.getTime()}`, e]));
  const merged = rows.map((r) => {
    const prior = stored.get(`${r.deploymentId}|${r.bucketStart}`);
    const queueDepthMean = r.queueSamples > 0 ? r.queueSum / r.queueSamples : 0;
    if (!prior) return { ...r, queueDepthMean, sketch: r.latency };
    const sketch = LatencyDistribution.fromBytes(prior.latencySketch);
    sketch.merge(r.latency);
    return {
      ...r,
      requests: prior.requests + r.requests,
      errors: prior.errors + r.errors,
      queueDepthMean: (prior.queueDepthMean + queueDepthMean) / 2,
      queueMax: Math.max(prior.queueDepthMax, r.queueMax),
      sketch,
    };
  });
  await client.query(
    `INSERT INTO "DeploymentRollup" ("deploymentId","resolutionS","bucketStart","requests","errors",
       "queueDepthMean","queueDepthMax","latencySketch")
     SELECT * FROM unnest($1::text[], $2::int[], $3::timestamp(3)[], $4::int[], $5::int[], $6::float8[], $7::float8[], $8::bytea[])
     ON CONFLICT ("deploymentId","resolutionS","bucketStart") DO UPDATE SET
       "requests" = EXCLUDED."requests", "errors" = EXCLUDED."errors",
       "queueDepthMean" = EXCLUDED."queueDepthMean", "queueDepthMax" = EXCLUDED."queueDepthMax",
       "latencySketch" = EXCLUDED."latencySketch"`,
    [
      merged.map((m) => m.deploymentId),
      merged.map(() => BASE_RESOLUTION_S),
      merged.map((m) => new Date(m.bucketStart)),
      merged.map((m) => m.requests),
      merged.map((m) => m.errors),
      merged.map((m) => m.queueDepthMean),
      merged.map((m) => m.queueMax),
      merged.map((m) => Buffer.from(m.sketch.toBytes())),
    ],
  );
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
