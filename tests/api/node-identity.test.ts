import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EnrollResponse, InventoryAck, TelemetryAck } from '../../lib/protocol/agent';
import { hashSecret } from '../../server/auth/secrets';
import { enrollmentTokenFor, signIn, startTestServer, type TestServer } from '../support/server';

/**
 * Who may speak for a node. Holding an enrollment token must not be enough to take over a
 * node that exists; replacing a node's agent is explicit (a replacement token from an admin,
 * or a rotation by the running agent), and a credential that is revoked stops working at once,
 * including on the sockets already open with it. Real server, real Postgres, real sockets.
 */
let server: TestServer;
let admin: string;
const sockets: Socket[] = [];
let hostCounter = 0;

beforeAll(async () => {
  server = await startTestServer();
  admin = await signIn(server.url);
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.disconnect();
});
afterAll(async () => {
  await server?.close();
});

/** A machine of our own (not one of the demo fleet's), with GPUs no other node has. */
function newMachine() {
  hostCounter++;
  const hostname = `ident-${hostCounter}-${Date.now().toString(36)}`;
  return {
    hostname,
    gpus: [0, 1].map((index) => ({
      index,
      uuid: `GPU-${hostname}-${index}`,
      name: 'NVIDIA H100 80GB HBM3',
      memoryTotalMiB: 81559,
    })),
  };
}
type Machine = ReturnType<typeof newMachine>;

function enroll(hostname: string, enrollmentToken: string): Promise<Response> {
  return fetch(`${server.url}/api/agent/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ enrollmentToken, hostname, agentVersion: 'test/1' }),
  });
}

async function enrolled(hostname: string, token: string): Promise<EnrollResponse> {
  const res = await enroll(hostname, token);
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json();
}

function open(credential: string): Socket {
  const socket = connect(`${server.url}/agent`, {
    auth: { token: credential },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  sockets.push(socket);
  return socket;
}

function connected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
}

/** Connects with the credential and has the inventory accepted. */
async function agentFor(machine: Machine, credential: string): Promise<{ socket: Socket; lastSeq: number }> {
  const socket = open(credential);
  await connected(socket);
  const ack = (await socket.timeout(5000).emitWithAck('inventory', {
    protocolVersion: 1,
    hostname: machine.hostname,
    agentVersion: 'test/1',
    gpus: machine.gpus,
  })) as InventoryAck;
  expect(ack, JSON.stringify(ack)).toMatchObject({ ok: true });
  return { socket, lastSeq: ack.ok ? ack.lastSeq : 0 };
}

function frame(machine: Machine, seq: number) {
  return {
    seq,
    sampledAt: Date.now(),
    intervalMs: 1000,
    gpus: machine.gpus.map((gpu) => ({
      uuid: gpu.uuid,
      utilizationPct: 50,
      memoryUsedMiB: 1000,
      memoryTotalMiB: gpu.memoryTotalMiB,
      powerW: 300,
      temperatureC: 55,
      smClockMHz: 1800,
    })),
    deployments: [],
  };
}

const sendFrame = (socket: Socket, machine: Machine, seq: number) =>
  socket.timeout(5000).emitWithAck('telemetry', frame(machine, seq)) as Promise<TelemetryAck>;

/** Resolves with the `revoked` notice (if one came) and the reason once the socket is closed. */
function closing(socket: Socket): Promise<{ notice: { reason: string } | null; reason: string }> {
  let notice: { reason: string } | null = null;
  socket.on('revoked', (n: { reason: string }) => {
    notice = n;
  });
  return new Promise((resolve) => socket.once('disconnect', (reason) => resolve({ notice, reason })));
}

/** The server's own view: sockets it still holds for the node. */
async function serverSocketsOf(nodeId: string): Promise<number> {
  return (await server.runtime.io.of('/agent').in(`node:${nodeId}`).fetchSockets()).length;
}

async function refusedConnection(credential: string): Promise<void> {
  await expect(connected(open(credential))).rejects.toThrow('UNAUTHORIZED');
}

async function trpc<T>(path: string, input: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${server.url}/api/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: admin, origin: server.url },
    body: JSON.stringify(input),
  });
  return { status: res.status, body: await res.json() };
}

async function replacementToken(nodeId: string): Promise<string> {
  const res = await trpc<{ result: { data: { token: string } } }>('admin.createReplacementToken', { nodeId });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.result.data.token;
}

async function newNodeWithAgent() {
  const machine = newMachine();
  const credentials = await enrolled(machine.hostname, await enrollmentTokenFor(server));
  const agent = await agentFor(machine, credentials.nodeCredential);
  return { machine, credentials, ...agent };
}

describe('enrolling a hostname that already exists', () => {
  it('is refused with 409 naming the hostname; the node, its agent and the token are untouched', async () => {
    const { machine, credentials, socket, lastSeq } = await newNodeWithAgent();
    const { db } = server.database;
    const before = await db.node.findUniqueOrThrow({ where: { id: credentials.nodeId } });

    const token = await enrollmentTokenFor(server, 'us-east-1', 5);
    const takeover = await enroll(machine.hostname, token);
    expect(takeover.status).toBe(409);
    const body = await takeover.json();
    expect(body).not.toHaveProperty('nodeCredential');
    expect(body.error).toMatchObject({ code: 'CONFLICT', field: 'hostname' });
    expect(body.error.message).toMatch(/replacement token/);
    expect(body.error.message).toMatch(/rotate/);

    // No use of the token counted, nothing about the node changed.
    const row = await db.enrollmentToken.findUniqueOrThrow({ where: { tokenHash: hashSecret(token) } });
    expect(row.uses).toBe(0);
    const after = await db.node.findUniqueOrThrow({ where: { id: credentials.nodeId } });
    expect(after.agentVersion).toBe(before.agentVersion);
    expect(after.labels).toEqual(before.labels);
    const creds = await db.nodeCredential.findMany({ where: { nodeId: credentials.nodeId } });
    expect(creds).toHaveLength(1);
    expect(creds[0]!.revokedAt).toBeNull();

    // The real agent's socket stays up and its frames are still accepted.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(socket.connected).toBe(true);
    expect(await sendFrame(socket, machine, lastSeq + 1)).toMatchObject({ ok: true, duplicate: false });
    // And its credential still opens new connections.
    await connected(open(credentials.nodeCredential));

    const audit = await db.auditEvent.findFirst({
      where: { action: 'node.enroll.refused', targetId: credentials.nodeId },
    });
    expect(audit).toMatchObject({ outcome: 'refused', actorName: machine.hostname });
  });

  it('refuses a demo node too, and the token still enrolls a new hostname afterwards', async () => {
    const token = await enrollmentTokenFor(server, 'us-east-1', 1);
    const seeded = await server.database.db.node.findFirstOrThrow({
      where: { cluster: { name: 'us-east-1' } },
    });
    expect((await enroll(seeded.hostname, token)).status).toBe(409);
    await enrolled(newMachine().hostname, token);
  });
});

describe('a replacement token', () => {
  it("replaces the node's agent: the old credential is refused and its socket closed with a notice", async () => {
    const { machine, credentials, socket } = await newNodeWithAgent();
    const old = closing(socket);

    // Issued over REST as well as tRPC (same procedure).
    const res = await fetch(`${server.url}/api/v1/admin/nodes/${credentials.nodeId}/replacement-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: admin, origin: server.url },
      body: JSON.stringify({ expiresInMinutes: 30 }),
    });
    expect(res.status).toBe(200);
    const issued = await res.json();
    expect(issued).toMatchObject({ nodeId: credentials.nodeId, hostname: machine.hostname });
    expect(new Date(issued.expiresAt).getTime() - Date.now()).toBeLessThanOrEqual(30 * 60_000);

    // Another hostname is refused, naming the field, and does not use the token up.
    const wrong = await enroll(`${machine.hostname}-other`, issued.token);
    expect(wrong.status).toBe(403);
    expect((await wrong.json()).error).toMatchObject({ field: 'hostname' });
    expect(socket.connected).toBe(true);

    const replaced = await enrolled(machine.hostname, issued.token);
    expect(replaced.nodeId).toBe(credentials.nodeId);
    expect(replaced.nodeCredential).not.toBe(credentials.nodeCredential);
    expect(await serverSocketsOf(credentials.nodeId)).toBe(0);
    const closed = await old;
    expect(closed.reason).toBe('io server disconnect');
    expect(closed.notice?.reason).toMatch(/replaced/);

    await refusedConnection(credentials.nodeCredential);
    await agentFor(machine, replaced.nodeCredential);

    // Single use.
    const again = await enroll(machine.hostname, issued.token);
    expect(again.status).toBe(401);
    const audit = await server.database.db.auditEvent.findMany({
      where: {
        targetId: credentials.nodeId,
        action: { in: ['node.replacementToken.create', 'node.enroll.replace'] },
      },
    });
    expect(audit.map((a) => a.action).sort()).toEqual([
      'node.enroll.replace',
      'node.replacementToken.create',
    ]);
  });

  it('supersedes the earlier unused one, and needs an admin', async () => {
    const { credentials, machine } = await newNodeWithAgent();
    const first = await replacementToken(credentials.nodeId);
    const second = await replacementToken(credentials.nodeId);
    expect((await enroll(machine.hostname, first)).status).toBe(401);
    await enrolled(machine.hostname, second);

    const anonymous = await fetch(`${server.url}/api/trpc/admin.createReplacementToken`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ nodeId: credentials.nodeId }),
    });
    expect(anonymous.status).toBe(401);
    const unknown = await trpc('admin.createReplacementToken', { nodeId: 'no-such-node' });
    expect(unknown.status).toBe(404);
  });
});

describe('rotating a credential', () => {
  const rotate = (credential?: string, method = 'POST') =>
    fetch(`${server.url}/api/agent/rotate-credential`, {
      method,
      headers: credential ? { authorization: `Bearer ${credential}` } : {},
    });

  it('revokes the presented credential at once, closes its socket and returns a working one', async () => {
    const { machine, credentials, socket, lastSeq } = await newNodeWithAgent();
    const old = closing(socket);

    const res = await rotate(credentials.nodeCredential);
    expect(res.status).toBe(200);
    const rotated = (await res.json()) as EnrollResponse;
    expect(rotated).toMatchObject({ nodeId: credentials.nodeId, clusterName: 'us-east-1' });
    expect(rotated.nodeCredential).toMatch(/^node_/);
    expect(await serverSocketsOf(credentials.nodeId)).toBe(0);
    const closed = await old;
    expect(closed.reason).toBe('io server disconnect');
    expect(closed.notice?.reason).toMatch(/rotated/);

    await refusedConnection(credentials.nodeCredential);
    expect((await rotate(credentials.nodeCredential)).status).toBe(401);

    const { socket: renewed } = await agentFor(machine, rotated.nodeCredential);
    expect(await sendFrame(renewed, machine, lastSeq + 1)).toMatchObject({ ok: true });
    const audit = await server.database.db.auditEvent.findFirst({
      where: { targetId: credentials.nodeId, action: 'node.credential.rotate' },
    });
    expect(audit).not.toBeNull();
  });

  it('needs a live credential in the Authorization header, over POST', async () => {
    const missing = await rotate();
    expect(missing.status).toBe(401);
    expect((await missing.json()).error).toMatchObject({ code: 'UNAUTHORIZED', field: 'authorization' });
    expect((await rotate('node_forged-credential')).status).toBe(401);
    const { credentials } = await newNodeWithAgent();
    expect((await rotate(credentials.nodeCredential, 'GET')).status).toBe(405);
  });
});

describe("revoking a node's credentials", () => {
  it('closes the sockets that used them at once; the node stays', async () => {
    const { credentials, socket } = await newNodeWithAgent();
    const old = closing(socket);
    const res = await trpc<{ result: { data: { credentialsRevoked: number } } }>(
      'admin.revokeNodeCredentials',
      {
        nodeId: credentials.nodeId,
        reason: 'credential leaked in a log',
      },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.result.data.credentialsRevoked).toBe(1);
    expect(await serverSocketsOf(credentials.nodeId)).toBe(0);
    const closed = await old;
    expect(closed.notice?.reason).toMatch(/revoked/);
    await refusedConnection(credentials.nodeCredential);
    expect(await server.database.db.node.findUnique({ where: { id: credentials.nodeId } })).not.toBeNull();
  });
});

describe('removing a node', () => {
  it('is refused while a deployment or job owns its GPUs, naming them, and leaves it working', async () => {
    const { db } = server.database;
    const owned = await db.allocation.findFirstOrThrow({
      where: { deploymentId: { not: null } },
      include: { gpu: true, deployment: true },
    });
    const res = await trpc<{ error: { message: string; data: { code: string } } }>('admin.removeNode', {
      nodeId: owned.gpu.nodeId,
      reason: 'decommissioned',
    });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain(owned.deployment!.name);
    expect(await db.node.findUnique({ where: { id: owned.gpu.nodeId } })).not.toBeNull();
    expect(
      await db.nodeCredential.count({ where: { nodeId: owned.gpu.nodeId, revokedAt: { not: null } } }),
    ).toBe(0);
  });

  it('closes its sockets, deletes it with its GPUs, and telemetry keeps flowing for the rest', async () => {
    const { machine, credentials, socket, lastSeq } = await newNodeWithAgent();
    const bystander = await newNodeWithAgent();
    // Frames still in the journal and in open rollup buckets when the node goes.
    for (let seq = lastSeq + 1; seq <= lastSeq + 3; seq++) {
      expect(await sendFrame(socket, machine, seq)).toMatchObject({ ok: true });
    }
    const old = closing(socket);

    const res = await fetch(`${server.url}/api/v1/admin/nodes/${credentials.nodeId}/remove`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: admin, origin: server.url },
      body: JSON.stringify({ reason: 'decommissioned' }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({
      id: credentials.nodeId,
      hostname: machine.hostname,
      gpusRemoved: 2,
    });
    expect((await old).notice?.reason).toMatch(/removed/);

    const { db } = server.database;
    expect(await db.node.findUnique({ where: { id: credentials.nodeId } })).toBeNull();
    expect(await db.gpu.count({ where: { uuid: { in: machine.gpus.map((g) => g.uuid) } } })).toBe(0);
    expect(server.runtime.catalog.nodes.has(credentials.nodeId)).toBe(false);
    await refusedConnection(credentials.nodeCredential);
    expect(
      await db.auditEvent.findFirst({ where: { action: 'node.remove', targetId: credentials.nodeId } }),
    ).toMatchObject({ reason: 'decommissioned' });

    // The rollup writer is not stuck on the removed node's GPUs: everything else still lands.
    expect(await sendFrame(bystander.socket, bystander.machine, bystander.lastSeq + 1)).toMatchObject({
      ok: true,
    });
    await server.runtime.ingest.settled();
    await server.runtime.rollups.flush({ all: true });
    expect(server.runtime.rollups.pendingBuckets).toBe(0);
    expect(await db.telemetryJournal.count()).toBe(0);

    // The hostname is free again: an ordinary token enrolls it as a new node.
    const again = await enrolled(machine.hostname, await enrollmentTokenFor(server));
    expect(again.nodeId).not.toBe(credentials.nodeId);
  });
});
