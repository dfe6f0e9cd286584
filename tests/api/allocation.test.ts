import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AllocationChangeView, ChangeInput, DryRunResult } from '../../lib/allocation/types';
import { DEMO_NODES } from '../../lib/demo-fleet';
import { hashPassword } from '../../server/auth/passwords';
import { createApiToken } from '../../server/auth/sessions';
import { Agent } from '../../workers/agent/agent';
import { silentLog } from '../../workers/agent/log';
import { SimulatorSource } from '../../workers/agent/sources/simulator/simulator-source';
import { enrollmentTokenForHost, signIn, startTestServer, type TestServer } from '../support/server';

/**
 * Allocation changes through the real server, Postgres and real agents: the rules, the
 * optimistic concurrency, idempotency, dry runs, and agents that apply, fail or stay silent.
 */
let server: TestServer;
let admin: string;
let dataDir: string;
const agents: Agent[] = [];

type Board = {
  deployments: { id: string; name: string; version: number; gpusPerReplica: number; maxGpus: number }[];
  jobs: { id: string; name: string; version: number }[];
  gpus: {
    id: string;
    label: string;
    nodeId: string;
    hostname: string;
    deploymentId: string | null;
    jobId: string | null;
  }[];
};

async function call<T>(
  procedure: string,
  input: unknown,
  auth: { cookie?: string; token?: string } = { cookie: admin },
  method: 'GET' | 'POST' = 'POST',
): Promise<{
  status: number;
  data: T;
  error: { message: string; data: { code: string; details: Record<string, unknown> | null } };
}> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (auth.cookie) headers.cookie = auth.cookie;
  if (auth.cookie) headers.origin = server.url;
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  const url =
    method === 'GET'
      ? `${server.url}/api/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify(input ?? {}))}`
      : `${server.url}/api/trpc/${procedure}`;
  const res = await fetch(url, {
    method,
    headers,
    body: method === 'POST' ? JSON.stringify(input) : undefined,
  });
  const body = await res.json();
  return { status: res.status, data: body.result?.data as T, error: body.error };
}

const board = async () => (await call<Board>('allocation.board', undefined, { cookie: admin }, 'GET')).data;
const submit = (input: ChangeInput, auth?: { cookie?: string; token?: string }) =>
  call<AllocationChangeView & DryRunResult>('allocation.submit', input, auth);

async function waitForChange(id: string, timeoutMs = 15_000): Promise<AllocationChangeView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { data } = await call<AllocationChangeView>('allocation.change', { id }, { cookie: admin }, 'GET');
    if (data.state === 'applied' || data.state === 'rolled_back') return data;
    if (Date.now() > deadline) throw new Error(`change ${id} still ${data.state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function freeGpusOn(b: Board, hostname: string) {
  return b.gpus.filter((g) => g.hostname === hostname && !g.deploymentId && !g.jobId);
}

function deployment(b: Board, name: string) {
  return b.deployments.find((d) => d.name === name)!;
}

/** Demo nodes with at least `count` free GPUs, as seeded. */
function nodesWithFree(b: Board, count: number): string[] {
  return DEMO_NODES.map((n) => n.hostname).filter((h) => freeGpusOn(b, h).length >= count);
}

async function startAgent(
  hostname: string,
  applyHook?: string,
  source?: (node: (typeof DEMO_NODES)[number]) => SimulatorSource,
): Promise<Agent> {
  const node = DEMO_NODES.find((n) => n.hostname === hostname)!;
  const agent = new Agent({
    serverUrl: server.url,
    hostname,
    dataDir: path.join(dataDir, hostname),
    enrollmentToken: await enrollmentTokenForHost(server, hostname, node.cluster),
    intervalMs: 200,
    source: source ? source(node) : new SimulatorSource({ node }),
    log: silentLog,
    applyHook,
  });
  await agent.start();
  agents.push(agent);
  const deadline = Date.now() + 10_000;
  while (!agent.stats().connected) {
    if (Date.now() > deadline) throw new Error(`${hostname} did not connect`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return agent;
}

let goodNode: string;
let failingNode: string;
let slowNode: string;
let silentNode: string;

beforeAll(async () => {
  server = await startTestServer({ SWITCHYARD_ALLOCATION_ACK_TIMEOUT_MS: '1500' });
  admin = await signIn(server.url);
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sy-alloc-'));
  const b = await board();
  [goodNode, failingNode, slowNode, silentNode] = nodesWithFree(b, 4) as [string, string, string, string];
  expect(silentNode).toBeDefined();
  await Promise.all([
    startAgent(goodNode),
    startAgent(failingNode, 'echo "driver reset in progress" >&2; exit 3'),
    startAgent(slowNode, 'sleep 5'),
  ]);
  // A node takes new owners once online, after a few seconds of steady heartbeats.
  const online = (hostname: string) =>
    [...server.runtime.catalog.nodes.values()].some((n) => n.hostname === hostname && n.status === 'online');
  const deadline = Date.now() + 15_000;
  while (![goodNode, failingNode, slowNode].every(online)) {
    if (Date.now() > deadline) throw new Error('agents did not come online');
    await new Promise((r) => setTimeout(r, 100));
  }
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await server?.close();
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe('allocation changes', () => {
  it('moves a whole replica onto a deployment and the node confirms it', async () => {
    const b = await board();
    const chat = deployment(b, 'chat-70b');
    const gpus = freeGpusOn(b, goodNode).slice(0, 4);
    const res = await submit({
      moves: gpus.map((g) => ({ gpuId: g.id, to: { deploymentId: chat.id } })),
      baseVersions: { [chat.id]: chat.version },
      reason: 'chat-70b is over its SLO',
    });
    expect(res.error?.message).toBeUndefined();
    expect(res.status).toBe(200);
    expect(res.data.state).toBe('applying');
    const done = await waitForChange(res.data.id);
    expect(done.state).toBe('applied');
    expect(done.nodes).toEqual([expect.objectContaining({ hostname: goodNode, state: 'applied' })]);
    expect(done.versions[chat.id]).toBe(chat.version + 1);

    const owners = await server.database.db.allocation.findMany({
      where: { gpuId: { in: gpus.map((g) => g.id) } },
    });
    expect(owners.map((o) => o.deploymentId)).toEqual([chat.id, chat.id, chat.id, chat.id]);
    const audit = await server.database.db.auditEvent.findMany({
      where: { targetId: res.data.id },
      orderBy: { id: 'asc' },
    });
    expect(audit.map((a) => a.action)).toEqual(['allocation.change', 'allocation.applied']);
    expect(audit[0]).toMatchObject({ actorName: 'admin', reason: 'chat-70b is over its SLO' });
  });

  it('refuses a change based on a stale version with 409 and the current versions', async () => {
    const b = await board();
    const chat = deployment(b, 'chat-70b');
    const gpus = freeGpusOn(b, goodNode).slice(0, 4);
    const res = await submit({
      moves: gpus.map((g) => ({ gpuId: g.id, to: { deploymentId: chat.id } })),
      baseVersions: { [chat.id]: chat.version - 1 },
      reason: 'stale',
    });
    expect(res.status).toBe(409);
    expect(res.error.message).toContain(`chat-70b is at version ${chat.version}, not ${chat.version - 1}`);
    expect(res.error.data.details).toEqual({ current: { [chat.id]: chat.version } });
    expect(
      await server.database.db.allocation.count({ where: { gpuId: { in: gpus.map((g) => g.id) } } }),
    ).toBe(0);
  });

  it('returns the first change for a retried idempotency key and refuses the key for another request', async () => {
    const b = await board();
    const rerank = deployment(b, 'rerank-base');
    const gpu = freeGpusOn(b, goodNode)[0]!;
    const input: ChangeInput = {
      moves: [{ gpuId: gpu.id, to: { deploymentId: rerank.id } }],
      baseVersions: { [rerank.id]: rerank.version },
      reason: 'more embeddings',
      idempotencyKey: 'retry-key-0001',
    };
    const [first, second] = await Promise.all([submit(input), submit(input)]);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.data.id).toBe(first.data.id);
    expect(await server.database.db.allocationChange.count({ where: { reason: 'more embeddings' } })).toBe(1);
    await waitForChange(first.data.id);

    const reused = await submit({ ...input, reason: 'something else' });
    expect(reused.status).toBe(409);
    expect(reused.error.message).toMatch(/^idempotencyKey: /);
  });

  it('previews a change without making it', async () => {
    const b = await board();
    const code = deployment(b, 'code-34b');
    const gpus = freeGpusOn(b, goodNode).slice(0, 2);
    const res = await submit({
      moves: gpus.map((g) => ({ gpuId: g.id, to: { deploymentId: code.id } })),
      baseVersions: { [code.id]: code.version },
      reason: 'what if',
      dryRun: true,
    });
    expect(res.status).toBe(200);
    expect(res.data.dryRun).toBe(true);
    expect(res.data.moves).toHaveLength(2);
    expect(res.data.moves[0]).toMatchObject({ from: null, to: { deploymentId: code.id } });
    expect(res.data.versions).toEqual({ [code.id]: code.version });
    expect(
      await server.database.db.allocation.count({ where: { gpuId: { in: gpus.map((g) => g.id) } } }),
    ).toBe(0);
    expect((await board()).deployments.find((d) => d.id === code.id)!.version).toBe(code.version);
  });

  it('keeps the rules: whole replicas on one node, max GPUs, healthy GPUs, no GPU twice', async () => {
    const b = await board();
    const chat = deployment(b, 'chat-70b');
    const free = freeGpusOn(b, goodNode);
    const base = { [chat.id]: chat.version };

    const half = await submit({
      moves: free.slice(0, 2).map((g) => ({ gpuId: g.id, to: { deploymentId: chat.id } })),
      baseVersions: base,
      reason: 'half a replica',
    });
    expect(half.status).toBe(400);
    const held = b.gpus.filter((g) => g.hostname === goodNode && g.deploymentId === chat.id).length;
    expect(half.error.message).toBe(
      `chat-70b runs replicas of 4 GPUs on one node: ${goodNode} would hold ${held + 2}`,
    );

    const twice = await submit({
      moves: [free[0]!, free[0]!].map((g) => ({ gpuId: g.id, to: { deploymentId: chat.id } })),
      baseVersions: base,
      reason: 'twice',
    });
    expect(twice.status).toBe(400);
    expect(twice.error.message).toMatch(/^moves\.1\.gpuId: GPU .* is already in moves\.0$/);

    const unknown = await submit({
      moves: [{ gpuId: 'no-such-gpu', to: null }],
      baseVersions: {},
      reason: 'x',
    });
    expect(unknown.status).toBe(404);
    expect(unknown.error.message).toBe('moves.0.gpuId: no GPU no-such-gpu');

    await server.database.db.gpu.update({ where: { id: free[0]!.id }, data: { cordoned: true } });
    const rerank = deployment(b, 'rerank-base');
    const cordoned = await submit({
      moves: [{ gpuId: free[0]!.id, to: { deploymentId: rerank.id } }],
      baseVersions: { [rerank.id]: rerank.version },
      reason: 'onto a cordoned GPU',
    });
    expect(cordoned.status).toBe(400);
    expect(cordoned.error.message).toBe(
      `moves.0.gpuId: GPU ${free[0]!.label} is cordoned; it cannot take a new owner`,
    );
    await server.database.db.gpu.update({ where: { id: free[0]!.id }, data: { cordoned: false } });

    const bare = await submit({ moves: [], baseVersions: {}, reason: '' });
    expect(bare.status).toBe(400);
    expect(bare.error.message).toContain('moves: Name at least one GPU to move');
    expect(bare.error.message).toContain('reason: Say why');
  });

  it('refuses to take a deployment below its minimum', async () => {
    const b = await board();
    const chat = deployment(b, 'chat-70b');
    const held = b.gpus.filter((g) => g.deploymentId === chat.id);
    const min = (await server.database.db.deployment.findUniqueOrThrow({ where: { id: chat.id } })).minGpus;
    const release = held.slice(0, held.length - min + 4);
    // Whole replicas per node: release every chat GPU of the chosen nodes.
    const nodes = [...new Set(release.map((g) => g.nodeId))];
    const moves = held.filter((g) => nodes.includes(g.nodeId)).map((g) => ({ gpuId: g.id, to: null }));
    const res = await submit({ moves, baseVersions: { [chat.id]: chat.version }, reason: 'too far' });
    expect(res.status).toBe(400);
    expect(res.error.message).toMatch(/^chat-70b would hold \d+ GPUs, below its minimum of 8$/);
  });

  it('rolls back a change the node fails to apply, with the reason, and restores the owners', async () => {
    const b = await board();
    const chat = deployment(b, 'chat-70b');
    const gpus = freeGpusOn(b, failingNode).slice(0, 4);
    const res = await submit({
      moves: gpus.map((g) => ({ gpuId: g.id, to: { deploymentId: chat.id } })),
      baseVersions: { [chat.id]: chat.version },
      reason: 'onto a node that cannot',
    });
    expect(res.status).toBe(200);
    const done = await waitForChange(res.data.id);
    expect(done.state).toBe('rolled_back');
    expect(done.outcome).toBe(
      `Rolled back: ${failingNode} failed to apply: apply hook exited with status 3: driver reset in progress`,
    );
    expect(done.nodes).toEqual([expect.objectContaining({ hostname: failingNode, state: 'failed' })]);
    expect(
      await server.database.db.allocation.count({ where: { gpuId: { in: gpus.map((g) => g.id) } } }),
    ).toBe(0);
    // The rollback bumped the version again: a client must read the board anew.
    expect(done.versions[chat.id]).toBe(chat.version + 2);
    const audit = await server.database.db.auditEvent.findFirstOrThrow({
      where: { targetId: res.data.id, action: 'allocation.rolled_back' },
    });
    expect(audit.outcome).toBe('rolled_back');
  });

  it('rolls back when the node does not confirm in time, and holds its GPUs meanwhile', async () => {
    const b = await board();
    const rerank = deployment(b, 'rerank-base');
    const gpu = freeGpusOn(b, slowNode)[0]!;
    const res = await submit({
      moves: [{ gpuId: gpu.id, to: { deploymentId: rerank.id } }],
      baseVersions: { [rerank.id]: rerank.version },
      reason: 'onto a slow node',
    });
    expect(res.data.state).toBe('applying');

    const meanwhile = await board();
    expect(meanwhile.gpus.find((g) => g.id === gpu.id)!.deploymentId).toBe(rerank.id);
    const asr = deployment(meanwhile, 'asr-whisper');
    const busy = await submit({
      moves: [{ gpuId: gpu.id, to: { deploymentId: asr.id } }],
      baseVersions: { [rerank.id]: rerank.version + 1, [asr.id]: asr.version },
      reason: 'while it is moving',
    });
    expect(busy.status).toBe(409);
    expect(busy.error.message).toBe(
      `GPU ${gpu.label} is being moved by change ${res.data.id}; wait for it to finish`,
    );

    const done = await waitForChange(res.data.id);
    expect(done.state).toBe('rolled_back');
    expect(done.outcome).toBe(`Rolled back: ${slowNode} did not confirm in time`);
    expect(done.nodes[0]!.state).toBe('timed_out');
    expect(await server.database.db.allocation.count({ where: { gpuId: gpu.id } })).toBe(0);
  });

  it('rolls back at once when the node has no agent connected', async () => {
    // A node that was online a moment ago: its agent has just gone away.
    const node = [...server.runtime.catalog.nodes.values()].find((n) => n.hostname === silentNode)!;
    node.status = 'degraded';
    const b = await board();
    const rerank = deployment(b, 'rerank-base');
    const gpu = freeGpusOn(b, silentNode)[0]!;
    const res = await submit({
      moves: [{ gpuId: gpu.id, to: { deploymentId: rerank.id } }],
      baseVersions: { [rerank.id]: rerank.version },
      reason: 'onto a node without an agent',
    });
    const done = await waitForChange(res.data.id, 1_000);
    expect(done.state).toBe('rolled_back');
    expect(done.outcome).toBe(`Rolled back: ${silentNode} has no agent connected`);
  });

  it('rolls back a change the agent cannot route, and the agent keeps running', async () => {
    // A source that takes its first assignments (at connect) and then cannot re-route.
    class StuckSource extends SimulatorSource {
      private routed = false;
      override applyAssignments(assignments: Parameters<SimulatorSource['applyAssignments']>[0]): void {
        if (this.routed) throw new Error('model server did not restart');
        this.routed = true;
        super.applyAssignments(assignments);
      }
    }
    const agent = await startAgent(silentNode, undefined, (node) => new StuckSource({ node }));
    const b = await board();
    const rerank = deployment(b, 'rerank-base');
    const gpu = freeGpusOn(b, silentNode)[0]!;
    const res = await submit({
      moves: [{ gpuId: gpu.id, to: { deploymentId: rerank.id } }],
      baseVersions: { [rerank.id]: rerank.version },
      reason: 'onto a node that cannot route',
    });
    const done = await waitForChange(res.data.id);
    expect(done.state).toBe('rolled_back');
    expect(done.outcome).toBe(
      `Rolled back: ${silentNode} failed to apply: could not apply the new assignments: model server did not restart`,
    );
    expect(agent.stats().connected).toBe(true);
  });
});

describe('who may move GPUs', () => {
  it('refuses viewers and tokens without the allocate scope, and accepts an allocate token', async () => {
    const db = server.database.db;
    await db.user.create({
      data: { username: 'vic', role: 'viewer', passwordHash: await hashPassword('viewer-password') },
    });
    const viewer = await signIn(server.url, 'vic', 'viewer-password');
    const adminUser = await db.user.findUniqueOrThrow({ where: { username: 'admin' } });
    const readToken = await createApiToken(db, { name: 'ro', scopes: ['read'], createdById: adminUser.id });
    const allocateToken = await createApiToken(db, {
      name: 'rw',
      scopes: ['allocate'],
      createdById: adminUser.id,
    });

    const b = await board();
    const rerank = deployment(b, 'rerank-base');
    const gpu = freeGpusOn(b, goodNode)[0]!;
    const input: ChangeInput = {
      moves: [{ gpuId: gpu.id, to: { deploymentId: rerank.id } }],
      baseVersions: { [rerank.id]: rerank.version },
      reason: 'scripted',
    };
    const asViewer = await submit(input, { cookie: viewer });
    expect(asViewer.status).toBe(403);
    expect(asViewer.error.message).toBe('This action needs the operator role');
    const asReader = await submit(input, { token: readToken.token });
    expect(asReader.status).toBe(403);
    expect(asReader.error.message).toBe('This API token lacks the "allocate" scope');
    // The viewer can still read the board.
    expect((await call<Board>('allocation.board', undefined, { cookie: viewer }, 'GET')).status).toBe(200);

    const asScript = await submit(input, { token: allocateToken.token });
    expect(asScript.status).toBe(200);
    expect((await waitForChange(asScript.data.id)).state).toBe('applied');
    expect(asScript.data.actorName).toBe('token:rw');
  });
});
