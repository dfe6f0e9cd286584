import { io as connect, type Socket } from 'socket.io-client';
import { DEMO_NODES, type DemoNode } from '../../lib/demo-fleet';
import { LatencyRecorder } from '../../lib/latency-histogram';
import type { InventoryAck } from '../../lib/protocol/agent';
import type { StressAssignment, StressReport, StressStartAck, StressStop } from '../../lib/protocol/stress';
import { targetRpsAt } from '../../lib/stress/run-definition';
import type { EndpointsAck, StressReportAck } from '../../server/services/stress/agent-events';
import { enrollmentTokenForHost, type TestServer } from './server';

/**
 * A node agent that speaks the stress protocol exactly as lib/protocol/stress.ts says, for
 * tests: it enrolls, sends its inventory and endpoints, accepts `stress:start`, and reports
 * once per second of the run from `startAt`, with latencies from a function the test
 * chooses, so the test knows every sample the server merged. It sends no HTTP requests.
 */

export type SecondContext = {
  runId: string;
  /** 0-based second of the run. */
  second: number;
  phase: 'warmup' | 'measure';
  /** This agent's share of the rate for the second, req/s. */
  rps: number;
};

export type StressAgentBehaviour = {
  /** Latencies (ms) of the requests answered in one second; by default one ~20 ms sample per request. */
  latencies?: (ctx: SecondContext) => number[];
  errors?: (ctx: SecondContext) => number;
  late?: (ctx: SecondContext) => number;
  /** Drop the connection (and go quiet) after this many reports of a run. */
  disconnectAfterReports?: number;
  /** Stop reporting after this many reports of a run, staying connected (a stalled agent). */
  silentAfterReports?: number;
  /** Answer `stress:start` with this refusal. */
  refuse?: string;
};

export type SentReport = StressReport & { samples: number[]; ack: StressReportAck | null };

type RunTimers = { assignment: StressAssignment; timer: NodeJS.Timeout | null; seq: number; second: number };

export class StressTestAgent {
  readonly assignments: StressAssignment[] = [];
  readonly stops: StressStop[] = [];
  readonly reports: SentReport[] = [];
  private readonly runs = new Map<string, RunTimers>();

  private constructor(
    readonly socket: Socket,
    readonly nodeId: string,
    readonly hostname: string,
    private readonly behaviour: StressAgentBehaviour,
  ) {
    socket.on('stress:start', (assignment: StressAssignment, ack: (reply: StressStartAck) => void) => {
      this.assignments.push(assignment);
      if (behaviour.refuse) return ack({ ok: false, error: behaviour.refuse });
      ack({ ok: true });
      this.begin(assignment);
    });
    socket.on('stress:stop', (stop: StressStop) => {
      this.stops.push(stop);
      const run = this.runs.get(stop.runId);
      if (run) void this.report(run, true);
    });
  }

  static async connect(
    server: TestServer,
    node: DemoNode,
    endpoints: { deploymentId: string; replicas: number; url?: string }[],
    behaviour: StressAgentBehaviour = {},
  ): Promise<StressTestAgent> {
    const enrolled = await fetch(`${server.url}/api/agent/enroll`, {
      method: 'POST',
      body: JSON.stringify({
        enrollmentToken: await enrollmentTokenForHost(server, node.hostname, node.cluster),
        hostname: node.hostname,
        agentVersion: 'stress-test/1',
      }),
    });
    if (enrolled.status !== 201) throw new Error(`enrollment failed: ${await enrolled.text()}`);
    const { nodeCredential, nodeId } = (await enrolled.json()) as { nodeCredential: string; nodeId: string };
    const socket = connect(`${server.url}/agent`, {
      auth: { token: nodeCredential },
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const agent = new StressTestAgent(socket, nodeId, node.hostname, behaviour);
    const inventory = (await socket.timeout(5000).emitWithAck('inventory', {
      protocolVersion: 1,
      hostname: node.hostname,
      agentVersion: 'stress-test/1',
      gpus: node.gpuUuids.map((uuid, index) => ({
        index,
        uuid,
        name: node.gpuModel.name,
        memoryTotalMiB: node.gpuModel.memoryTotalMiB,
      })),
    })) as InventoryAck;
    if (!inventory.ok) throw new Error(`inventory refused: ${inventory.error.message}`);
    const ack = await agent.sendEndpoints(endpoints);
    if (!ack.ok) throw new Error(`endpoints refused: ${ack.error.message}`);
    return agent;
  }

  sendEndpoints(
    endpoints: { deploymentId: string; replicas: number; url?: string }[],
  ): Promise<EndpointsAck> {
    return this.socket.timeout(5000).emitWithAck('endpoints', {
      endpoints: endpoints.map((e, i) => ({
        deploymentId: e.deploymentId,
        replicas: e.replicas,
        url: e.url ?? `http://127.0.0.1:${18000 + i}`,
      })),
    }) as Promise<EndpointsAck>;
  }

  /** Measured-phase samples this agent reported for a run (and the server acknowledged). */
  measuredSamples(runId: string): number[] {
    return this.reports
      .filter((r) => r.runId === runId && r.phase === 'measure' && r.ack?.ok)
      .flatMap((r) => r.samples);
  }

  close(): void {
    for (const run of this.runs.values()) if (run.timer) clearTimeout(run.timer);
    this.runs.clear();
    this.socket.disconnect();
  }

  private begin(assignment: StressAssignment): void {
    const run: RunTimers = { assignment, timer: null, seq: 0, second: 0 };
    this.runs.set(assignment.runId, run);
    this.schedule(run);
  }

  private schedule(run: RunTimers): void {
    const due = run.assignment.startAt + (run.second + 1) * 1000;
    run.timer = setTimeout(() => void this.report(run, false), Math.max(0, due - Date.now()));
  }

  private durationS(assignment: StressAssignment): number {
    const { load } = assignment;
    return load.kind === 'closed' ? load.durationS : load.stages.reduce((sum, s) => sum + s.durationS, 0);
  }

  private async report(run: RunTimers, stopped: boolean): Promise<void> {
    const { assignment } = run;
    if (!this.runs.has(assignment.runId)) return;
    if (run.timer) clearTimeout(run.timer);
    run.timer = null;
    const total = Math.ceil(this.durationS(assignment));
    const second = run.second;
    const done = stopped || second + 1 >= total;
    const ctx: SecondContext = {
      runId: assignment.runId,
      second,
      phase: second < assignment.warmupS ? 'warmup' : 'measure',
      // A closed loop has no rate: its workers are taken to answer ten requests a second each.
      rps:
        assignment.load.kind === 'closed'
          ? Math.ceil(assignment.load.concurrency * assignment.share) * 10
          : (targetRpsAt(assignment.load, second) ?? 0) * assignment.share,
    };
    const samples = this.behaviour.latencies?.(ctx) ?? Array.from({ length: Math.round(ctx.rps) }, () => 20);
    const recorder = new LatencyRecorder();
    for (const value of samples) recorder.record(value);
    const errors = Math.min(samples.length, this.behaviour.errors?.(ctx) ?? 0);
    const report: StressReport = {
      runId: assignment.runId,
      seq: ++run.seq,
      intervalStart: assignment.startAt + second * 1000,
      intervalEnd: stopped
        ? Math.max(Date.now(), assignment.startAt + second * 1000 + 1)
        : assignment.startAt + (second + 1) * 1000,
      phase: ctx.phase,
      targetRps: ctx.rps,
      sent: samples.length,
      completed: samples.length,
      errors,
      late: Math.min(samples.length, this.behaviour.late?.(ctx) ?? 0),
      histogram: recorder.drain(),
      done,
    };
    const sent: SentReport = { ...report, samples, ack: null };
    this.reports.push(sent);
    run.second += 1;
    if (done) this.runs.delete(assignment.runId);
    else this.schedule(run);
    try {
      sent.ack = (await this.socket.timeout(5000).emitWithAck('stress:report', report)) as StressReportAck;
    } catch {
      sent.ack = null;
    }
    const reported = this.reports.filter((r) => r.runId === assignment.runId).length;
    const { disconnectAfterReports, silentAfterReports } = this.behaviour;
    if (disconnectAfterReports !== undefined && reported >= disconnectAfterReports) this.close();
    if (silentAfterReports !== undefined && reported >= silentAfterReports) {
      if (run.timer) clearTimeout(run.timer);
      this.runs.delete(assignment.runId);
    }
  }
}

/** A demo node whose GPUs serve a deployment, with the replicas of it they hold. */
export type ServingNode = DemoNode & { replicas: number };

/**
 * The demo nodes whose GPUs serve a deployment, in fleet order, as the server's catalog has
 * them: the server takes an agent's endpoints only for deployments its own node serves. The
 * seed puts each replica on one node, so a node's GPUs of a deployment are whole replicas.
 */
export function nodesServing(server: TestServer, deploymentId: string): ServingNode[] {
  const { catalog } = server.runtime;
  const deployment = catalog.deployments.get(deploymentId);
  if (!deployment) throw new Error(`no deployment ${deploymentId} in the catalog`);
  const gpusByHostname = new Map<string, number>();
  for (const [nodeId, gpuIds] of catalog.gpuIdsByNode) {
    const owned = gpuIds.filter((id) => catalog.owners.get(id)?.deploymentId === deploymentId).length;
    const hostname = catalog.nodes.get(nodeId)?.hostname;
    if (hostname && owned > 0) gpusByHostname.set(hostname, owned);
  }
  return DEMO_NODES.filter((n) => gpusByHostname.has(n.hostname)).map((n) => ({
    ...n,
    replicas: gpusByHostname.get(n.hostname)! / deployment.gpusPerReplica,
  }));
}

/** Deterministic pseudo-random numbers (mulberry32), so a failing test fails the same way. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
