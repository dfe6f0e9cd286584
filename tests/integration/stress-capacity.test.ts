import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  bracket,
  MAX_SEARCH_STEPS,
  nextProbeRps,
  type Probe,
} from '../../server/services/stress/capacity-search';
import type { StartOutput, StressRunView } from '../../server/services/stress/views';
import { signIn, startTestServer, type TestServer } from '../support/server';
import { nodesServing, StressTestAgent } from '../support/stress-agent';

/**
 * Capacity search: the rate planner on its own, then whole searches against an agent whose
 * latency jumps past a known rate, so the answer is known in advance.
 */

describe('rate planner', () => {
  const definition = { startRps: 10, maxRps: 160, tolerancePct: 20 };
  /** Probes a deployment that keeps its SLO up to `capacity` req/s. */
  function search(capacity: number, limits = definition): number[] {
    const probes: Probe[] = [];
    for (let rps = nextProbeRps(limits, probes); rps !== null; rps = nextProbeRps(limits, probes)) {
      probes.push({ rps, ok: rps <= capacity });
    }
    return probes.map((p) => p.rps);
  }

  it('doubles until the SLO breaks, then bisects to the tolerance', () => {
    expect(search(45)).toEqual([10, 20, 40, 80, 60, 50]);
    expect(bracket([10, 20, 40, 80, 60, 50].map((rps) => ({ rps, ok: rps <= 45 })))).toEqual({
      held: 40,
      broke: 50,
    });
  });

  it('stops at maxRps when every rate holds, and bisects down when even the first breaks', () => {
    expect(search(1000)).toEqual([10, 20, 40, 80, 160]);
    const low = search(1, definition);
    expect(low[0]).toBe(10);
    expect(low.slice(1).every((rps) => rps < 10)).toBe(true);
    const { held, broke } = bracket(low.map((rps) => ({ rps, ok: rps <= 1 })));
    expect(held).toBeLessThanOrEqual(1);
    expect(broke! - held).toBeLessThanOrEqual(broke! * 0.2);
    expect(low.length).toBeLessThanOrEqual(MAX_SEARCH_STEPS);
  });

  it('never probes more than MAX_SEARCH_STEPS rates', () => {
    expect(search(77.777, { startRps: 1, maxRps: 1_000_000, tolerancePct: 0.5 }).length).toBe(
      MAX_SEARCH_STEPS,
    );
  });
});

describe('capacity search against agents', () => {
  let server: TestServer;
  let admin: string;
  let deploymentId: string;
  const agents: StressTestAgent[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    admin = await signIn(server.url);
    deploymentId = (await server.database.db.deployment.findUniqueOrThrow({ where: { name: 'embed-small' } }))
      .id;
  });
  afterEach(() => {
    for (const a of agents.splice(0)) a.close();
  });
  afterAll(async () => {
    await server?.close();
  });

  async function call<T>(path: string, input: unknown, method: 'GET' | 'POST' = 'POST') {
    const headers = { 'content-type': 'application/json', cookie: admin, origin: server.url };
    const res =
      method === 'POST'
        ? await fetch(`${server.url}/api/trpc/${path}`, { method, headers, body: JSON.stringify(input) })
        : await fetch(`${server.url}/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`, {
            headers,
          });
    const body = (await res.json()) as { result?: { data: T }; error?: { message: string } };
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${body.error?.message}`);
    return body.result!.data;
  }

  async function ended(id: string, timeoutMs: number): Promise<StressRunView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = await call<StressRunView>('stress.get', { id }, 'GET');
      if (view.state !== 'running' && view.state !== 'starting') return view;
      if (Date.now() > deadline) throw new Error(`search still ${view.state}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** A deployment that answers in 10 ms up to 45 req/s and in 400 ms beyond, on one node that serves it. */
  async function saturatingAgent() {
    const node = nodesServing(server, deploymentId)[0]!;
    const agent = await StressTestAgent.connect(server, node, [{ deploymentId, replicas: node.replicas }], {
      latencies: ({ rps }) => Array.from({ length: Math.round(rps) }, () => (rps <= 45 ? 10 : 400)),
    });
    agents.push(agent);
    return agent;
  }

  it('finds the highest rate that keeps the SLO and draws the curve', async () => {
    const agent = await saturatingAgent();
    const started = await call<StartOutput>('stress.startCapacitySearch', {
      deploymentId,
      sloP95Ms: 100,
      startRps: 10,
      maxRps: 160,
      stepDurationS: 2,
      warmupS: 1,
      tolerancePct: 20,
      arrival: 'constant',
    });
    expect(started.state).toBe('running');
    // One search per deployment at a time.
    await expect(
      call('stress.start', {
        deploymentId,
        load: { kind: 'closed', concurrency: 1, durationS: 5 },
        warmupS: 1,
      }),
    ).rejects.toThrow(/409.*already running against embed-small/);

    const search = await ended(started.id, 60_000);
    expect(search.state).toBe('passed');
    expect(search.kind).toBe('capacity');
    const results = search.capacity!.results!;
    expect(results.bestRps).toBe(40);
    expect(search.bestRps).toBe(40);
    expect(results.points.map((p) => [p.targetRps, p.ok])).toEqual([
      [10, true],
      [20, true],
      [40, true],
      [50, false],
      [60, false],
      [80, false],
    ]);
    const at40 = results.points.find((p) => p.targetRps === 40)!;
    expect(at40.p95).toBeCloseTo(10, -1);
    expect(at40.achievedRps).toBeCloseTo(40, 0);
    expect(results.points.find((p) => p.targetRps === 80)!.why).toContain('"p95 <= 100ms" failed');
    expect(search.capacity!.steps.map((s) => s.state)).toEqual([
      'passed',
      'passed',
      'passed',
      'failed',
      'failed',
      'failed',
    ]);
    // Every step was a real run with its own assignment to the agent.
    expect(agent.assignments.map((a) => (a.load.kind === 'open' ? a.load.stages[0]!.toRps : 0))).toEqual([
      10, 20, 40, 80, 60, 50,
    ]);
    // Steps are listed within their search, not in the history.
    const list = await call<{ id: string }[]>('stress.list', { deploymentId, limit: 50 }, 'GET');
    expect(list.map((r) => r.id)).toEqual([started.id]);
    const csv = await fetch(`${server.url}/api/stress/${started.id}/export?format=csv`, {
      headers: { cookie: admin },
    });
    expect(await csv.text()).toContain('# best_rps,40');
  }, 90_000);

  it('aborts a search and the step in progress', async () => {
    const agent = await saturatingAgent();
    const started = await call<StartOutput>('stress.startCapacitySearch', {
      deploymentId,
      sloP95Ms: 100,
      startRps: 10,
      maxRps: 160,
      stepDurationS: 30,
      warmupS: 1,
    });
    await new Promise((r) => setTimeout(r, 2500));
    const aborted = await call<{ state: string }>('stress.abort', { id: started.id, reason: 'test over' });
    expect(aborted.state).toBe('aborted');
    expect(agent.stops.length).toBe(1);
    const search = await call<StressRunView>('stress.get', { id: started.id }, 'GET');
    expect(search.capacity!.steps.map((s) => s.state)).toEqual(['aborted']);
    expect(search.capacity!.results!.currentStepId).toBeNull();
  }, 30_000);
});
