import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { hashSecret } from '../server/auth/secrets';

export type BenchNode = { nodeId: string; hostname: string; credential: string; gpuUuids: string[] };

/**
 * Registers `count` nodes of 8 GPUs with a node credential each, straight into the
 * database (enrolling thousands of agents over HTTP one by one would only measure that).
 */
export async function createBenchFleet(pool: pg.Pool, count: number): Promise<BenchNode[]> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO "Cluster" (id, name) VALUES (gen_random_uuid()::text, 'bench') ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id`,
  );
  const clusterId = rows[0]!.id;
  const nodes: BenchNode[] = Array.from({ length: count }, (_, i) => ({
    nodeId: `bench-node-${i}`,
    hostname: `bench-${String(i).padStart(5, '0')}`,
    credential: `node_${randomBytes(24).toString('base64url')}`,
    gpuUuids: Array.from({ length: 8 }, (_, g) => `GPU-bench-${i}-${g}`),
  }));
  for (let start = 0; start < nodes.length; start += 1000) {
    const chunk = nodes.slice(start, start + 1000);
    await pool.query(
      `INSERT INTO "Node" (id, "clusterId", hostname, "updatedAt") SELECT id, $2, host, now() FROM unnest($1::text[], $3::text[]) AS u(id, host)`,
      [chunk.map((n) => n.nodeId), clusterId, chunk.map((n) => n.hostname)],
    );
    await pool.query(
      `INSERT INTO "NodeCredential" (id, "nodeId", "tokenHash") SELECT gen_random_uuid()::text, node, hash FROM unnest($1::text[], $2::text[]) AS u(node, hash)`,
      [chunk.map((n) => n.nodeId), chunk.map((n) => hashSecret(n.credential))],
    );
    const gpus = chunk.flatMap((n) => n.gpuUuids.map((uuid, index) => ({ node: n.nodeId, uuid, index })));
    await pool.query(
      `INSERT INTO "Gpu" (id, "nodeId", index, uuid, "modelName", "memoryTotalMiB", "updatedAt")
       SELECT gen_random_uuid()::text, node, idx, uuid, 'NVIDIA H100 80GB HBM3', 81559, now()
       FROM unnest($1::text[], $2::int[], $3::text[]) AS u(node, idx, uuid)`,
      [gpus.map((g) => g.node), gpus.map((g) => g.index), gpus.map((g) => g.uuid)],
    );
  }
  return nodes;
}

/** One 8-GPU telemetry frame, as an agent sends it. */
export function benchFrame(node: BenchNode, seq: number, sampledAt: number) {
  return {
    seq,
    sampledAt,
    intervalMs: 1000,
    gpus: node.gpuUuids.map((uuid, g) => ({
      uuid,
      utilizationPct: (seq * 7 + g * 13) % 100,
      memoryUsedMiB: 40_000 + ((seq + g) % 1000),
      memoryTotalMiB: 81559,
      powerW: 350 + ((seq + g) % 300),
      temperatureC: 55 + (g % 10),
      smClockMHz: 1980,
      xidErrors: 0,
      eccErrors: 0,
    })),
    deployments: [],
  };
}
