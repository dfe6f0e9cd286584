import { io as connect } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RELATIVE_ACCURACY } from '../../lib/latency-histogram';
import type { StressLiveUpdate } from '../../lib/protocol/live';
import type { RunDefinitionInput } from '../../lib/stress/run-definition';
import type { StartOutput, StressRunView } from '../../server/services/stress/views';
import { signIn, startTestServer, type TestServer } from '../support/server';
import { nodesServing, type ServingNode, StressTestAgent, seededRandom } from '../support/stress-agent';

/**
 * Stress runs end to end: the real server and Postgres, agents on real sockets that speak
 * the stress protocol and report known latencies, so every merged figure can be checked
 * against the samples behind it. The runs load embed-small, which the demo seed spreads over
 * three nodes (2, 8 and 6 replicas), so several agents can serve one deployment.
 */

let server: TestServer;
let admin: string;
const agents: StressTestAgent[] = [];
let deploymentId: string;
/** The nodes whose GPUs serve the deployment, each with the replicas it holds. */
let serving: ServingNode[];

beforeAll(async () => {
  server = await startTestServer();
  admin = await signIn(server.url);
  const deployment = await server.database.db.deployment.findUniqueOrThrow({
    where: { name: 'embed-small' },
  });
  deploymentId = deployment.id;
  serving = nodesServing(server, deploymentId);
  if (serving.length < 3) throw new Error(`embed-small is served by ${serving.length} nodes, not 3`);
});
afterEach(() => {
  for (const agent of agents.splice(0)) agent.close();
});
afterAll(async () => {
  await server?.close();
});

async function trpc<T>(
  path: string,
  input: unknown,
  method: 'GET' | 'POST',
): Promise<{ status: number; data: T; message?: string }> {
  const headers = { 'content-type': 'application/json', cookie: admin, origin: server.url };
  const res =
    method === 'POST'
      ? await fetch(`${server.url}/api/trpc/${path}`, { method, headers, body: JSON.stringify(input) })
      : await fetch(`${server.url}/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`, {
          headers,
        });
  const body = (await res.json()) as { result?: { data: T }; error?: { message: string } };
  return { status: res.status, data: body.result?.data as T, message: body.error?.message };
}

async function start(definition: RunDefinitionInput): Promise<StartOutput> {
  const res = await trpc<StartOutput>('stress.start', definition, 'POST');
  if (res.status !== 200) throw new Error(`start refused: ${res.message}`);
  return res.data;
}

async function get(id: string): Promise<StressRunView> {
  const res = await trpc<StressRunView>('stress.get', { id }, 'GET');
  if (res.status !== 200) throw new Error(`stress.get ${id}: ${res.status} ${res.message}`);
  return res.data;
}

async function finished(id: string, timeoutMs = 25_000): Promise<StressRunView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await get(id);
    if (view.state !== 'starting' && view.state !== 'running') return view;
    if (Date.now() > deadline) throw new Error(`run ${id} still ${view.state}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** An agent on a node that serves the deployment, announcing the replicas the node holds. */
async function agent(node: ServingNode, behaviour: Parameters<typeof StressTestAgent.connect>[3] = {}) {
  const a = await StressTestAgent.connect(
    server,
    node,
    [{ deploymentId, replicas: node.replicas }],
    behaviour,
  );
  agents.push(a);
  return a;
}

/** The value DDSketch's quantile stands for: the sample at rank q·(n−1). */
function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

describe('merging agents’ reports', () => {
  it('splits the load by replicas and merges histograms into exact-within-the-sketch percentiles', async () => {
    const random = seededRandom(42);
    const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    // Two nodes whose replicas split 1:3 (2 and 6 as seeded).
    const fastNode = serving.find((n) => serving.some((m) => m.replicas === 3 * n.replicas))!;
    const slowNode = serving.find((n) => n.replicas === 3 * fastNode.replicas)!;
    // Two clearly different distributions: averaging their percentiles would be far off.
    const fast = await agent(fastNode, {
      latencies: ({ rps }) => Array.from({ length: Math.round(rps) }, () => 20 * Math.exp(0.3 * gaussian())),
      errors: () => 1,
    });
    const slow = await agent(slowNode, {
      latencies: ({ rps }) => Array.from({ length: Math.round(rps) }, () => 90 * Math.exp(0.6 * gaussian())),
      late: () => 2,
    });

    const started = await start({
      deploymentId,
      load: { kind: 'open', arrival: 'constant', stages: [{ durationS: 4, fromRps: 400, toRps: 400 }] },
      warmupS: 1,
      thresholds: ['p99 < 10s', 'errors < 50%'],
    });
    expect(started.state).toBe('running');
    const shares = Object.fromEntries(started.participants.map((p) => [p.hostname, p.share]));
    expect(shares[fast.hostname]).toBeCloseTo(0.25, 10);
    expect(shares[slow.hostname]).toBeCloseTo(0.75, 10);
    expect(fast.assignments[0]).toMatchObject({ runId: started.id, share: 0.25, warmupS: 1 });
    expect(fast.assignments[0]!.startAt).toBe(slow.assignments[0]!.startAt);

    const run = await finished(started.id);
    expect(run.state).toBe('passed');
    const samples = [...fast.measuredSamples(run.id), ...slow.measuredSamples(run.id)].sort((a, b) => a - b);
    expect(samples.length).toBe(3 * 400);
    const r = run.results!;
    expect(r.final).toBe(true);
    expect(r.requests).toBe(samples.length);
    for (const [metric, q] of [
      ['p50', 0.5],
      ['p90', 0.9],
      ['p95', 0.95],
      ['p99', 0.99],
      ['p99.9', 0.999],
    ] as const) {
      const exact = exactQuantile(samples, q);
      expect(Math.abs(r[metric]! - exact) / exact, `${metric}: ${r[metric]} vs ${exact}`).toBeLessThanOrEqual(
        RELATIVE_ACCURACY * 1.01,
      );
    }
    expect(r.max).toBeCloseTo(samples[samples.length - 1]!, 6);
    // One error a second from the fast agent, two late requests a second from the slow one.
    expect(r.errors).toBe(3);
    expect(r.late).toBe(6);
    expect(r.errorsPct).toBeCloseTo((100 * 3) / 1200, 6);
    expect(r.throughputRps).toBeCloseTo(400, 0);
    expect(run.thresholds.map((t) => t.pass)).toEqual([true, true]);

    // Every second is stored merged; the warm-up second is shown but not judged.
    expect(run.series.map((p) => p.phase)).toEqual(['warmup', 'measure', 'measure', 'measure']);
    expect(run.series.every((p) => p.agents === 2 && p.achievedRps === 400)).toBe(true);
    expect(run.series.every((p) => Math.abs(p.targetRps - 400) < 1e-9)).toBe(true);
    const stored = await server.database.db.stressInterval.count({ where: { runId: run.id } });
    expect(stored).toBe(4);
    expect(run.participants.map((p) => [p.state, p.reports])).toEqual([
      ['done', 4],
      ['done', 4],
    ]);
    const audit = await server.database.db.auditEvent.findMany({
      where: { action: { in: ['stress.start', 'stress.finish'] }, targetId: deploymentId },
    });
    expect(audit.map((a) => a.action).sort()).toEqual(['stress.finish', 'stress.start']);
  });

  it('ignores a repeated report and refuses one for a run the node has no part in', async () => {
    const a = await agent(serving[0]!);
    const started = await start({
      deploymentId,
      load: { kind: 'open', arrival: 'poisson', stages: [{ durationS: 3, fromRps: 10, toRps: 10 }] },
      warmupS: 1,
    });
    await new Promise((r) => setTimeout(r, 2300));
    const first = a.reports.find((r) => r.runId === started.id)!;
    const { samples: _s, ack: _a, ...again } = first;
    const repeat = await a.socket.timeout(5000).emitWithAck('stress:report', again);
    expect(repeat).toEqual({ ok: true, seq: first.seq, duplicate: true });

    // It serves the deployment too, but joined after the run was split.
    const stranger = await agent(serving[1]!);
    const foreign = await stranger.socket.timeout(5000).emitWithAck('stress:report', { ...again, seq: 99 });
    expect(foreign).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', field: 'runId' } });
    const bad = await a.socket.timeout(5000).emitWithAck('stress:report', { ...again, seq: 98, sent: -1 });
    expect(bad).toMatchObject({ ok: false, error: { code: 'BAD_FRAME', field: 'sent' } });

    const run = await finished(started.id);
    expect(run.state).toBe('passed');
    // The repeat was not counted twice.
    expect(run.series.reduce((sum, p) => sum + p.achievedRps, 0)).toBe(
      a.reports.filter((r) => r.runId === started.id).reduce((sum, r) => sum + r.sent, 0),
    );
  });
});

describe('thresholds', () => {
  it('aborts a run whose threshold fails after warm-up and grace, and tells the agents to stop', async () => {
    const a = await agent(serving[0]!, {
      latencies: ({ rps }) => Array.from({ length: Math.round(rps) }, () => 50),
    });
    const live = connect(`${server.url}/live`, {
      transports: ['websocket'],
      forceNew: true,
      extraHeaders: { cookie: admin },
    });
    const updates: StressLiveUpdate[] = [];
    live.on('stress:update', (u: StressLiveUpdate) => updates.push(u));
    await new Promise<void>((resolve) => live.once('connect', () => resolve()));

    const begun = Date.now();
    const started = await start({
      deploymentId,
      load: { kind: 'open', arrival: 'constant', stages: [{ durationS: 30, fromRps: 20, toRps: 20 }] },
      warmupS: 1,
      graceS: 1,
      thresholds: ['p95 < 10ms', 'errors < 1%'],
    });
    expect((await live.timeout(5000).emitWithAck('subscribe', `stress:${started.id}`)).ok).toBe(true);
    const run = await finished(started.id);
    live.disconnect();

    expect(run.state).toBe('failed');
    expect(run.reason).toMatch(/^threshold "p95 < 10ms" failed: measured (49|50)\.\d ms$/);
    // Judged from warm-up (1 s) + grace (1 s): stopped long before the 30 s it was asked to run.
    expect(Date.now() - begun).toBeLessThan(12_000);
    expect(a.stops).toEqual([{ runId: run.id, reason: run.reason }]);
    const p95 = run.thresholds.find((t) => t.metric === 'p95')!;
    expect(p95).toMatchObject({ pass: false, value: 10, unit: 'ms' });
    expect(p95.measured).toBeCloseTo(50, -1);
    expect(p95.breachedSecond).not.toBeNull();
    expect(run.thresholds.find((t) => t.metric === 'errors')!.pass).toBe(true);
    expect(run.participants[0]!.state).toBe('done');

    // The live room heard the run second by second and its end.
    expect(updates.length).toBeGreaterThan(0);
    expect(updates.flatMap((u) => u.points).some((p) => p.phase === 'measure' && p.p95 !== null)).toBe(true);
    expect(updates[updates.length - 1]!.state).toBe('failed');
  });

  it('lets a failing run continue when abortOnFail is off, and fails it at the end', async () => {
    await agent(serving[0]!, { latencies: ({ rps }) => Array.from({ length: Math.round(rps) }, () => 50) });
    const started = await start({
      deploymentId,
      load: { kind: 'open', arrival: 'constant', stages: [{ durationS: 4, fromRps: 10, toRps: 10 }] },
      warmupS: 1,
      graceS: 0,
      abortOnFail: false,
      thresholds: ['p99 <= 20ms'],
    });
    const run = await finished(started.id);
    expect(run.state).toBe('failed');
    expect(run.series.length).toBe(4);
    expect(run.participants[0]!.reports).toBe(4);
  });
});

describe('losing agents', () => {
  it('keeps an agent’s data when it drops mid-run and marks the run partial', async () => {
    const steady = await agent(serving[2]!);
    const dropping = await agent(serving[0]!, { disconnectAfterReports: 2 });
    const started = await start({
      deploymentId,
      load: { kind: 'open', arrival: 'constant', stages: [{ durationS: 5, fromRps: 40, toRps: 40 }] },
      warmupS: 1,
      thresholds: ['p95 < 1s'],
    });
    const run = await finished(started.id);
    expect(run.state).toBe('partial');
    expect(run.reason).toContain(`the agent on ${dropping.hostname} disconnected`);
    const lost = run.participants.find((p) => p.hostname === dropping.hostname)!;
    expect(lost).toMatchObject({ state: 'lost', reports: 2 });
    // Its measured second (the second report: its share of 40 req/s) is kept, merged with the steady agent's.
    const share = started.participants.find((p) => p.hostname === dropping.hostname)!.share;
    expect(share).toBeCloseTo(0.25, 10);
    expect(lost.sent).toBe(40 * share);
    const stored = await server.database.db.stressInterval.findMany({
      where: { runId: run.id },
      orderBy: { second: 'asc' },
    });
    expect(stored.map((s) => s.agents)).toEqual([2, 2, 1, 1, 1]);
    expect(stored.reduce((sum, s) => sum + s.sent, 0)).toBe(
      [...steady.reports, ...dropping.reports]
        .filter((r) => r.runId === run.id)
        .reduce((sum, r) => sum + r.sent, 0),
    );
    expect(run.participants.find((p) => p.hostname === steady.hostname)!.state).toBe('done');
  });

  it('counts an agent that stops reporting (still connected) as lost', async () => {
    const steady = await agent(serving[0]!);
    const stalled = await agent(serving[1]!, { silentAfterReports: 2 });
    const started = await start({
      deploymentId,
      load: { kind: 'open', arrival: 'constant', stages: [{ durationS: 9, fromRps: 20, toRps: 20 }] },
      warmupS: 1,
    });
    const run = await finished(started.id);
    expect(run.state).toBe('partial');
    expect(run.reason).toBe(`the agent on ${stalled.hostname} stopped reporting`);
    expect(run.participants.find((p) => p.hostname === stalled.hostname)).toMatchObject({
      state: 'lost',
      reports: 2,
    });
    expect(run.participants.find((p) => p.hostname === steady.hostname)).toMatchObject({
      state: 'done',
      reports: 9,
    });
    expect(stalled.socket.connected).toBe(true);
  });

  it('ends a run in error when an agent refuses it, and stops the others', async () => {
    const willing = await agent(serving[0]!);
    await agent(serving[1]!, { refuse: 'no endpoint for this deployment' });
    const started = await start({
      deploymentId,
      load: { kind: 'closed', concurrency: 4, durationS: 10 },
      warmupS: 1,
    });
    expect(started.state).toBe('error');
    expect(started.reason).toContain('refused the run: no endpoint for this deployment');
    expect(willing.stops.map((s) => s.runId)).toEqual([started.id]);
    expect(started.participants.map((p) => p.state).sort()).toEqual(['lost', 'refused']);
  });

  it('marks runs a previous process left in progress as partial or error on start', async () => {
    const { db } = server.database;
    const base = {
      kind: 'load' as const,
      deploymentId,
      state: 'running' as const,
      definition: {
        deploymentId,
        load: { kind: 'open', arrival: 'constant', stages: [{ durationS: 60, fromRps: 5, toRps: 5 }] },
        warmupS: 0,
        thresholds: ['p95 < 100ms'],
      },
      startAt: new Date(Date.now() - 10_000),
      durationS: 60,
      createdByType: 'user',
      createdByName: 'admin',
    };
    const withData = await db.stressRun.create({ data: base });
    const empty = await db.stressRun.create({ data: base });
    const { LatencyRecorder } = await import('../../lib/latency-histogram');
    const recorder = new LatencyRecorder();
    for (let i = 0; i < 5; i++) recorder.record(40);
    const { LatencyDistribution } = await import('../../lib/latency-histogram');
    await db.stressInterval.create({
      data: {
        runId: withData.id,
        second: 0,
        intervalStart: base.startAt,
        intervalEnd: new Date(base.startAt.getTime() + 1000),
        phase: 'measure',
        agents: 1,
        targetRps: 5,
        sent: 5,
        completed: 5,
        errors: 0,
        late: 0,
        latencySketch: new Uint8Array(LatencyDistribution.fromWire(recorder.drain()).toBytes()),
        latencyMaxMs: 40,
        latencySumMs: 200,
      },
    });
    await server.runtime.stress.recoverInterrupted();
    const [a, b] = [await get(withData.id), await get(empty.id)];
    expect(a.state).toBe('partial');
    expect(a.reason).toContain('restarted');
    expect(a.results?.requests).toBe(5);
    expect(a.results).toMatchObject({ max: 40, mean: 40 });
    expect(a.thresholds[0]).toMatchObject({ pass: true });
    expect(b.state).toBe('error');
  });
});

describe('operator abort and export', () => {
  it('aborts a run on request and exports its seconds as CSV and JSON', async () => {
    const a = await agent(serving[0]!);
    const started = await start({
      deploymentId,
      load: { kind: 'closed', concurrency: 8, durationS: 60 },
      warmupS: 1,
    });
    await new Promise((r) => setTimeout(r, 3200));
    const aborted = await trpc<{ state: string; reason: string }>(
      'stress.abort',
      { id: started.id, reason: 'enough' },
      'POST',
    );
    expect(aborted.status).toBe(200);
    expect(aborted.data).toMatchObject({ state: 'aborted', reason: 'aborted by admin: enough' });
    expect(a.stops[0]?.runId).toBe(started.id);
    const again = await trpc('stress.abort', { id: started.id }, 'POST');
    expect(again.status).toBe(409);

    const csv = await fetch(`${server.url}/api/stress/${started.id}/export?format=csv`, {
      headers: { cookie: admin },
    });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const text = await csv.text();
    const [header, ...rows] = text.split('\n');
    expect(header).toBe(
      'second,at,phase,agents,target_rps,achieved_rps,throughput_rps,p50_ms,p95_ms,p99_ms,errors,late',
    );
    expect(rows.filter((r) => /^\d+,/.test(r)).length).toBeGreaterThanOrEqual(3);
    expect(text).toContain('# state,aborted');

    const json = await trpc<{ body: string }>('stress.export', { id: started.id, format: 'json' }, 'GET');
    expect(JSON.parse(json.data.body)).toMatchObject({ id: started.id, state: 'aborted' });
    const list = await trpc<{ id: string; state: string }[]>(
      'stress.list',
      { deploymentId, limit: 50 },
      'GET',
    );
    expect(list.data.find((r) => r.id === started.id)?.state).toBe('aborted');
    const unauthenticated = await fetch(`${server.url}/api/stress/${started.id}/export?format=csv`);
    expect(unauthenticated.status).toBe(401);
  });
});
