import { DEMO_CLUSTERS, DEMO_DEPLOYMENTS, DEMO_NODES, DEMO_TRAINING_JOB } from '../../../lib/demo-fleet';
import type { Db } from '../../db/client';
import { logger } from '../../log';

const log = logger('demo');

/**
 * Seeds the demo fleet on first start: clusters, nodes and GPUs (so allocations can be
 * laid out before the simulated agents first connect), models, deployments, a training
 * job, and the initial allocation. Does nothing when any cluster exists.
 */
export async function seedDemoFleet(db: Db): Promise<boolean> {
  if ((await db.cluster.count()) > 0) return false;
  await db.$transaction(
    async (tx) => {
      const clusters = new Map<string, string>();
      for (const c of DEMO_CLUSTERS) {
        clusters.set(c.name, (await tx.cluster.create({ data: { name: c.name, region: c.region } })).id);
      }
      /** nodeId → free GPU ids in index order */
      const freeByNode = new Map<string, string[]>();
      for (const n of DEMO_NODES) {
        const node = await tx.node.create({
          data: {
            clusterId: clusters.get(n.cluster)!,
            hostname: n.hostname,
            labels: {
              'gpu.model': n.gpuModel.name,
              pool: n.hostname.includes('l40s') ? 'inference-small' : 'inference',
            },
          },
        });
        const ids: string[] = [];
        for (const [index, uuid] of n.gpuUuids.entries()) {
          const gpu = await tx.gpu.create({
            data: {
              nodeId: node.id,
              index,
              uuid,
              modelName: n.gpuModel.name,
              memoryTotalMiB: n.gpuModel.memoryTotalMiB,
            },
          });
          ids.push(gpu.id);
        }
        freeByNode.set(node.id, ids);
      }

      const nodeIds = [...freeByNode.keys()];
      // The training job holds two whole H100 nodes of the first cluster.
      const job = await tx.job.create({
        data: {
          name: DEMO_TRAINING_JOB.name,
          kind: 'training',
          state: 'running',
          gpusWanted: DEMO_TRAINING_JOB.gpus,
          progress: 0.37,
          startedAt: new Date(),
        },
      });
      for (const nodeId of nodeIds.slice(4, 6)) {
        const gpus = freeByNode.get(nodeId)!.splice(0);
        await tx.allocation.createMany({
          data: gpus.map((gpuId) => ({ gpuId, jobId: job.id, reason: 'demo seed: training job' })),
        });
      }

      // Widest replicas first, so every replica fits on one node.
      const ordered = [...DEMO_DEPLOYMENTS].sort((a, b) => b.gpusPerReplica - a.gpusPerReplica);
      for (const spec of ordered) {
        const model = await tx.model.create({ data: spec.model });
        const deployment = await tx.deployment.create({
          data: {
            name: spec.name,
            modelId: model.id,
            gpusPerReplica: spec.gpusPerReplica,
            sloP95Ms: spec.sloP95Ms,
            priority: spec.priority,
            minGpus: spec.minGpus,
            maxGpus: spec.maxGpus,
          },
        });
        for (let replica = 0; replica < spec.initialGpus / spec.gpusPerReplica; replica++) {
          const nodeId = nodeIds.find((id) => freeByNode.get(id)!.length >= spec.gpusPerReplica);
          if (!nodeId) throw new Error(`demo fleet has no room for ${spec.name}`);
          const gpus = freeByNode.get(nodeId)!.splice(0, spec.gpusPerReplica);
          await tx.allocation.createMany({
            data: gpus.map((gpuId) => ({ gpuId, deploymentId: deployment.id, reason: 'demo seed' })),
          });
        }
      }
      await tx.auditEvent.create({
        data: {
          actorType: 'system',
          actorName: 'switchyard',
          action: 'demo.seed',
          targetType: 'fleet',
          details: { nodes: DEMO_NODES.length, deployments: DEMO_DEPLOYMENTS.length },
        },
      });
    },
    { timeout: 60_000 },
  );
  log.info(`seeded the demo fleet: ${DEMO_NODES.length} nodes, ${DEMO_NODES.length * 8} GPUs`);
  return true;
}
