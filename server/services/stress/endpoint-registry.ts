import type { AgentEndpoints } from '../../../lib/protocol/stress';
import type { StressAgentSocket } from './agent-events';

export type HostedEndpoint = {
  nodeId: string;
  hostname: string;
  url: string;
  replicas: number;
  socket: StressAgentSocket;
};

type NodeEndpoints = {
  hostname: string;
  socket: StressAgentSocket;
  endpoints: AgentEndpoints['endpoints'];
};

/**
 * The inference endpoints each connected agent can load, as it last reported them. An
 * entry lives as long as the connection that reported it: a reconnect reports again.
 */
export class EndpointRegistry {
  private readonly byNode = new Map<string, NodeEndpoints>();

  set(
    nodeId: string,
    hostname: string,
    socket: StressAgentSocket,
    endpoints: NodeEndpoints['endpoints'],
  ): void {
    this.byNode.set(nodeId, { hostname, socket, endpoints });
  }

  /** Forgets the node's endpoints if they came over this connection (a newer one may have replaced it). */
  drop(nodeId: string, socketId: string): boolean {
    const entry = this.byNode.get(nodeId);
    if (!entry || entry.socket.id !== socketId) return false;
    this.byNode.delete(nodeId);
    return true;
  }

  /** The connected agents serving a deployment, in a stable order (by hostname). */
  hostsOf(deploymentId: string): HostedEndpoint[] {
    const hosts: HostedEndpoint[] = [];
    for (const [nodeId, entry] of this.byNode) {
      if (!entry.socket.connected) continue;
      // The agent loads all of its endpoints for the deployment: one host, their replicas summed.
      const served = entry.endpoints.filter((e) => e.deploymentId === deploymentId);
      if (served.length === 0) continue;
      hosts.push({
        nodeId,
        hostname: entry.hostname,
        url: served[0]!.url,
        replicas: served.reduce((sum, e) => sum + e.replicas, 0),
        socket: entry.socket,
      });
    }
    return hosts.sort((a, b) => a.hostname.localeCompare(b.hostname));
  }

  /** Every deployment a connected agent can load, with how many agents and replicas. */
  targets(): { deploymentId: string; agents: number; replicas: number }[] {
    const byDeployment = new Map<string, { deploymentId: string; agents: Set<string>; replicas: number }>();
    for (const [nodeId, entry] of this.byNode) {
      if (!entry.socket.connected) continue;
      for (const endpoint of entry.endpoints) {
        const target = byDeployment.get(endpoint.deploymentId) ?? {
          deploymentId: endpoint.deploymentId,
          agents: new Set<string>(),
          replicas: 0,
        };
        target.agents.add(nodeId);
        target.replicas += endpoint.replicas;
        byDeployment.set(endpoint.deploymentId, target);
      }
    }
    return [...byDeployment.values()].map((t) => ({ ...t, agents: t.agents.size }));
  }

  socketOf(nodeId: string): StressAgentSocket | null {
    const entry = this.byNode.get(nodeId);
    return entry?.socket.connected ? entry.socket : null;
  }
}

/**
 * Each host's fraction of the load, by its replicas. The fractions sum to exactly 1: the
 * last host takes what rounding left over.
 */
export function splitByReplicas<T extends { replicas: number }>(
  hosts: readonly T[],
): (T & { share: number })[] {
  const total = hosts.reduce((sum, h) => sum + h.replicas, 0);
  let given = 0;
  return hosts.map((host, i) => {
    const share = i === hosts.length - 1 ? 1 - given : host.replicas / total;
    given += share;
    return { ...host, share };
  });
}
