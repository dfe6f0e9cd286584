import { createHash } from 'node:crypto';
import { logger } from '../log';
import type { Runtime } from '../runtime';
import { JOBS } from './catalogue';

const log = logger('jobs');

/** Two 32-bit keys from the job's name: the advisory lock every process agrees on. */
function lockKeys(name: string): [number, number] {
  const digest = createHash('sha256').update(`switchyard-job:${name}`).digest();
  return [digest.readInt32BE(0), digest.readInt32BE(4)];
}

/**
 * Runs the job catalogue on its intervals. Before each run a process takes the job's
 * advisory lock without waiting; if another process holds it, this run is skipped.
 */
export function startJobScheduler(runtime: Runtime): () => Promise<void> {
  const running = new Set<Promise<void>>();
  const timers = JOBS.map((job) =>
    setInterval(() => {
      const run = runOnce(runtime, job.name, () => job.run(runtime)).finally(() => running.delete(run));
      running.add(run);
    }, job.everyMs),
  );
  return async () => {
    for (const timer of timers) clearInterval(timer);
    await Promise.allSettled(running);
  };
}

export async function runOnce(
  runtime: Runtime,
  name: string,
  handler: () => Promise<string | undefined>,
): Promise<void> {
  const [a, b] = lockKeys(name);
  const client = await runtime.pool.connect().catch((error) => {
    log.error(`job ${name}: no database connection`, error);
    return null;
  });
  if (!client) return;
  try {
    const { rows } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock($1, $2) AS locked',
      [a, b],
    );
    if (!rows[0]?.locked) return;
    try {
      const summary = await handler();
      if (summary) log.info(`${name}: ${summary}`);
    } catch (error) {
      log.error(`job ${name} failed; it runs again on its next interval`, error);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, $2)', [a, b]);
    }
  } finally {
    client.release();
  }
}
