import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_DEPLOYMENTS, DEMO_NODES, type DemoNode } from '../../../../lib/demo-fleet';
import type { Assignments } from '../../../../lib/protocol/agent';
import type { StressAssignment } from '../../../../lib/protocol/stress';
import { Agent } from '../../agent';
import type { AgentLog } from '../../log';
import { SimulatorSource } from '../../sources/simulator/simulator-source';
import { StressTestServer } from './stress-server';
import { assignment as buildAssignment, sum } from './support';

const node = DEMO_NODES[0] as DemoNode;

/** The node's eight GPUs serve embed-small (one GPU per replica, 12 ms per request). */
const assignments: Assignments = {
  gpus: node.gpuUuids.map((uuid) => ({ uuid, deploymentId: 'dep-embed', jobId: null })),
  deployments: [{ id: 'dep-embed', name: 'embed-small', gpusPerReplica: 1, totalGpus: 8, sloP95Ms: 60 }],
};

class MemoryLog implements AgentLog {
  readonly lines: string[] = [];
  info(message: string) {
    this.lines.push(`info ${message}`);
  }
  warn(message: string) {
    this.lines.push(`warn ${message}`);
  }
  error(message: string) {
    this.lines.push(`error ${message}`);
  }
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A running agent on the simulator, connected to a stress test server. */
async function connectedAgent() {
  const server = new StressTestServer(assignments);
  await server.start();
  cleanups.push(() => server.stop());
  const dataDir = await mkdtemp(join(tmpdir(), 'switchyard-agent-stress-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const log = new MemoryLog();
  const source = new SimulatorSource({ node, deployments: DEMO_DEPLOYMENTS });
  const agent = new Agent({
    serverUrl: server.url,
    hostname: node.hostname,
    dataDir,
    credential: StressTestServer.CREDENTIAL,
    intervalMs: 500,
    source,
    log,
  });
  cleanups.push(() => agent.stop());
  await agent.start();
  await waitFor(() => server.endpoints.some((e) => e.endpoints.length > 0), 'the endpoints');
  return { server, agent, source, log };
}

const openLoop = (rps: number, durationS: number, overrides: Partial<StressAssignment> = {}) =>
  buildAssignment(
    { kind: 'open', arrival: 'constant', stages: [{ durationS, fromRps: rps, toRps: rps }] },
    { deploymentId: 'dep-embed', startAt: Date.now() + 300, ...overrides },
  );

const consecutiveFromOne = (seqs: number[]) => seqs.every((seq, i) => seq === i + 1);

describe('agent stress runs', () => {
  it('announces its endpoints, refuses bad runs by field, and runs a good one with numbered reports', async () => {
    const { server, source, log } = await connectedAgent();
    const announced = server.endpoints.at(-1)?.endpoints;
    expect(announced).toEqual([
      { deploymentId: 'dep-embed', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), replicas: 8 },
    ]);

    const refused = openLoop(50, 3);
    expect(await server.startRun({ ...refused, share: 2 })).toEqual({
      ok: false,
      error: expect.stringMatching(/^share: /),
    });
    expect(
      await server.startRun({ ...refused, load: { kind: 'open', arrival: 'constant', stages: [] } }),
    ).toEqual({
      ok: false,
      error: expect.stringMatching(/^load\.stages: /),
    });
    expect(await server.startRun({ ...refused, deploymentId: 'dep-elsewhere' })).toEqual({
      ok: false,
      error: 'no endpoint for deployment dep-elsewhere on this node',
    });
    // A baseline of the deployment's own traffic before the run.
    await waitFor(() => server.deploymentSamples.length >= 4, 'telemetry before the run');

    const before = server.deploymentSamples.length;
    const valid = openLoop(50, 3);
    expect(await server.startRun(valid)).toEqual({ ok: true });
    // A start repeated (after a reconnect, say) does not start the run twice.
    expect(await server.startRun(valid)).toEqual({ ok: true });
    await waitFor(() => server.reportsOf(valid.runId).at(-1)?.done === true, 'the last report');

    const reports = server.reportsOf(valid.runId);
    expect(consecutiveFromOne(reports.map((r) => r.seq))).toBe(true);
    expect(reports.filter((r) => r.done)).toHaveLength(1);
    expect(sum(reports, 'sent')).toBe(150);
    expect(sum(reports, 'completed')).toBe(150);
    expect(sum(reports, 'errors')).toBe(0);
    expect(reports[0]?.intervalStart).toBe(valid.startAt);
    expect(log.lines.some((line) => line.includes(`stress run ${valid.runId} done: 150 sent`))).toBe(true);

    // The requests reached the simulated model server and its telemetry.
    await waitFor(() => server.deploymentSamples.length >= before + 8, 'telemetry after the run');
    const during = server.deploymentSamples.filter(
      (s) => s.sampledAt > valid.startAt + 500 && s.sampledAt <= valid.startAt + 3000,
    );
    const quiet = server.deploymentSamples.filter((s) => s.sampledAt <= valid.startAt);
    const rate = (samples: typeof during) =>
      samples.reduce((a, s) => a + s.requests, 0) / (samples.length / 2);
    // embed-small's own ~40 rps, plus 50 rps of stress test.
    expect(rate(during)).toBeGreaterThan(rate(quiet) + 30);
    expect(source.modelServer('dep-embed')).toBeDefined();
  });

  it('stops a run promptly on stress:stop, with a last report', async () => {
    const { server, log } = await connectedAgent();
    const run = openLoop(100, 30);
    expect(await server.startRun(run)).toEqual({ ok: true });
    await waitFor(() => server.reportsOf(run.runId).length >= 2, 'two reports');

    const stoppedAt = Date.now();
    server.stopRun(run.runId, 'p99 threshold exceeded');
    await waitFor(() => server.reportsOf(run.runId).at(-1)?.done === true, 'the last report', 2000);
    expect(Date.now() - stoppedAt).toBeLessThan(500);
    const sent = sum(server.reportsOf(run.runId), 'sent');
    expect(sent).toBeLessThan(400);
    expect(log.lines).toContain(
      `info stress run ${run.runId}: stopped by the server (p99 threshold exceeded)`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1200));
    // Nothing more arrives, and the agent takes the next run.
    expect(server.reportsOf(run.runId).at(-1)?.done).toBe(true);
    expect(sum(server.reportsOf(run.runId), 'sent')).toBe(sent);
    expect(await server.startRun(openLoop(10, 1))).toEqual({ ok: true });
  });

  it('keeps reports the server did not acknowledge and delivers them after a reconnect', async () => {
    const { server, agent } = await connectedAgent();
    const run = openLoop(40, 4);
    expect(await server.startRun(run)).toEqual({ ok: true });
    await waitFor(() => server.reportsOf(run.runId).length >= 1, 'a first report');

    // Reports go unacknowledged for a while (lost), then the connection drops.
    server.withholdReportAcks = true;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    server.withholdReportAcks = false;
    const connectionsBefore = server.connections;
    server.dropConnection();
    await waitFor(() => server.connections > connectionsBefore && agent.stats().connected, 'the reconnect');
    await waitFor(() => server.reportsOf(run.runId).at(-1)?.done === true, 'the last report');

    const reports = server.reportsOf(run.runId);
    expect(consecutiveFromOne(reports.map((r) => r.seq))).toBe(true);
    expect(sum(reports, 'sent')).toBe(160);
    // Some were sent twice (unacknowledged, then again); the server kept each once.
    expect(server.received).toBeGreaterThan(reports.length);
  });

  it('sends again a report the server could not store yet, and drops one it refuses as invalid', async () => {
    const { server, log } = await connectedAgent();
    const refusedOnce = new Set<number>();
    server.refuseReport = (report) => {
      if (report.seq === 2 && !refusedOnce.has(2)) {
        refusedOnce.add(2);
        return { code: 'INTERNAL', message: 'internal error; retry later' };
      }
      if (report.seq === 3) return { code: 'BAD_FRAME', field: 'histogram', message: 'histogram: invalid' };
      return null;
    };
    const run = openLoop(20, 4);
    expect(await server.startRun(run)).toEqual({ ok: true });
    await waitFor(() => server.reportsOf(run.runId).at(-1)?.done === true, 'the last report');
    await waitFor(() => server.reportsOf(run.runId).some((r) => r.seq === 2), 'the retried report');

    const seqs = server.reportsOf(run.runId).map((r) => r.seq);
    const last = seqs.at(-1) as number;
    expect(last).toBeGreaterThanOrEqual(4);
    expect(seqs).toEqual([1, 2, ...Array.from({ length: last - 3 }, (_, i) => i + 4)]);
    expect(log.lines).toContain(`error the server refused stress report ${run.runId}/3: histogram: invalid`);
  });
});
