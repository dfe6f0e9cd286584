import type { Runtime } from '../runtime';

/**
 * Background jobs, one file each, listed here. A job runs on an interval in every server
 * process, but at most one process runs a given job at a time (server/jobs/scheduler.ts
 * takes a Postgres advisory lock), so handlers must be idempotent: a run may repeat.
 */
export type BackgroundJob = {
  name: string;
  everyMs: number;
  run: (runtime: Runtime) => Promise<string | undefined>;
};

import { minuteRollupsJob } from './minute-rollups';
import { telemetryRetentionJob } from './telemetry-retention';

export const JOBS: BackgroundJob[] = [minuteRollupsJob, telemetryRetentionJob];
