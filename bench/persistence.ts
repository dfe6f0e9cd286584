import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { RollupWriter } from '../server/services/telemetry/rollup-writer';
import { type BenchNode, benchFrame } from './fleet';

/**
 * Rollup rows per second through Switchyard's writer (batched upsert, journal bookkeeping
 * in the same transaction) against raw COPY of the same rows into a table of the same
 * shape: the ceiling for getting rows into Postgres.
 */
export async function benchPersistence(pool: pg.Pool, nodes: BenchNode[], rounds = 3) {
  const { rows } = await pool.query<{ id: string; uuid: string }>('SELECT id, uuid FROM "Gpu"');
  const gpuIdByUuid = new Map(rows.map((r) => [r.uuid, r.id]));
  await pool.query('CREATE TABLE IF NOT EXISTS "BenchRollupCopy" (LIKE "GpuRollup" INCLUDING ALL)');

  let oursRows = 0;
  let oursMs = 0;
  let copyRows = 0;
  let copyMs = 0;
  for (let round = 0; round < rounds; round++) {
    // One frame per node in a bucket of its own: one rollup row per GPU.
    const bucket = Date.UTC(2020, 0, 1) + round * 10_000;
    const writer = new RollupWriter(pool);
    for (const node of nodes) {
      const frame = benchFrame(node, round + 1, bucket);
      writer.add(
        node.nodeId,
        '0',
        {
          ...frame,
          gpus: frame.gpus.map((g) => ({ ...g, remappedRowsPending: false, remappedRowsFailed: false })),
        },
        node.gpuUuids.map((u) => gpuIdByUuid.get(u)!),
      );
    }
    const started = performance.now();
    await writer.flush({ all: true });
    oursMs += performance.now() - started;
    oursRows += writer.rowsWritten;

    // The same rows, as COPY text.
    const lines: string[] = [];
    for (const node of nodes) {
      const frame = benchFrame(node, round + 1, bucket);
      frame.gpus.forEach((g, i) => {
        const id = gpuIdByUuid.get(node.gpuUuids[i]!)!;
        const ts = new Date(bucket).toISOString().replace('T', ' ').replace('Z', '');
        lines.push(
          [
            id,
            10,
            ts,
            1,
            g.utilizationPct,
            g.utilizationPct,
            g.utilizationPct,
            g.memoryUsedMiB,
            g.memoryUsedMiB,
            g.powerW,
            g.powerW,
            g.temperatureC,
            g.temperatureC,
            g.smClockMHz,
            0,
            0,
          ].join('\t'),
        );
      });
    }
    const client = await pool.connect();
    try {
      const copyStarted = performance.now();
      await pipeline(
        Readable.from([`${lines.join('\n')}\n`]),
        client.query(copyFrom('COPY "BenchRollupCopy" FROM STDIN')),
      );
      copyMs += performance.now() - copyStarted;
      copyRows += lines.length;
    } finally {
      client.release();
    }
  }
  await pool.query('DROP TABLE "BenchRollupCopy"');
  return {
    oursRowsPerSecond: (oursRows / oursMs) * 1000,
    copyRowsPerSecond: (copyRows / copyMs) * 1000,
    rowsPerRound: oursRows / rounds,
  };
}
