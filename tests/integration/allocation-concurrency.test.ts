import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AllocationChangeView, ChangeInput, OwnerRef } from '../../lib/allocation/types';
import type { Db } from '../../server/db/client';
import { AppError } from '../../server/errors';
import { AllocationService } from '../../server/services/allocation/allocation-service';
import { type Actor, toOwnerRef } from '../../server/services/allocation/changes';
import type { AgentCommandChannel } from '../../server/services/allocation/dispatcher';
import { seedDemoFleet } from '../../server/services/demo/seed';
import { FleetCatalog } from '../../server/services/fleet/catalog';
import { LiveTelemetry } from '../../server/services/telemetry/live-telemetry';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * Many clients fire random allocation changes at once against a real Postgres, while the
 * nodes confirm or fail at random. Afterwards: every GPU's history is one unbroken chain of
 * owners (no change was lost, none applied over another), the final owners are what that
 * chain says, and every deployment still holds whole replicas on each node.
 */
let database: TestDatabase;
let db: Db;
let catalog: FleetCatalog;
let service: AllocationService;

/** Agents that answer after a random delay and fail about one change in five. */
function flakyAgents(random: () => number): AgentCommandChannel {
  return {
    async sendAllocation() {
      await new Promise((r) => setTimeout(r, random() * 40));
      return random() < 0.2 ? { ok: false, error: 'simulated failure' } : { ok: true };
    },
    notifyAssignments() {},
  };
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
  await seedDemoFleet(db);
  catalog = new FleetCatalog(db);
  await catalog.refresh();
  for (const node of catalog.nodes.values()) node.status = 'online';
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  service = new AllocationService({
    db,
    catalog,
    agents: flakyAgents(random),
    publish: () => {},
    telemetry: new LiveTelemetry(catalog),
    ackTimeoutMs: 1_000,
  });
});
afterAll(async () => {
  await service?.dispatcher.settled();
  await database?.drop();
});

type Op = { kind: 'grow' | 'release' | 'shuffle'; deployment: number; node: number; pick: number };

const ZOp: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom('grow', 'release', 'shuffle'),
  deployment: fc.nat(),
  node: fc.nat(),
  pick: fc.nat(),
});

/** Reads the state like a client would, and turns one random intent into a change. */
async function changeFor(op: Op, client: number): Promise<ChangeInput> {
  const [deployments, allocations, gpus] = await Promise.all([
    db.deployment.findMany({ orderBy: { name: 'asc' } }),
    db.allocation.findMany(),
    db.gpu.findMany({ orderBy: [{ nodeId: 'asc' }, { index: 'asc' }] }),
  ]);
  const owner = new Map(allocations.map((a) => [a.gpuId, a]));
  const d = deployments[op.deployment % deployments.length]!;
  const nodeIds = [...new Set(gpus.map((g) => g.nodeId))];
  const nodeId = nodeIds[op.node % nodeIds.length]!;
  const onNode = gpus.filter((g) => g.nodeId === nodeId);
  const versions: Record<string, number> = {};
  for (const x of deployments) versions[x.id] = x.version;

  let moves: ChangeInput['moves'];
  if (op.kind === 'grow') {
    const free = onNode.filter((g) => !owner.has(g.id));
    moves = free.slice(0, d.gpusPerReplica).map((g) => ({ gpuId: g.id, to: { deploymentId: d.id } }));
  } else if (op.kind === 'release') {
    const held = onNode.filter((g) => owner.get(g.id)?.deploymentId === d.id);
    moves = held.slice(0, d.gpusPerReplica).map((g) => ({ gpuId: g.id, to: null }));
  } else {
    // Anything at all, often against the rules: refusals must leave no trace.
    const gpu = gpus[op.pick % gpus.length]!;
    moves = [{ gpuId: gpu.id, to: op.pick % 3 === 0 ? null : { deploymentId: d.id } }];
  }
  if (moves.length === 0) moves = [{ gpuId: onNode[op.pick % onNode.length]!.id, to: null }];
  return { moves, baseVersions: versions, reason: `client ${client}: ${op.kind}` };
}

type Acknowledged = { change: AllocationChangeView; input: ChangeInput; at: number };

it('never gives a GPU two owners and never loses an acknowledged change', async () => {
  const initial = new Map(
    (await db.allocation.findMany()).map((a) => [a.gpuId, toOwnerRef(a)] as [string, OwnerRef]),
  );
  const acknowledged: Acknowledged[] = [];
  const refusals = new Map<string, number>();

  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(ZOp, { minLength: 3, maxLength: 8 }), { minLength: 4, maxLength: 8 }),
      async (clients) => {
        await Promise.all(
          clients.map(async (ops, client) => {
            const actor: Actor = { kind: 'user', id: null, name: `client-${client}` };
            for (const op of ops) {
              try {
                const input = await changeFor(op, client);
                const result = await service.submit(actor, input);
                if ('dryRun' in result) throw new Error('unexpected dry run');
                acknowledged.push({ change: result, input, at: performance.now() });
              } catch (error) {
                if (!(error instanceof AppError)) throw error;
                refusals.set(error.code, (refusals.get(error.code) ?? 0) + 1);
              }
            }
          }),
        );
        await service.dispatcher.settled();
      },
    ),
    { numRuns: 6, seed: 20261129 },
  );

  // The run must have exercised the interesting paths, or it proves nothing.
  const stored = await db.allocationChange.findMany({ include: { moves: true } });
  expect(acknowledged.length).toBeGreaterThan(20);
  expect(stored.filter((c) => c.state === 'applied').length).toBeGreaterThan(5);
  expect(stored.filter((c) => c.state === 'rolled_back').length).toBeGreaterThan(0);
  expect(refusals.get('CONFLICT') ?? 0).toBeGreaterThan(0);
  expect(refusals.get('BAD_REQUEST') ?? 0).toBeGreaterThan(0);

  // Every acknowledged change is stored, finished, and nothing else was stored.
  const byId = new Map(stored.map((c) => [c.id, c]));
  expect(stored).toHaveLength(acknowledged.length);
  for (const { change } of acknowledged) {
    const row = byId.get(change.id);
    expect(row, `change ${change.id}`).toBeDefined();
    expect(['applied', 'rolled_back']).toContain(row!.state);
  }

  // No change was applied on a stale reading: each moved its owners' versions on by exactly one.
  for (const { change, input } of acknowledged) {
    for (const [owner, version] of Object.entries(change.versions)) {
      expect(version, `change ${change.id} owner ${owner}`).toBe(input.baseVersions[owner]! + 1);
    }
  }

  // Per GPU, changes are serialized: acknowledged in order, each starts from the owner the
  // previous applied change left, and the final owner is the chain's last.
  const expected = new Map(initial);
  const ordered = [...acknowledged].sort((a, b) => a.at - b.at);
  for (const { change } of ordered) {
    const row = byId.get(change.id)!;
    for (const move of row.moves) {
      const from = toOwnerRef({ deploymentId: move.fromDeploymentId, jobId: move.fromJobId });
      expect(from, `change ${change.id} GPU ${move.gpuId}`).toEqual(expected.get(move.gpuId) ?? null);
      if (row.state === 'applied') {
        expected.set(move.gpuId, toOwnerRef({ deploymentId: move.toDeploymentId, jobId: move.toJobId }));
      }
    }
  }
  const final = await db.allocation.findMany();
  const finalOwners = new Map(final.map((a) => [a.gpuId, toOwnerRef(a)]));
  for (const gpu of await db.gpu.findMany({ select: { id: true } })) {
    expect(finalOwners.get(gpu.id) ?? null, `GPU ${gpu.id}`).toEqual(expected.get(gpu.id) ?? null);
  }

  // Whole replicas on every node, for every deployment.
  const held = await db.$queryRaw<{ name: string; gpusPerReplica: number; count: number }[]>`
    SELECT d."name", d."gpusPerReplica", count(*)::int AS count
    FROM "Allocation" a JOIN "Deployment" d ON d."id" = a."deploymentId" JOIN "Gpu" g ON g."id" = a."gpuId"
    GROUP BY d."name", d."gpusPerReplica", g."nodeId"`;
  for (const row of held) expect(row.count % row.gpusPerReplica, row.name).toBe(0);
});

it('rolls back a committed change that cannot be sent to its nodes, instead of holding its GPUs', async () => {
  // A catalog whose reload fails once, right after the change commits.
  const failing = new FleetCatalog(db);
  await failing.refresh();
  for (const node of failing.nodes.values()) node.status = 'online';
  let failNext = true;
  const refresh = failing.refresh.bind(failing);
  failing.refresh = () => {
    if (!failNext) return refresh();
    failNext = false;
    return Promise.reject(new Error('database connection lost'));
  };
  const sent: string[] = [];
  const lonely = new AllocationService({
    db,
    catalog: failing,
    agents: {
      async sendAllocation(nodeId) {
        sent.push(nodeId);
        return { ok: true };
      },
      notifyAssignments() {},
    },
    publish: () => {},
    telemetry: new LiveTelemetry(failing),
    ackTimeoutMs: 1_000,
  });
  // Any one-GPU-replica deployment with room left (the run above moved GPUs at random).
  const deployments = await db.deployment.findMany({
    where: { gpusPerReplica: 1 },
    include: { _count: { select: { allocations: true } } },
  });
  const target = deployments.find((d) => d._count.allocations < d.maxGpus)!;
  const owned = new Set((await db.allocation.findMany()).map((a) => a.gpuId));
  const gpu = (await db.gpu.findMany({ where: { cordoned: false } })).find((g) => !owned.has(g.id))!;

  const change = await lonely.submit(
    { kind: 'user', id: null, name: 'tester' },
    {
      moves: [{ gpuId: gpu.id, to: { deploymentId: target.id } }],
      baseVersions: { [target.id]: target.version },
      reason: 'x',
    },
  );
  if ('dryRun' in change) throw new Error('unexpected dry run');
  expect(change.state).toBe('rolled_back');
  expect(change.outcome).toBe('Rolled back: it could not be sent to the nodes');
  expect(sent).toEqual([]);
  expect(await db.allocation.findUnique({ where: { gpuId: gpu.id } })).toBeNull();
});
