import type { Principal } from '../../auth/principal';
import type { Db } from '../../db/client';
import { AppError } from '../../errors';
import { recordAudit } from '../audit/audit-log';
import type { FleetCatalog } from './catalog';

/**
 * Cordoning takes a GPU, or every GPU of a node, out of allocation (it keeps running what
 * it has). Every change is audited with its reason.
 */
export async function setGpuCordon(
  db: Db,
  catalog: FleetCatalog,
  input: { gpuId: string; cordoned: boolean; reason: string; actor: Principal },
): Promise<{ id: string; cordoned: boolean }> {
  const gpu = await db.$transaction(async (tx) => {
    const found = await tx.gpu.findUnique({ where: { id: input.gpuId } });
    if (!found) throw new AppError('NOT_FOUND', `gpuId: no GPU with id ${input.gpuId}`);
    const updated = await tx.gpu.update({ where: { id: input.gpuId }, data: { cordoned: input.cordoned } });
    await recordAudit(tx, {
      actor: input.actor,
      action: input.cordoned ? 'gpu.cordon' : 'gpu.uncordon',
      targetType: 'gpu',
      targetId: input.gpuId,
      reason: input.reason,
      details: { uuid: found.uuid },
    });
    return updated;
  });
  await catalog.refresh();
  return { id: gpu.id, cordoned: gpu.cordoned };
}

export async function setNodeCordon(
  db: Db,
  catalog: FleetCatalog,
  input: { nodeId: string; cordoned: boolean; reason: string; actor: Principal },
): Promise<{ id: string; cordoned: boolean }> {
  const node = await db.$transaction(async (tx) => {
    const found = await tx.node.findUnique({ where: { id: input.nodeId } });
    if (!found) throw new AppError('NOT_FOUND', `nodeId: no node with id ${input.nodeId}`);
    const updated = await tx.node.update({ where: { id: input.nodeId }, data: { cordoned: input.cordoned } });
    await recordAudit(tx, {
      actor: input.actor,
      action: input.cordoned ? 'node.cordon' : 'node.uncordon',
      targetType: 'node',
      targetId: input.nodeId,
      reason: input.reason,
      details: { hostname: found.hostname },
    });
    return updated;
  });
  await catalog.refresh();
  return { id: node.id, cordoned: node.cordoned };
}
