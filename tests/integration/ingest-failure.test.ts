import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_NODES } from '../../lib/demo-fleet';
import type { TelemetryAck, TelemetryFrame } from '../../lib/protocol/agent';
import { LiveTelemetry } from '../../server/services/telemetry/live-telemetry';
import { RollupWriter } from '../../server/services/telemetry/rollup-writer';
import { SequenceTracker } from '../../server/services/telemetry/sequence-tracker';
import { TelemetryIngest } from '../../server/services/telemetry/telemetry-ingest';
import { startTestServer, type TestServer } from '../support/server';

/**
 * A journal commit that fails must not let later frames of the same node be stored ahead
 * of the failed ones: all of them are refused, and all are taken when resent.
 */
let server: TestServer;
let pool: pg.Pool;
beforeAll(async () => {
  server = await startTestServer();
  pool = new pg.Pool({ connectionString: server.database.url });
});
afterAll(async () => {
  await pool?.end();
  await server?.close();
});

describe('a failed journal commit', () => {
  it('refuses the node’s later frames too, and takes them all when resent', async () => {
    const node = DEMO_NODES[3]!;
    const { catalog } = server.runtime;
    const nodeId = [...catalog.nodes.values()].find((n) => n.hostname === node.hostname)!.id;
    const gpuIds = node.gpuUuids.map((uuid) => catalog.gpuIdByUuid.get(uuid)!);

    // The first journal INSERT fails, slowly, so later frames arrive while it is in flight.
    let failNext = true;
    const flaky = {
      query: async (...args: Parameters<pg.Pool['query']>) => {
        if (failNext && String(args[0]).includes('INSERT INTO "TelemetryJournal"')) {
          failNext = false;
          await new Promise((resolve) => setTimeout(resolve, 200));
          throw new Error('connection lost');
        }
        return (pool.query as (...a: unknown[]) => unknown)(...args);
      },
    } as unknown as pg.Pool;
    const failed: string[][] = [];
    const ingest = new TelemetryIngest(
      flaky,
      new SequenceTracker(),
      new LiveTelemetry(catalog),
      new RollupWriter(pool),
      (nodes) => failed.push(nodes),
    );
    const frame = (seq: number): TelemetryFrame => ({
      seq,
      sampledAt: Date.now(),
      intervalMs: 1000,
      gpus: node.gpuUuids.map((uuid) => ({
        uuid,
        utilizationPct: 50,
        memoryUsedMiB: 1,
        memoryTotalMiB: 2,
        powerW: null,
        temperatureC: null,
        smClockMHz: null,
        xidErrors: 0,
        eccErrors: 0,
        remappedRowsPending: false,
        remappedRowsFailed: false,
      })),
      deployments: [],
    });

    const first = [ingest.submit(nodeId, frame(1), gpuIds), ingest.submit(nodeId, frame(2), gpuIds)];
    await new Promise((resolve) => setTimeout(resolve, 80)); // the failing commit is in flight
    const later = [ingest.submit(nodeId, frame(3), gpuIds), ingest.submit(nodeId, frame(4), gpuIds)];
    const acks: TelemetryAck[] = await Promise.all([...first, ...later]);
    for (const ack of acks) expect(ack).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
    expect(failed).toEqual([[nodeId]]);
    expect(await server.database.db.telemetryJournal.count({ where: { nodeId } })).toBe(0);

    // The agent resends all four: none is mistaken for a duplicate.
    const resent = await Promise.all([1, 2, 3, 4].map((seq) => ingest.submit(nodeId, frame(seq), gpuIds)));
    expect(resent).toEqual([1, 2, 3, 4].map((seq) => ({ ok: true, seq, duplicate: false })));
    const stored = await server.database.db.telemetryJournal.findMany({
      where: { nodeId },
      orderBy: { seq: 'asc' },
    });
    expect(stored.map((row) => Number(row.seq))).toEqual([1, 2, 3, 4]);
  });
});

describe('a GPU removed while its frames wait for their rollup', () => {
  it('drops that GPU’s bucket and still writes the rest, instead of failing every flush', async () => {
    const node = DEMO_NODES[4]!;
    const { catalog } = server.runtime;
    const nodeId = [...catalog.nodes.values()].find((n) => n.hostname === node.hostname)!.id;
    const gpuIds = node.gpuUuids.map((uuid) => catalog.gpuIdByUuid.get(uuid)!);
    const writer = new RollupWriter(pool);
    const sampledAt = Date.now() - 60_000;
    const journal = await pool.query<{ id: string }>(
      `INSERT INTO "TelemetryJournal" ("nodeId", seq, "bucketStart", frame) VALUES ($1, 1, $2, '{}') RETURNING id::text`,
      [nodeId, new Date(sampledAt)],
    );
    const frame: TelemetryFrame = {
      seq: 1,
      sampledAt,
      intervalMs: 1000,
      gpus: node.gpuUuids.slice(0, 2).map((uuid) => ({
        uuid,
        utilizationPct: 50,
        memoryUsedMiB: 1,
        memoryTotalMiB: 2,
        powerW: null,
        temperatureC: null,
        smClockMHz: null,
        xidErrors: 0,
        eccErrors: 0,
        remappedRowsPending: false,
        remappedRowsFailed: false,
      })),
      deployments: [],
    };
    // The frame names a GPU that no longer exists (as after a node's removal).
    writer.add(nodeId, journal.rows[0]!.id, frame, [gpuIds[0]!, 'gpu-that-was-removed']);
    await writer.flush({ all: true });
    expect(writer.rowsWritten).toBe(1);
    expect(writer.pendingBuckets).toBe(0);
    const rows = await pool.query('SELECT "gpuId" FROM "GpuRollup" WHERE "gpuId" = ANY($1::text[])', [
      [gpuIds[0], 'gpu-that-was-removed'],
    ]);
    expect(rows.rows).toEqual([{ gpuId: gpuIds[0] }]);
    expect(
      (await pool.query('SELECT 1 FROM "TelemetryJournal" WHERE id = $1', [journal.rows[0]!.id])).rowCount,
    ).toBe(0);
  });
});
