import type { Assignments } from '../../../lib/protocol/agent';
import type { InferenceEndpoint, TelemetrySource } from '../sources/source';

/** An endpoint given on the command line (`--endpoint chat-70b=http://10.0.0.5:8000`). */
export type ConfiguredEndpoint = { deploymentName: string; url: string };

/**
 * The inference endpoints this agent offers to stress tests: its source's own (the
 * simulator's model servers) and those given on the command line. Configured ones name a
 * deployment, which the server's assignments turn into its id; they count as the replicas
 * this node's GPUs make up for that deployment, split over its URLs.
 */
export class EndpointDirectory {
  private assignments: Assignments | null = null;
  private readonly listeners: (() => void)[] = [];
  private lastKey = '';

  constructor(
    private readonly source: TelemetrySource,
    private readonly configured: readonly ConfiguredEndpoint[] = [],
  ) {
    source.onInferenceEndpointsChange?.(() => this.changed());
  }

  applyAssignments(assignments: Assignments): void {
    this.assignments = assignments;
    this.changed();
  }

  list(): InferenceEndpoint[] {
    return [...(this.source.inferenceEndpoints?.() ?? []), ...this.configuredEndpoints()];
  }

  forDeployment(deploymentId: string): InferenceEndpoint[] {
    return this.list().filter((endpoint) => endpoint.deploymentId === deploymentId);
  }

  /** Calls `listener` when the list changes. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private configuredEndpoints(): InferenceEndpoint[] {
    const assignments = this.assignments;
    if (!assignments || this.configured.length === 0) return [];
    const endpoints: InferenceEndpoint[] = [];
    for (const deployment of assignments.deployments) {
      const urls = this.configured.filter((c) => c.deploymentName === deployment.name).map((c) => c.url);
      if (urls.length === 0) continue;
      const localGpus = assignments.gpus.filter((gpu) => gpu.deploymentId === deployment.id).length;
      const localReplicas = Math.floor(localGpus / Math.max(1, deployment.gpusPerReplica));
      const replicas = Math.max(1, Math.floor(localReplicas / urls.length));
      for (const url of urls) endpoints.push({ deploymentId: deployment.id, url, replicas });
    }
    return endpoints;
  }

  private changed(): void {
    const key = JSON.stringify(this.list());
    if (key === this.lastKey) return;
    this.lastKey = key;
    for (const listener of this.listeners) listener();
  }
}
