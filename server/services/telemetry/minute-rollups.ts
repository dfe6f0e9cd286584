import type pg from 'pg';
import { LatencyDistribution } from '../../../lib/latency-histogram';
import { logger } from '../../log';
import { BASE_RESOLUTION_S, type DeploymentRollupRow } from './rollup-writer';

const log = logger('rollups');
const MINUTE_MS = 60_000;
/** On start, minutes this far back are rebuilt in case a crash interrupted the last run. */
const RECOVERY_LOOKBACK_MS = 15 * MINUTE_MS;

/**
 * 1 min rollups built from the 10 s ones: min of mins, max of maxes, sample-weighted means,
 * and for latency the 10 s sketches merged. A minute is rebuilt whole each time one of its
 * 10 s buckets is (re)written, so the result does not depend on arrival order.
 */
export class MinuteRollups {
  private dirty = new Set<number>();

  constructor(private readonly pool: pg.Pool) {}

  /** Marks the minutes of newly written 10 s buckets for rebuilding. */
  markWritten(bucketStarts: number[]): void {
    for (const start of bucketStarts) this.dirty.add(Math.floor(start / MINUTE_MS) * MINUTE_MS);
  }

  markRecent(now = Date.now()): void {
    for (let t = now - RECOVERY_LOOKBACK_MS; t <= now; t += MINUTE_MS)
      this.dirty.add(Math.floor(t / MINUTE_MS) * MINUTE_MS);
  }

  /** Rebuilds dirty minutes; a minute still open is rebuilt again once more of it is written. */
  async run(): Promise<number> {
    const minutes = [...this.dirty].sort((a, b) => a - b);
    if (minutes.length === 0) return 0;
    this.dirty.clear();
    try {
      await this.rebuild(minutes);
      return minutes.length;
    } catch (error) {
      for (const m of minutes) this.dirty.add(m);
      log.error('rebuilding minute rollups failed; will retry', error);
      return 0;
    }
  }

  private async rebuild(minutes: number[]): Promise<void> {
    const starts = minutes.map((m) => new Date(m));
    // A plain range lets Postgres use the (resolutionS, bucketStart) index.
    const range = { from: new Date(minutes[0]!), to: new Date(minutes[minutes.length - 1]! + MINUTE_MS) };
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO "GpuRollup" ("gpuId","resolutionS","bucketStart","samples","utilMin","utilMean","utilMax",
           "memUsedMean","memUsedMax","powerMean","powerMax","tempMean","tempMax","smClockMean","xidErrors","eccErrors")
         SELECT "gpuId", 60, date_trunc('minute', "bucketStart"), sum(samples)::int, min("utilMin"),
           sum("utilMean" * samples) / sum(samples), max("utilMax"),
           sum("memUsedMean" * samples) / sum(samples), max("memUsedMax"),
           sum("powerMean" * samples) / sum(samples), max("powerMax"),
           sum("tempMean" * samples) / sum(samples), max("tempMax"),
           sum("smClockMean" * samples) / sum(samples), sum("xidErrors")::int, sum("eccErrors")::int
         FROM "GpuRollup"
         WHERE "resolutionS" = $1 AND "bucketStart" >= $3 AND "bucketStart" < $4
           AND date_trunc('minute', "bucketStart") = ANY($2::timestamp(3)[])
         GROUP BY "gpuId", date_trunc('minute', "bucketStart")
         ON CONFLICT ("gpuId","resolutionS","bucketStart") DO UPDATE SET
           "samples" = EXCLUDED."samples", "utilMin" = EXCLUDED."utilMin", "utilMean" = EXCLUDED."utilMean",
           "utilMax" = EXCLUDED."utilMax", "memUsedMean" = EXCLUDED."memUsedMean", "memUsedMax" = EXCLUDED."memUsedMax",
           "powerMean" = EXCLUDED."powerMean", "powerMax" = EXCLUDED."powerMax", "tempMean" = EXCLUDED."tempMean",
           "tempMax" = EXCLUDED."tempMax", "smClockMean" = EXCLUDED."smClockMean",
           "xidErrors" = EXCLUDED."xidErrors", "eccErrors" = EXCLUDED."eccErrors"`,
        [BASE_RESOLUTION_S, starts, range.from, range.to],
      );

      const { rows } = await client.query<DeploymentRollupRow>(
        `SELECT * FROM "DeploymentRollup"
         WHERE "resolutionS" = $1 AND "bucketStart" >= $3 AND "bucketStart" < $4
           AND date_trunc('minute', "bucketStart") = ANY($2::timestamp(3)[])`,
        [BASE_RESOLUTION_S, starts, range.from, range.to],
      );
      type Minute = {
        requests: number;
        errors: number;
        queueSum: number;
        queueMax: number;
        n: number;
        sketch: LatencyDistribution;
      };
      const byMinute = new Map<string, Minute & { deploymentId: string; start: number }>();
      for (const row of rows) {
        const start = Math.floor(row.bucketStart.getTime() / MINUTE_MS) * MINUTE_MS;
        const key = `${row.deploymentId}|${start}`;
        let m = byMinute.get(key);
        if (!m) {
          m = {
            deploymentId: row.deploymentId,
            start,
            requests: 0,
            errors: 0,
            queueSum: 0,
            queueMax: 0,
            n: 0,
            sketch: new LatencyDistribution(),
          };
          byMinute.set(key, m);
        }
        m.requests += row.requests;
        m.errors += row.errors;
        m.queueSum += row.queueDepthMean;
        m.queueMax = Math.max(m.queueMax, row.queueDepthMax);
        m.n += 1;
        m.sketch.merge(LatencyDistribution.fromBytes(row.latencySketch));
      }
      const list = [...byMinute.values()];
      if (list.length > 0) {
        await client.query(
          `INSERT INTO "DeploymentRollup" ("deploymentId","resolutionS","bucketStart","requests","errors",
             "queueDepthMean","queueDepthMax","latencySketch")
           SELECT u.id, 60, u.start, u.requests, u.errors, u.qmean, u.qmax, u.sketch
           FROM unnest($1::text[], $2::timestamp(3)[], $3::int[], $4::int[], $5::float8[], $6::float8[], $7::bytea[])
             AS u(id, start, requests, errors, qmean, qmax, sketch)
           ON CONFLICT ("deploymentId","resolutionS","bucketStart") DO UPDATE SET
             "requests" = EXCLUDED."requests", "errors" = EXCLUDED."errors", "queueDepthMean" = EXCLUDED."queueDepthMean",
             "queueDepthMax" = EXCLUDED."queueDepthMax", "latencySketch" = EXCLUDED."latencySketch"`,
          [
            list.map((m) => m.deploymentId),
            list.map((m) => new Date(m.start)),
            list.map((m) => m.requests),
            list.map((m) => m.errors),
            list.map((m) => m.queueSum / m.n),
            list.map((m) => m.queueMax),
            list.map((m) => Buffer.from(m.sketch.toBytes())),
          ],
        );
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }
}
