import type { Db } from '../../db/client';
import type { GpuHealth, NodeStatus } from '../../generated/prisma/client';

export type CatalogNode = {
  id: string;
  hostname: string;
  clusterId: string;
  clusterName: string;
  status: NodeStatus;
  cordoned: boolean;
  agentVersion: string | null;
};
export type CatalogGpu = {
  id: string;
  uuid: string;
  nodeId: string;
  index: number;
  modelName: string;
  memoryTotalMiB: number;
  health: GpuHealth;
  cordoned: boolean;
};
export type CatalogDeployment = {
  id: string;
  name: string;
  sloP95Ms: number;
  gpusPerReplica: number;
  priority: number;
};
export type GpuOwner = { deploymentId: string | null; jobId: string | null };

/**
 * The fleet's slowly-changing facts (nodes, GPUs, deployments, owners) held in memory, so
 * the telemetry hot path and the live views never query the database per frame.
 * Postgres stays the source of truth: `refresh()` reloads everything.
 */
export class FleetCatalog {
  nodes = new Map<string, CatalogNode>();
  gpus = new Map<string, CatalogGpu>();
  gpuIdByUuid = new Map<string, string>();
  gpuIdsByNode = new Map<string, string[]>();
  deployments = new Map<string, CatalogDeployment>();
  owners = new Map<string, GpuOwner>();
  private refreshing: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(private readonly db: Db) {}

  /**
   * Reloads from the database. The returned promise settles after a load that began after
   * the call, so a caller that just committed a write sees it; concurrent callers share loads.
   */
  refresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = this.load().finally(() => {
        this.refreshing = null;
      });
      return this.refreshing;
    }
    // The load in progress may have read before the caller's write: queue one more after it.
    this.queued ??= this.refreshing
      .catch(() => {})
      .then(() => {
        this.queued = null;
        return this.refresh();
      });
    return this.queued;
  }

  private async load(): Promise<void> {
    const [nodes, gpus, deployments, allocations] = await Promise.all([
      this.db.node.findMany({ include: { cluster: { select: { name: true } } } }),
      this.db.gpu.findMany({ orderBy: [{ nodeId: 'asc' }, { index: 'asc' }] }),
      this.db.deployment.findMany(),
      this.db.allocation.findMany({ select: { gpuId: true, deploymentId: true, jobId: true } }),
    ]);
    this.nodes = new Map(
      nodes.map((n) => [
        n.id,
        {
          id: n.id,
          hostname: n.hostname,
          clusterId: n.clusterId,
          clusterName: n.cluster.name,
          status: this.nodes.get(n.id)?.status ?? n.status,
          cordoned: n.cordoned,
          agentVersion: n.agentVersion,
        },
      ]),
    );
    this.gpus = new Map(gpus.map((g) => [g.id, g]));
    this.gpuIdByUuid = new Map(gpus.map((g) => [g.uuid, g.id]));
    this.gpuIdsByNode = new Map();
    for (const g of gpus) {
      const list = this.gpuIdsByNode.get(g.nodeId) ?? [];
      list.push(g.id);
      this.gpuIdsByNode.set(g.nodeId, list);
    }
    this.deployments = new Map(
      deployments.map((d) => [
        d.id,
        {
          id: d.id,
          name: d.name,
          sloP95Ms: d.sloP95Ms,
          gpusPerReplica: d.gpusPerReplica,
          priority: d.priority,
        },
      ]),
    );
    this.owners = new Map(
      allocations.map((a) => [a.gpuId, { deploymentId: a.deploymentId, jobId: a.jobId }]),
    );
  }

  gpuCountByDeployment(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const owner of this.owners.values()) {
      if (owner.deploymentId) counts.set(owner.deploymentId, (counts.get(owner.deploymentId) ?? 0) + 1);
    }
    return counts;
  }
}
