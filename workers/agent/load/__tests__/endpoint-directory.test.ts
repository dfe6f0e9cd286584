import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Assignments, GpuInventory } from '../../../../lib/protocol/agent';
import { describeCliError, ZAgentCliOptions } from '../../cli-options';
import type { InferenceEndpoint, TelemetrySample, TelemetrySource } from '../../sources/source';
import { EndpointDirectory } from '../endpoint-directory';

const REPO_ROOT = new URL('../../../..', import.meta.url).pathname;

/** A source with endpoints of its own that it can change, as the simulator's servers do. */
class EndpointSource implements TelemetrySource {
  endpoints: InferenceEndpoint[] = [];
  private listener: (() => void) | null = null;
  async inventory(): Promise<GpuInventory[]> {
    return [];
  }
  async sample(): Promise<TelemetrySample> {
    return { gpus: [], deployments: [] };
  }
  applyAssignments(): void {}
  inferenceEndpoints(): InferenceEndpoint[] {
    return this.endpoints;
  }
  onInferenceEndpointsChange(listener: () => void): void {
    this.listener = listener;
  }
  change(endpoints: InferenceEndpoint[]): void {
    this.endpoints = endpoints;
    this.listener?.();
  }
}

/** Six GPUs of chat-70b here (four per replica: one whole replica) and two of embed-small. */
const assignments: Assignments = {
  gpus: [
    ...Array.from({ length: 6 }, (_, i) => ({ uuid: `GPU-${i}`, deploymentId: 'dep-chat', jobId: null })),
    { uuid: 'GPU-6', deploymentId: 'dep-embed', jobId: null },
    { uuid: 'GPU-7', deploymentId: 'dep-embed', jobId: null },
  ],
  deployments: [
    { id: 'dep-chat', name: 'chat-70b', gpusPerReplica: 4, totalGpus: 12, sloP95Ms: 1200 },
    { id: 'dep-embed', name: 'embed-small', gpusPerReplica: 1, totalGpus: 16, sloP95Ms: 60 },
  ],
};

describe('endpoint directory', () => {
  it('maps --endpoint names to deployment ids through the assignments, with this node’s replicas', () => {
    const source = new EndpointSource();
    const directory = new EndpointDirectory(source, [
      { deploymentName: 'chat-70b', url: 'http://10.0.0.5:8000' },
      { deploymentName: 'embed-small', url: 'http://10.0.0.5:9000' },
      { deploymentName: 'embed-small', url: 'http://10.0.0.5:9001' },
      { deploymentName: 'not-here', url: 'http://10.0.0.5:7000' },
    ]);
    let changes = 0;
    directory.onChange(() => changes++);
    // Before the server has said what this node serves, a name means nothing.
    expect(directory.list()).toEqual([]);

    directory.applyAssignments(assignments);
    expect(directory.list()).toEqual([
      { deploymentId: 'dep-chat', url: 'http://10.0.0.5:8000', replicas: 1 },
      { deploymentId: 'dep-embed', url: 'http://10.0.0.5:9000', replicas: 1 },
      { deploymentId: 'dep-embed', url: 'http://10.0.0.5:9001', replicas: 1 },
    ]);
    expect(changes).toBe(1);
    // The same assignments again change nothing, and say nothing.
    directory.applyAssignments(structuredClone(assignments));
    expect(changes).toBe(1);

    source.change([{ deploymentId: 'dep-sim', url: 'http://127.0.0.1:4000', replicas: 2 }]);
    expect(changes).toBe(2);
    expect(directory.forDeployment('dep-sim')).toEqual([
      { deploymentId: 'dep-sim', url: 'http://127.0.0.1:4000', replicas: 2 },
    ]);
    expect(directory.forDeployment('dep-embed')).toHaveLength(2);
  });

  it('reads --endpoint from the command line and names the flag when it is wrong', async () => {
    const raw = (endpoint: string[]) => ({
      server: 'http://localhost:3000',
      hostname: 'node-a',
      dataDir: '/tmp/agent',
      intervalMs: '1000',
      endpoint,
    });
    const good = ZAgentCliOptions.parse(raw(['chat-70b=http://10.0.0.5:8000/v1,x']));
    expect(good.endpoint).toEqual([{ deploymentName: 'chat-70b', url: 'http://10.0.0.5:8000/v1,x' }]);
    for (const [value, message] of [
      ['chat-70b', '--endpoint "chat-70b": must be <deployment name>=<http(s) URL>'],
      ['chat-70b=ftp://10.0.0.5', '--endpoint "chat-70b=ftp://10.0.0.5": must be an http(s) URL'],
    ] as const) {
      const parsed = ZAgentCliOptions.safeParse(raw([value]));
      expect(parsed.success).toBe(false);
      expect(describeCliError(parsed.error!, raw([value]))).toContain(message);
    }

    // And the real command line says so, with the usage exit code.
    const run = promisify(execFile);
    const failure = await run(
      'npx',
      ['tsx', 'workers/agent/main.ts', '--server', 'http://localhost:3000', '--endpoint', 'chat-70b'],
      { cwd: REPO_ROOT, timeout: 60_000 },
    ).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toContain('--endpoint "chat-70b": must be');
  });
});
