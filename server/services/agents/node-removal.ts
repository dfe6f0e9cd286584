import { AppError } from '../../errors';
import { logger } from '../../log';
import type { Runtime } from '../../runtime';
import type { AuditActor } from '../audit/audit-log';
import { recordAudit } from '../audit/audit-log';
import { closeRevokedSockets } from './enrollment';

const log = logger('agents');

export type RemovedNode = { id: string; hostname: string; clusterName: string; gpusRemoved: number };

/**
 * Removes a node from the fleet: its credentials are revoked, its agent is told `revoked` and
 * disconnected, and the node is deleted with its GPUs, credentials, replacement tokens, their
 * per-GPU rollups and any telemetry still journaled (all by ON DELETE CASCADE). Per-deployment
 * rollups are per deployment, not per node, so the traffic history stays.
 *
 * Refused (409) while any of its GPUs belongs to a deployment or a job (deleting them would
 * shrink those silently: move them away with an allocation change first), or while an
 * allocation change is being applied on it. Audited with the reason.
 */
export async function removeNode(
  runtime: Pick<Runtime, 'db' | 'io' | 'ingest' | 'rollups' | 'catalog'>,
  input: { nodeId: string; reason: string; actor: AuditActor },
): Promise<RemovedNode> {
  const { db } = runtime;
  const node = await db.node.findUnique({ where: { id: input.nodeId }, include: { cluster: true } });
  if (!node) throw new AppError('NOT_FOUND', `nodeId: no node with id ${input.nodeId}`, { field: 'nodeId' });
  // Checked before anything changes, so a refused removal leaves the node working.
  await refuseWhileInUse(db, node.id, node.hostname);

  // No new connection from here on; then close the open ones.
  await db.nodeCredential.updateMany({
    where: { nodeId: node.id, revokedAt: null },
    data: { revokedAt: new Date() },
  });
  await closeRevokedSockets(db, runtime.io, node.id, 'node removed from the fleet');
  // Frames of this node already accepted are journaled and folded into rollups before its
  // GPUs go: the rollup writer holds them by GPU and could not write them afterwards.
  await runtime.ingest.settled();
  await runtime.rollups.flush({ all: true });

  const removed = await deleteNode(runtime, node, input).catch(async (error: unknown) => {
    // Taken by a deployment or a job meanwhile: the node stays, but its credentials are gone.
    await recordAudit(db, {
      actor: input.actor,
      action: 'node.remove',
      targetType: 'node',
      targetId: node.id,
      reason: input.reason,
      outcome: 'failed',
      details: { hostname: node.hostname, error: (error as Error).message, credentialsRevoked: true },
    });
    throw error;
  });
  await runtime.catalog.refresh();
  log.info(`removed node ${node.hostname} (${node.id}) with ${removed} GPUs`);
  return { id: node.id, hostname: node.hostname, clusterName: node.cluster.name, gpusRemoved: removed };
}

function deleteNode(
  runtime: Pick<Runtime, 'db'>,
  node: { id: string; hostname: string; cluster: { name: string } },
  input: { reason: string; actor: AuditActor },
): Promise<number> {
  return runtime.db.$transaction(async (tx) => {
    // Locking the GPUs holds off an allocation change that would take them meanwhile.
    await tx.$queryRaw`SELECT id FROM "Gpu" WHERE "nodeId" = ${node.id} ORDER BY id FOR UPDATE`;
    await refuseWhileInUse(tx, node.id, node.hostname);
    const gpus = await tx.gpu.count({ where: { nodeId: node.id } });
    await tx.node.delete({ where: { id: node.id } });
    await recordAudit(tx, {
      actor: input.actor,
      action: 'node.remove',
      targetType: 'node',
      targetId: node.id,
      reason: input.reason,
      details: { hostname: node.hostname, cluster: node.cluster.name, gpusRemoved: gpus },
    });
    return gpus;
  });
}

type RemovalReader = Pick<Runtime['db'], 'allocation' | 'allocationChange'>;

async function refuseWhileInUse(db: RemovalReader, nodeId: string, hostname: string): Promise<void> {
  const allocations = await db.allocation.findMany({
    where: { gpu: { nodeId } },
    select: {
      deployment: { select: { id: true, name: true } },
      job: { select: { id: true, name: true } },
    },
  });
  if (allocations.length > 0) {
    const owners = new Map<string, { kind: 'deployment' | 'job'; id: string; name: string; gpus: number }>();
    for (const { deployment, job } of allocations) {
      const owner = deployment
        ? { kind: 'deployment' as const, ...deployment }
        : { kind: 'job' as const, ...job! };
      const key = `${owner.kind}:${owner.id}`;
      const entry = owners.get(key) ?? { ...owner, gpus: 0 };
      entry.gpus++;
      owners.set(key, entry);
    }
    const list = [...owners.values()].map(
      (o) => `${o.kind} ${o.name} (${o.gpus} GPU${o.gpus === 1 ? '' : 's'})`,
    );
    throw new AppError(
      'CONFLICT',
      `nodeId: ${hostname} still has GPUs in use by ${list.join(', ')}; move them off the node with an allocation change, then remove it`,
      { field: 'nodeId', owners: [...owners.values()] },
    );
  }
  const inFlight = await db.allocationChange.findMany({
    where: { state: { in: ['pending', 'applying'] } },
    select: { id: true, nodes: true },
  });
  const applying = inFlight.find((change) =>
    (change.nodes as { nodeId?: string }[]).some((entry) => entry?.nodeId === nodeId),
  );
  if (applying) {
    throw new AppError(
      'CONFLICT',
      `nodeId: allocation change ${applying.id} is being applied on ${hostname}; try again once it has finished`,
      { field: 'nodeId', changeId: applying.id },
    );
  }
}
