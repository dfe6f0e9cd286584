import type { OwnerRef } from '../../../lib/allocation/types';
import type { CatalogGpu, CatalogNode } from '../fleet/catalog';

/**
 * The rules a change must keep, checked against the state it would leave. Pure, so the
 * service, the planner's tests and the property test all judge by the same code.
 */

export type RuleGpu = {
  id: string;
  label: string;
  nodeId: string;
  hostname: string;
  health: 'ok' | 'degraded' | 'failed';
  cordoned: boolean;
  nodeCordoned: boolean;
  nodeStatus: 'online' | 'degraded' | 'offline';
};

export type RuleDeployment = {
  id: string;
  name: string;
  minGpus: number;
  maxGpus: number;
  gpusPerReplica: number;
};

export type OwnerKey = string;

export function ownerKey(owner: OwnerRef): OwnerKey | null {
  if (!owner) return null;
  return 'deploymentId' in owner ? `deployment:${owner.deploymentId}` : `job:${owner.jobId}`;
}

export function ownerId(owner: OwnerRef): string | null {
  if (!owner) return null;
  return 'deploymentId' in owner ? owner.deploymentId : owner.jobId;
}

export function sameOwner(a: OwnerRef, b: OwnerRef): boolean {
  return ownerKey(a) === ownerKey(b);
}

/** A GPU of the in-memory catalog, as the rules see it. */
export function catalogRuleGpu(gpu: CatalogGpu, node: CatalogNode): RuleGpu {
  return {
    id: gpu.id,
    label: `${node.hostname}/${gpu.index}`,
    nodeId: gpu.nodeId,
    hostname: node.hostname,
    health: gpu.health,
    cordoned: gpu.cordoned,
    nodeCordoned: node.cordoned,
    nodeStatus: node.status,
  };
}

/** Why a GPU may not receive a new owner, or null when it may. */
export function ineligibility(gpu: RuleGpu): string | null {
  if (gpu.health !== 'ok') return `GPU ${gpu.label} is ${gpu.health}`;
  if (gpu.cordoned) return `GPU ${gpu.label} is cordoned`;
  if (gpu.nodeCordoned) return `node ${gpu.hostname} is cordoned`;
  if (gpu.nodeStatus === 'offline') return `node ${gpu.hostname} is offline`;
  return null;
}

/**
 * Checks a deployment's GPU counts before and after a change: it must stay within
 * min/max (or at least not move further outside them) and hold whole replicas on every
 * node the change touches. Returns the first broken rule in words, or null.
 */
export function deploymentRuleViolation(
  deployment: RuleDeployment,
  totalBefore: number,
  totalAfter: number,
  perNodeAfter: Map<string, { hostname: string; count: number }>,
): string | null {
  if (totalAfter < deployment.minGpus && totalAfter < totalBefore) {
    return `${deployment.name} would hold ${totalAfter} GPUs, below its minimum of ${deployment.minGpus}`;
  }
  if (totalAfter > deployment.maxGpus && totalAfter > totalBefore) {
    return `${deployment.name} would hold ${totalAfter} GPUs, above its maximum of ${deployment.maxGpus}`;
  }
  const k = deployment.gpusPerReplica;
  if (k > 1) {
    for (const { hostname, count } of perNodeAfter.values()) {
      if (count % k !== 0) {
        return `${deployment.name} runs replicas of ${k} GPUs on one node: ${hostname} would hold ${count}`;
      }
    }
  }
  return null;
}
