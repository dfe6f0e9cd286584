import { createHash } from 'node:crypto';
import {
  type AllocationChangeView,
  type ChangeInput,
  type ChangeMove,
  type ChangeState,
  type DryRunResult,
  type MoveInput,
  type NodeApplyState,
  type OwnerRef,
  ZChangeInput,
} from '../../../lib/allocation/types';
import type { Db } from '../../db/client';
import { AppError } from '../../errors';
import { Prisma } from '../../generated/prisma/client';
import { type AuditActor, recordAudit } from '../audit/audit-log';
import type { FleetCatalog } from '../fleet/catalog';
import {
  deploymentRuleViolation,
  ineligibility,
  ownerId,
  type RuleDeployment,
  type RuleGpu,
  sameOwner,
} from './rules';

/** Who asks for a change: a person, an API token, or the automatic planner. */
export type Actor = AuditActor;

export type NodeResult = { nodeId: string; hostname: string; state: NodeApplyState; error: string | null };

type Tx = Prisma.TransactionClient;
type LockedGpu = RuleGpu & { index: number };
type LockedDeployment = RuleDeployment & { version: number };
type LockedJob = { id: string; name: string; version: number; state: string };

const IN_FLIGHT: ChangeState[] = ['pending', 'applying'];

export type CommittedChange = { view: AllocationChangeView; replayed: boolean };
/** A dry run: what would change; the service adds the predicted effect. */
export type DryRunOutcome = Omit<DryRunResult, 'effects'> & {
  counts: Map<string, { before: number; after: number }>;
};

/**
 * Validates and commits one allocation change: every GPU's new owner, under row locks, with
 * optimistic concurrency on the versions of the deployments and jobs it touches. Applying it
 * on the machines is the dispatcher's job (dispatcher.ts); this only decides and records.
 *
 * Lock order is always GPUs, then deployments, then jobs, each sorted by id, so concurrent
 * changes queue behind each other instead of deadlocking.
 */
export async function commitChange(
  db: Db,
  catalog: FleetCatalog,
  actor: Actor,
  rawInput: ChangeInput,
): Promise<CommittedChange | DryRunOutcome> {
  const input = ZChangeInput.parse(rawInput);
  const requestHash = hashRequest(input.moves, input.baseVersions, input.reason, input.source);
  const scopedKey = input.idempotencyKey ? `${actor.kind}:${actor.id ?? '-'}:${input.idempotencyKey}` : null;

  if (scopedKey && !input.dryRun) {
    const earlier = await replayByKey(db, catalog, scopedKey, requestHash);
    if (earlier) return earlier;
  }
  refuseDuplicateGpus(input.moves);

  try {
    return await db.$transaction(
      async (tx) => {
        const plan = await validate(tx, catalog, input.moves, input.baseVersions);
        if (input.dryRun)
          return { dryRun: true, moves: plan.moves, counts: plan.counts, versions: plan.versionsBefore };
        const change = await write(tx, actor, input.reason, input.source, scopedKey, requestHash, plan);
        return { view: toView(change, catalog), replayed: false };
      },
      { timeout: 15_000 },
    );
  } catch (error) {
    const racedItself =
      isUniqueViolation(error) || (error instanceof AppError && error.details?.busyChangeId !== undefined);
    if (scopedKey && racedItself) {
      // The same request raced itself (a client retried while the first was in flight): it
      // either hit the key's unique index or found the GPUs held by its own first attempt.
      const earlier = await replayByKey(db, catalog, scopedKey, requestHash);
      if (earlier) return earlier;
    }
    if (isLockConflict(error)) {
      throw new AppError('CONFLICT', 'Another change to the same GPUs committed first; read the board again');
    }
    throw error;
  }
}

export type ValidatedChange = {
  moves: ChangeMove[];
  gpus: Map<string, LockedGpu>;
  deployments: Map<string, LockedDeployment>;
  jobs: Map<string, LockedJob>;
  /** Deployment GPU counts before and after, for the predicted effect. */
  counts: Map<string, { before: number; after: number }>;
  versionsBefore: Record<string, number>;
};

async function validate(
  tx: Tx,
  catalog: FleetCatalog,
  moves: MoveInput[],
  baseVersions: Record<string, number>,
): Promise<ValidatedChange> {
  const gpuIds = [...new Set(moves.map((m) => m.gpuId))].sort();
  const gpus = await lockGpus(tx, gpuIds);
  // Liveness is tracked in memory (node-health.ts) and reaches the database only lazily.
  for (const gpu of gpus.values()) gpu.nodeStatus = catalog.nodes.get(gpu.nodeId)?.status ?? gpu.nodeStatus;
  moves.forEach((move, i) => {
    if (!gpus.has(move.gpuId)) throw new AppError('NOT_FOUND', `moves.${i}.gpuId: no GPU ${move.gpuId}`);
  });

  const busy = await tx.allocationMove.findMany({
    where: { gpuId: { in: gpuIds }, change: { state: { in: IN_FLIGHT } } },
    select: { gpuId: true, changeId: true },
  });
  if (busy.length > 0) {
    const gpu = gpus.get(busy[0]!.gpuId)!;
    throw new AppError(
      'CONFLICT',
      `GPU ${gpu.label} is being moved by change ${busy[0]!.changeId}; wait for it to finish`,
      { busyChangeId: busy[0]!.changeId },
    );
  }

  const current = new Map(
    (
      await tx.allocation.findMany({
        where: { gpuId: { in: gpuIds } },
        select: { gpuId: true, deploymentId: true, jobId: true },
      })
    ).map((a) => [a.gpuId, toOwnerRef(a)]),
  );

  const deploymentIds = new Set<string>();
  const jobIds = new Set<string>();
  const note = (owner: OwnerRef) => {
    if (owner && 'deploymentId' in owner) deploymentIds.add(owner.deploymentId);
    else if (owner) jobIds.add(owner.jobId);
  };
  for (const move of moves) {
    note(current.get(move.gpuId) ?? null);
    note(move.to);
  }
  const deployments = await lockDeployments(tx, [...deploymentIds].sort());
  const jobs = await lockJobs(tx, [...jobIds].sort());

  const versionsBefore: Record<string, number> = {};
  for (const d of deployments.values()) versionsBefore[d.id] = d.version;
  for (const j of jobs.values()) versionsBefore[j.id] = j.version;

  const changeMoves: ChangeMove[] = moves.map((move, i) => {
    const gpu = gpus.get(move.gpuId)!;
    const from = current.get(move.gpuId) ?? null;
    const to = move.to;
    const toId = ownerId(to);
    if (to && 'deploymentId' in to && !deployments.has(to.deploymentId)) {
      throw new AppError('NOT_FOUND', `moves.${i}.to.deploymentId: no deployment ${to.deploymentId}`);
    }
    if (to && 'jobId' in to) {
      const job = jobs.get(to.jobId);
      if (!job) throw new AppError('NOT_FOUND', `moves.${i}.to.jobId: no job ${to.jobId}`);
      if (job.state !== 'queued' && job.state !== 'running') {
        throw new AppError('BAD_REQUEST', `moves.${i}.to.jobId: job ${job.name} is ${job.state}`);
      }
    }
    if (sameOwner(from, to)) {
      throw new AppError(
        'BAD_REQUEST',
        `moves.${i}: GPU ${gpu.label} already belongs to ${ownerName(to, deployments, jobs)}`,
      );
    }
    if (toId) {
      const why = ineligibility(gpu);
      if (why) throw new AppError('BAD_REQUEST', `moves.${i}.gpuId: ${why}; it cannot take a new owner`);
    }
    return { gpuId: gpu.id, gpuLabel: gpu.label, nodeId: gpu.nodeId, from, to };
  });

  // Optimistic concurrency: every owner involved must be named at its current version.
  const stale: string[] = [];
  for (const [id, version] of Object.entries(versionsBefore)) {
    const named = baseVersions[id];
    const name = deployments.get(id)?.name ?? jobs.get(id)?.name ?? id;
    if (named === undefined) stale.push(`${name} (version ${version}) was not in baseVersions`);
    else if (named !== version) stale.push(`${name} is at version ${version}, not ${named}`);
  }
  if (stale.length > 0) {
    throw new AppError('CONFLICT', `The allocation changed since it was read: ${stale.join('; ')}`, {
      current: versionsBefore,
    });
  }

  const counts = await checkDeploymentRules(tx, changeMoves, gpus, deployments);
  return { moves: changeMoves, gpus, deployments, jobs, counts, versionsBefore };
}

async function checkDeploymentRules(
  tx: Tx,
  moves: ChangeMove[],
  gpus: Map<string, LockedGpu>,
  deployments: Map<string, LockedDeployment>,
): Promise<Map<string, { before: number; after: number }>> {
  const ids = [...deployments.keys()];
  // The deployments are locked, so their current GPUs cannot change under us.
  const held = await tx.$queryRaw<
    { deploymentId: string; nodeId: string; hostname: string; count: number }[]
  >`
    SELECT a."deploymentId", g."nodeId", n."hostname", count(*)::int AS count
    FROM "Allocation" a JOIN "Gpu" g ON g."id" = a."gpuId" JOIN "Node" n ON n."id" = g."nodeId"
    WHERE a."deploymentId" = ANY(${ids}::text[])
    GROUP BY a."deploymentId", g."nodeId", n."hostname"`;
  const perNode = new Map<string, Map<string, { hostname: string; count: number }>>();
  const totals = new Map<string, { before: number; after: number }>();
  for (const id of ids) {
    perNode.set(id, new Map());
    totals.set(id, { before: 0, after: 0 });
  }
  for (const row of held) {
    perNode.get(row.deploymentId)!.set(row.nodeId, { hostname: row.hostname, count: row.count });
    const t = totals.get(row.deploymentId)!;
    t.before += row.count;
    t.after += row.count;
  }
  const touchedNodes = new Map<string, Set<string>>();
  const shift = (owner: OwnerRef, gpu: LockedGpu, delta: number) => {
    if (!owner || !('deploymentId' in owner)) return;
    const id = owner.deploymentId;
    const nodes = perNode.get(id)!;
    const entry = nodes.get(gpu.nodeId) ?? { hostname: gpu.hostname, count: 0 };
    entry.count += delta;
    nodes.set(gpu.nodeId, entry);
    totals.get(id)!.after += delta;
    const touched = touchedNodes.get(id) ?? new Set();
    touched.add(gpu.nodeId);
    touchedNodes.set(id, touched);
  };
  for (const move of moves) {
    const gpu = gpus.get(move.gpuId)!;
    shift(move.from, gpu, -1);
    shift(move.to, gpu, +1);
  }
  for (const [id, touched] of touchedNodes) {
    const deployment = deployments.get(id)!;
    const total = totals.get(id)!;
    const nodes = new Map([...touched].map((nodeId) => [nodeId, perNode.get(id)!.get(nodeId)!]));
    const violation = deploymentRuleViolation(deployment, total.before, total.after, nodes);
    if (violation) throw new AppError('BAD_REQUEST', violation, { deploymentId: id });
  }
  return totals;
}

async function write(
  tx: Tx,
  actor: Actor,
  reason: string,
  source: 'manual' | 'plan' | 'auto',
  idempotencyKey: string | null,
  requestHash: string,
  plan: ValidatedChange,
) {
  for (const move of plan.moves) {
    if (!move.to) {
      await tx.allocation.delete({ where: { gpuId: move.gpuId } });
      continue;
    }
    const owner =
      'deploymentId' in move.to
        ? { deploymentId: move.to.deploymentId, jobId: null }
        : { deploymentId: null, jobId: move.to.jobId };
    await tx.allocation.upsert({
      where: { gpuId: move.gpuId },
      create: { gpuId: move.gpuId, ...owner, reason, createdById: actor.kind === 'user' ? actor.id : null },
      update: { ...owner, reason, since: new Date(), createdById: actor.kind === 'user' ? actor.id : null },
    });
  }
  const versions = await bumpVersions(tx, plan.deployments, plan.jobs);
  // Every locked GPU is moved, so their nodes are exactly the nodes that must confirm.
  const hostnames = new Map([...plan.gpus.values()].map((g) => [g.nodeId, g.hostname]));
  const nodes: NodeResult[] = [...hostnames].map(([nodeId, hostname]) => ({
    nodeId,
    hostname,
    state: 'pending',
    error: null,
  }));
  const change = await tx.allocationChange.create({
    data: {
      source,
      reason,
      actorType: actor.kind,
      actorId: actor.id,
      actorName: actor.name,
      idempotencyKey,
      requestHash,
      versions,
      nodes,
      moves: {
        create: plan.moves.map((m) => ({
          gpuId: m.gpuId,
          fromDeploymentId: m.from && 'deploymentId' in m.from ? m.from.deploymentId : null,
          fromJobId: m.from && 'jobId' in m.from ? m.from.jobId : null,
          toDeploymentId: m.to && 'deploymentId' in m.to ? m.to.deploymentId : null,
          toJobId: m.to && 'jobId' in m.to ? m.to.jobId : null,
        })),
      },
    },
    include: { moves: true },
  });
  await recordAudit(tx, {
    actor,
    action: 'allocation.change',
    targetType: 'allocation_change',
    targetId: change.id,
    reason,
    outcome: 'committed',
    details: {
      source,
      moves: plan.moves.map((m) => ({ gpu: m.gpuLabel, from: m.from, to: m.to })),
      versions,
    } as Prisma.InputJsonValue,
  });
  return change;
}

/** Bumps every touched deployment's and job's version; returns the new versions. */
export async function bumpVersions(
  tx: Tx,
  deployments: Map<string, unknown>,
  jobs: Map<string, unknown>,
): Promise<Record<string, number>> {
  const versions: Record<string, number> = {};
  const deploymentIds = [...deployments.keys()];
  const jobIds = [...jobs.keys()];
  if (deploymentIds.length > 0) {
    const rows = await tx.$queryRaw<{ id: string; version: number }[]>`
      UPDATE "Deployment" SET "version" = "version" + 1, "updatedAt" = now()
      WHERE "id" = ANY(${deploymentIds}::text[]) RETURNING "id", "version"`;
    for (const row of rows) versions[row.id] = row.version;
  }
  if (jobIds.length > 0) {
    const rows = await tx.$queryRaw<{ id: string; version: number }[]>`
      UPDATE "Job" SET "version" = "version" + 1 WHERE "id" = ANY(${jobIds}::text[]) RETURNING "id", "version"`;
    for (const row of rows) versions[row.id] = row.version;
  }
  return versions;
}

export async function lockGpus(tx: Tx, ids: string[]): Promise<Map<string, LockedGpu>> {
  if (ids.length === 0) return new Map();
  const rows = await tx.$queryRaw<
    {
      id: string;
      index: number;
      nodeId: string;
      hostname: string;
      health: LockedGpu['health'];
      cordoned: boolean;
      nodeCordoned: boolean;
      nodeStatus: LockedGpu['nodeStatus'];
    }[]
  >`
    SELECT g."id", g."index", g."nodeId", n."hostname", g."health"::text AS health, g."cordoned",
           n."cordoned" AS "nodeCordoned", n."status"::text AS "nodeStatus"
    FROM "Gpu" g JOIN "Node" n ON n."id" = g."nodeId"
    WHERE g."id" = ANY(${ids}::text[])
    ORDER BY g."id"
    FOR UPDATE OF g`;
  return new Map(rows.map((r) => [r.id, { ...r, label: `${r.hostname}/${r.index}` }]));
}

export async function lockDeployments(tx: Tx, ids: string[]): Promise<Map<string, LockedDeployment>> {
  if (ids.length === 0) return new Map();
  const rows = await tx.$queryRaw<LockedDeployment[]>`
    SELECT "id", "name", "minGpus", "maxGpus", "gpusPerReplica", "version"
    FROM "Deployment" WHERE "id" = ANY(${ids}::text[]) ORDER BY "id" FOR UPDATE`;
  return new Map(rows.map((r) => [r.id, r]));
}

export async function lockJobs(tx: Tx, ids: string[]): Promise<Map<string, LockedJob>> {
  if (ids.length === 0) return new Map();
  const rows = await tx.$queryRaw<LockedJob[]>`
    SELECT "id", "name", "version", "state"::text AS state
    FROM "Job" WHERE "id" = ANY(${ids}::text[]) ORDER BY "id" FOR UPDATE`;
  return new Map(rows.map((r) => [r.id, r]));
}

function refuseDuplicateGpus(moves: MoveInput[]): void {
  const seen = new Map<string, number>();
  moves.forEach((move, i) => {
    const first = seen.get(move.gpuId);
    if (first !== undefined) {
      throw new AppError('BAD_REQUEST', `moves.${i}.gpuId: GPU ${move.gpuId} is already in moves.${first}`);
    }
    seen.set(move.gpuId, i);
  });
}

async function replayByKey(
  db: Db,
  catalog: FleetCatalog,
  scopedKey: string,
  requestHash: string,
): Promise<CommittedChange | null> {
  const earlier = await db.allocationChange.findUnique({
    where: { idempotencyKey: scopedKey },
    include: { moves: true },
  });
  if (!earlier) return null;
  if (earlier.requestHash !== requestHash) {
    throw new AppError(
      'CONFLICT',
      'idempotencyKey: this key was already used for a different change; use a new key per change',
      { changeId: earlier.id },
    );
  }
  return { view: toView(earlier, catalog), replayed: true };
}

function hashRequest(
  moves: MoveInput[],
  baseVersions: Record<string, number>,
  reason: string,
  source: string,
): string {
  const canonical = JSON.stringify({
    moves: [...moves].sort((a, b) => a.gpuId.localeCompare(b.gpuId)),
    baseVersions: Object.entries(baseVersions).sort(([a], [b]) => a.localeCompare(b)),
    reason,
    source,
  });
  return createHash('sha256').update(canonical).digest('hex');
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
}

/** Deadlocks and serialization failures: another change won the race. */
function isLockConflict(error: unknown): boolean {
  const text = error instanceof Error ? error.message : '';
  return (
    (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2034') ||
    /deadlock detected|could not serialize/i.test(text)
  );
}

function ownerName(
  owner: OwnerRef,
  deployments: Map<string, LockedDeployment>,
  jobs: Map<string, LockedJob>,
) {
  if (!owner) return 'the free pool';
  if ('deploymentId' in owner) return deployments.get(owner.deploymentId)?.name ?? owner.deploymentId;
  return jobs.get(owner.jobId)?.name ?? owner.jobId;
}

export function toOwnerRef(row: { deploymentId: string | null; jobId: string | null }): OwnerRef {
  if (row.deploymentId) return { deploymentId: row.deploymentId };
  if (row.jobId) return { jobId: row.jobId };
  return null;
}

type ChangeRow = Prisma.AllocationChangeGetPayload<{ include: { moves: true } }>;

export function toView(change: ChangeRow, catalog: FleetCatalog): AllocationChangeView {
  return {
    id: change.id,
    state: change.state,
    source: change.source,
    reason: change.reason,
    actorName: change.actorName,
    createdAt: change.createdAt.toISOString(),
    finishedAt: change.finishedAt?.toISOString() ?? null,
    outcome: change.outcome,
    moves: change.moves.map((m) => {
      const gpu = catalog.gpus.get(m.gpuId);
      const node = gpu ? catalog.nodes.get(gpu.nodeId) : undefined;
      return {
        gpuId: m.gpuId,
        gpuLabel: gpu && node ? `${node.hostname}/${gpu.index}` : m.gpuId,
        nodeId: gpu?.nodeId ?? '',
        from: toOwnerRef({ deploymentId: m.fromDeploymentId, jobId: m.fromJobId }),
        to: toOwnerRef({ deploymentId: m.toDeploymentId, jobId: m.toJobId }),
      };
    }),
    nodes: change.nodes as NodeResult[],
    versions: change.versions as Record<string, number>,
  };
}

export async function getChange(db: Db, catalog: FleetCatalog, id: string): Promise<AllocationChangeView> {
  const change = await db.allocationChange.findUnique({ where: { id }, include: { moves: true } });
  if (!change) throw new AppError('NOT_FOUND', `id: no allocation change ${id}`);
  return toView(change, catalog);
}

export async function listChanges(
  db: Db,
  catalog: FleetCatalog,
  query: { limit: number; before?: string; state?: ChangeState },
): Promise<{ items: AllocationChangeView[]; nextBefore: string | null }> {
  const rows = await db.allocationChange.findMany({
    where: {
      ...(query.state ? { state: query.state } : {}),
      ...(query.before ? { createdAt: { lt: new Date(query.before) } } : {}),
    },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: query.limit + 1,
    include: { moves: true },
  });
  const items = rows.slice(0, query.limit).map((row) => toView(row, catalog));
  const nextBefore = rows.length > query.limit ? (items.at(-1)?.createdAt ?? null) : null;
  return { items, nextBefore };
}
