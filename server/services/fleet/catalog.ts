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
 * How long after a node stops serving a deployment its traffic for it is still taken:
 * the agent re-routes only once it has applied the change (within the allocation ack
 * timeout, 10 s by default), and the interval that spans the move reports both sides.
 */
export const SERVE_GRACE_MS = 30_000;
/** How long a node's former deployments are remembered, for frames replayed late. */
const SERVED_HISTORY_MS = 24 * 3600_000;

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
  /** nodeId → deploymentId → when the node last stopped serving it (kept SERVED_HISTORY_MS). */
  private servedUntil = new Map<string, Map<string, number>>();
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
    const previous = this.owners;
    this.owners = new Map(
      allocations.map((a) => [a.gpuId, { deploymentId: a.deploymentId, jobId: a.jobId }]),
    );
    this.rememberEndedServing(previous);
  }

  /**
   * True when the node may speak for the deployment's traffic in a frame sampled at
   * `sampledAt`: one of its GPUs serves it now, or served it until SERVE_GRACE_MS before.
   */
  nodeServes(nodeId: string, deploymentId: string, sampledAt = Date.now()): boolean {
    for (const gpuId of this.gpuIdsByNode.get(nodeId) ?? []) {
      if (this.owners.get(gpuId)?.deploymentId === deploymentId) return true;
    }
    const until = this.servedUntil.get(nodeId)?.get(deploymentId);
    return until !== undefined && sampledAt <= until + SERVE_GRACE_MS;
  }

  /** Records, per node, the deployments that lost its last GPU in this reload. */
  private rememberEndedServing(previous: Map<string, GpuOwner>, now = Date.now()): void {
    const servingNow = new Set<string>();
    for (const [gpuId, owner] of this.owners) {
      const nodeId = this.gpus.get(gpuId)?.nodeId;
      if (nodeId && owner.deploymentId) servingNow.add(`${nodeId}|${owner.deploymentId}`);
    }
    for (const [gpuId, owner] of previous) {
      const nodeId = this.gpus.get(gpuId)?.nodeId;
      if (!nodeId || !owner.deploymentId || servingNow.has(`${nodeId}|${owner.deploymentId}`)) continue;
      let ended = this.servedUntil.get(nodeId);
      if (!ended) {
        ended = new Map();
        this.servedUntil.set(nodeId, ended);
      }
      ended.set(owner.deploymentId, now);
    }
    for (const [nodeId, ended] of this.servedUntil) {
      for (const [deploymentId, until] of ended)
        if (now - until > SERVED_HISTORY_MS) ended.delete(deploymentId);
      if (ended.size === 0 || !this.nodes.has(nodeId)) this.servedUntil.delete(nodeId);
    }
  }

  gpuCountByDeployment(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const owner of this.owners.values()) {
      if (owner.deploymentId) counts.set(owner.deploymentId, (counts.get(owner.deploymentId) ?? 0) + 1);
    }
    return counts;
  }
}
