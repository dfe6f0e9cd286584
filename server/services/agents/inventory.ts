import type { Assignments, Inventory } from '../../../lib/protocol/agent';
import type { Db } from '../../db/client';
import { AppError } from '../../errors';
import type { FleetCatalog } from '../fleet/catalog';

/** True when the catalog already holds exactly this inventory for the node (the usual reconnect). */
export function inventoryUnchanged(catalog: FleetCatalog, nodeId: string, inventory: Inventory): boolean {
  const known = catalog.gpuIdsByNode.get(nodeId) ?? [];
  if (known.length !== inventory.gpus.length) return false;
  return inventory.gpus.every((reported) => {
    const gpu = catalog.gpus.get(catalog.gpuIdByUuid.get(reported.uuid) ?? '');
    return (
      gpu !== undefined &&
      gpu.nodeId === nodeId &&
      gpu.index === reported.index &&
      gpu.modelName === reported.name &&
      gpu.memoryTotalMiB === reported.memoryTotalMiB
    );
  });
}

/**
 * Records what a node reports it has. A GPU UUID already registered on another node is
 * refused: an agent speaks only for its own node.
 */
export async function applyInventory(db: Db, nodeId: string, inventory: Inventory): Promise<void> {
  await db.$transaction(async (tx) => {
    const known = await tx.gpu.findMany({ where: { uuid: { in: inventory.gpus.map((g) => g.uuid) } } });
    const index = known.findIndex((g) => g.nodeId !== nodeId);
    if (index >= 0) {
      const position = inventory.gpus.findIndex((g) => g.uuid === known[index]!.uuid);
      throw new AppError('FORBIDDEN', `gpus.${position}.uuid: belongs to another node`, {
        field: `gpus.${position}.uuid`,
      });
    }
    // Indexes can shift when a GPU is replaced; clear ours first so the (nodeId, index) key holds.
    const uuids = inventory.gpus.map((g) => g.uuid);
    await tx.gpu.updateMany({
      where: { nodeId, uuid: { notIn: uuids } },
      data: { health: 'failed' },
    });
    for (const gpu of inventory.gpus) {
      await tx.gpu.deleteMany({ where: { nodeId, index: gpu.index, uuid: { not: gpu.uuid } } });
      await tx.gpu.upsert({
        where: { uuid: gpu.uuid },
        create: {
          nodeId,
          index: gpu.index,
          uuid: gpu.uuid,
          modelName: gpu.name,
          memoryTotalMiB: gpu.memoryTotalMiB,
        },
        update: { index: gpu.index, modelName: gpu.name, memoryTotalMiB: gpu.memoryTotalMiB },
      });
    }
    await tx.node.update({
      where: { id: nodeId },
      data: { agentVersion: inventory.agentVersion, status: 'online', lastHeartbeatAt: new Date() },
    });
  });
}

/** What each of a node's GPUs serves, and the deployments involved (for the simulator's routing). */
export function assignmentsFor(catalog: FleetCatalog, nodeId: string): Assignments {
  const gpuIds = catalog.gpuIdsByNode.get(nodeId) ?? [];
  const counts = catalog.gpuCountByDeployment();
  const deploymentIds = new Set<string>();
  const gpus = gpuIds.map((gpuId) => {
    const owner = catalog.owners.get(gpuId);
    if (owner?.deploymentId) deploymentIds.add(owner.deploymentId);
    return {
      uuid: catalog.gpus.get(gpuId)!.uuid,
      deploymentId: owner?.deploymentId ?? null,
      jobId: owner?.jobId ?? null,
    };
  });
  const deployments = [...deploymentIds].map((id) => {
    const d = catalog.deployments.get(id)!;
    return {
      id,
      name: d.name,
      gpusPerReplica: d.gpusPerReplica,
      totalGpus: counts.get(id) ?? 0,
      sloP95Ms: d.sloP95Ms,
    };
  });
  return { gpus, deployments };
}
