import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_DEPLOYMENTS, DEMO_NODES } from '../../lib/demo-fleet';
import type { StartOutput, StressRunView } from '../../server/services/stress/views';
import { Agent } from '../../workers/agent/agent';
import type { AgentLog } from '../../workers/agent/log';
import { SimulatorSource } from '../../workers/agent/sources/simulator/simulator-source';
import { enrollmentTokenForHost, signIn, startTestServer, type TestServer } from '../support/server';

/**
 * The whole path with the real agent: Agent processes on the simulator (whose model servers
 * answer real HTTP on loopback) announce their endpoints to the real server, take their
 * share of a run, send open-loop load and report; the server merges and judges.
 */

let server: TestServer;
let admin: string;
let deployment: { id: string; name: string };
const agents: Agent[] = [];
const dirs: string[] = [];

const quiet: AgentLog = { info: () => {}, warn: () => {}, error: () => {} };

beforeAll(async () => {
  server = await startTestServer();
  admin = await signIn(server.url);
  deployment = await server.database.db.deployment.findUniqueOrThrow({
    where: { name: 'embed-small' },
    select: { id: true, name: true },
  });
  // The demo seed spreads embed-small's GPUs over some nodes: run an agent on each of them.
  const allocations = await server.database.db.allocation.findMany({
    where: { deploymentId: deployment.id },
    include: { gpu: { include: { node: true } } },
  });
  const hostnames = [...new Set(allocations.map((a) => a.gpu.node.hostname))].slice(0, 3);
  for (const hostname of hostnames) {
    const node = DEMO_NODES.find((n) => n.hostname === hostname)!;
    const dataDir = await mkdtemp(join(tmpdir(), 'switchyard-stress-agent-'));
    dirs.push(dataDir);
    const agent = new Agent({
      serverUrl: server.url,
      hostname,
      dataDir,
      enrollmentToken: await enrollmentTokenForHost(server, hostname, node.cluster),
      intervalMs: 1000,
      source: new SimulatorSource({ node, deployments: DEMO_DEPLOYMENTS }),
      log: quiet,
    });
    await agent.start();
    agents.push(agent);
  }
  const deadline = Date.now() + 15_000;
  while (server.runtime.stress.endpoints.hostsOf(deployment.id).length < hostnames.length) {
    if (Date.now() > deadline) throw new Error('the agents did not announce their endpoints');
    await new Promise((r) => setTimeout(r, 100));
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await server?.close();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function call<T>(path: string, input: unknown, method: 'GET' | 'POST' = 'POST'): Promise<T> {
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

async function ended(id: string): Promise<StressRunView> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const view = await call<StressRunView>('stress.get', { id }, 'GET');
    if (view.state !== 'starting' && view.state !== 'running') return view;
    if (Date.now() > deadline) throw new Error(`run still ${view.state}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('stress runs with real agents', () => {
  it('splits an open-loop run over the agents serving the deployment and merges what they measured', async () => {
    const hosts = server.runtime.stress.endpoints.hostsOf(deployment.id);
    expect(hosts.length).toBeGreaterThan(0);
    const started = await call<StartOutput>('stress.start', {
      deploymentId: deployment.id,
      load: { kind: 'open', arrival: 'constant', stages: [{ durationS: 4, fromRps: 120, toRps: 120 }] },
      warmupS: 1,
      thresholds: ['p99 < 5s', 'errors < 1%'],
    });
    expect(started.state).toBe('running');
    const totalReplicas = hosts.reduce((sum, h) => sum + h.replicas, 0);
    for (const p of started.participants) {
      expect(p.share).toBeCloseTo(hosts.find((h) => h.nodeId === p.nodeId)!.replicas / totalReplicas, 9);
    }

    const run = await ended(started.id);
    expect(run.state, run.reason ?? '').toBe('passed');
    expect(run.participants.every((p) => p.state === 'done')).toBe(true);
    const r = run.results!;
    // Three measured seconds at 120 req/s, all answered by the simulated model servers.
    expect(r.sent).toBeGreaterThanOrEqual(340);
    expect(r.sent).toBeLessThanOrEqual(380);
    expect(r.errors).toBe(0);
    // Answers in the measured phase include those still in flight when the warm-up ended: at
    // 120 req/s, up to 100 ms worth when the server, three agents and their model servers share
    // a busy machine's event loop (6 was seen exceeded under load).
    expect(Math.abs(r.requests - r.sent)).toBeLessThanOrEqual(12);
    // embed-small serves in about 12 ms: the merged percentiles must say so.
    expect(r.p50!).toBeGreaterThan(5);
    expect(r.p50!).toBeLessThan(200);
    expect(r.p99!).toBeGreaterThanOrEqual(r.p95!);
    expect(r.max!).toBeGreaterThanOrEqual(r.p99!);
    const measured = run.series.filter((p) => p.phase === 'measure');
    expect(measured.length).toBeGreaterThanOrEqual(3);
    expect(run.participants.reduce((sum, p) => sum + p.sent, 0)).toBe(r.sent);
  }, 40_000);

  it('marks the run partial when an agent stops mid-run, keeping what it reported', async () => {
    const started = await call<StartOutput>('stress.start', {
      deploymentId: deployment.id,
      load: { kind: 'open', arrival: 'poisson', stages: [{ durationS: 6, fromRps: 60, toRps: 60 }] },
      warmupS: 1,
    });
    expect(started.participants.length).toBeGreaterThan(1);
    await new Promise((r) => setTimeout(r, 3200));
    const leaving = agents.find((a) => a.stats().connected)!;
    const index = agents.indexOf(leaving);
    await leaving.stop();
    agents.splice(index, 1);
    const run = await ended(started.id);
    expect(run.state).toBe('partial');
    const lost = run.participants.filter((p) => p.state === 'lost');
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reports).toBeGreaterThanOrEqual(2);
    expect(lost[0]!.reason).toMatch(/ended its share \d+ s early|disconnected|stopped reporting/);
    expect(lost[0]!.sent).toBeGreaterThan(0);
    expect(run.participants.filter((p) => p.state === 'done')).toHaveLength(run.participants.length - 1);
  }, 40_000);
});
