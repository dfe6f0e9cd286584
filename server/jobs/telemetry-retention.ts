import type { BackgroundJob } from './catalogue';

/** Deletes rollups older than their retention (SWITCHYARD_RETENTION_10S_HOURS, _1M_DAYS). */
export const telemetryRetentionJob: BackgroundJob = {
  name: 'telemetry-retention',
  everyMs: 10 * 60_000,
  run: async (runtime) => {
    const { env, pool } = runtime;
    const cutoff10s = new Date(Date.now() - env.SWITCHYARD_RETENTION_10S_HOURS * 3600_000);
    const cutoff1m = new Date(Date.now() - env.SWITCHYARD_RETENTION_1M_DAYS * 86400_000);
    let deleted = 0;
    for (const table of ['GpuRollup', 'DeploymentRollup']) {
      for (const [resolution, cutoff] of [
        [10, cutoff10s],
        [60, cutoff1m],
      ] as const) {
        const result = await pool.query(
          `DELETE FROM "${table}" WHERE "resolutionS" = $1 AND "bucketStart" < $2`,
          [resolution, cutoff],
        );
        deleted += result.rowCount ?? 0;
      }
    }
    return deleted > 0 ? `deleted ${deleted} expired rollup rows` : undefined;
  },
};
