import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_NODES } from '../../lib/demo-fleet';
import { LatencyRecorder } from '../../lib/latency-histogram';
import type { EnrollResponse, InventoryAck, TelemetryAck } from '../../lib/protocol/agent';
import type { GpuLivePoint } from '../../lib/protocol/live';
import {
  enrollmentTokenFor,
  enrollmentTokenForHost,
  signIn,
  startTestServer,
  type TestServer,
} from '../support/server';

/**
 * The agent protocol exercised the way a third-party agent would: plain HTTP for
 * enrollment and a socket.io client for the rest, against the real server and Postgres.
 */
let server: TestServer;
const sockets: Socket[] = [];

beforeAll(async () => {
  server = await startTestServer();
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.disconnect();
});
afterAll(async () => {
  await server?.close();
});

const node = DEMO_NODES[0]!; // use1-h100-01, seeded in us-east-1
const other = DEMO_NODES[1]!;

/** Enrolls `hostname`; the demo fleet's nodes exist already, so that replaces their agent. */
async function enroll(hostname: string, token?: string): Promise<EnrollResponse> {
  const res = await fetch(`${server.url}/api/agent/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      enrollmentToken: token ?? (await enrollmentTokenForHost(server, hostname)),
      hostname,
      agentVersion: 'test/1',
    }),
  });
  expect(res.status).toBe(201);
  return res.json();
}

function open(credential: string, namespace = '/agent', extra: Record<string, unknown> = {}): Socket {
  const socket = connect(`${server.url}${namespace}`, {
    auth: { token: credential },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    ...extra,
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

const inventoryOf = (n: typeof node) => ({
  protocolVersion: 1,
  hostname: n.hostname,
  agentVersion: 'test/1',
  gpus: n.gpuUuids.map((uuid, index) => ({
    index,
    uuid,
    name: n.gpuModel.name,
    memoryTotalMiB: n.gpuModel.memoryTotalMiB,
  })),
});

function frameOf(n: typeof node, seq: number, utilizationPct = 50) {
  return {
    seq,
    sampledAt: Date.now(),
    intervalMs: 1000,
    gpus: n.gpuUuids.map((uuid) => ({
      uuid,
      utilizationPct,
      memoryUsedMiB: 1000,
      memoryTotalMiB: n.gpuModel.memoryTotalMiB,
      powerW: 300,
      temperatureC: 55,
      smClockMHz: 1800,
      xidErrors: 0,
      eccErrors: 0,
    })),
    deployments: [],
  };
}

const send = <T>(socket: Socket, event: string, payload: unknown) =>
  socket.timeout(5000).emitWithAck(event, payload) as Promise<T>;

async function readyAgent(n = node): Promise<{ socket: Socket; ack: InventoryAck & { ok: true } }> {
  const { nodeCredential } = await enroll(n.hostname);
  const socket = open(nodeCredential);
  await connected(socket);
  const ack = await send<InventoryAck>(socket, 'inventory', inventoryOf(n));
  expect(ack.ok).toBe(true);
  return { socket, ack: ack as InventoryAck & { ok: true } };
}

describe('enrollment', () => {
  it('trades an enrollment token for a node credential stored only as a hash', async () => {
    const enrolled = await enroll(node.hostname);
    expect(enrolled.clusterName).toBe('us-east-1');
    expect(enrolled.nodeCredential).toMatch(/^node_/);
    const stored = await server.database.db.nodeCredential.findMany({ where: { nodeId: enrolled.nodeId } });
    expect(JSON.stringify(stored)).not.toContain(enrolled.nodeCredential);
  });

  it('refuses an unknown token, a used-up token, and a bad field by name', async () => {
    const unknown = await fetch(`${server.url}/api/agent/enroll`, {
      method: 'POST',
      body: JSON.stringify({ enrollmentToken: 'enr_notarealtokenatallxx', hostname: 'x', agentVersion: '1' }),
    });
    expect(unknown.status).toBe(401);

    const once = await enrollmentTokenFor(server, 'us-east-1', 1);
    await enroll('new-node-used-up-token', once);
    const again = await fetch(`${server.url}/api/agent/enroll`, {
      method: 'POST',
      body: JSON.stringify({ enrollmentToken: once, hostname: 'another-new-node', agentVersion: '1' }),
    });
    expect(again.status).toBe(401);
    expect((await again.json()).error.message).toContain('no uses left');

    const bad = await fetch(`${server.url}/api/agent/enroll`, {
      method: 'POST',
      body: JSON.stringify({
        enrollmentToken: await enrollmentTokenFor(server),
        hostname: 'bad host!',
        agentVersion: '1',
      }),
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({ field: 'hostname' });
  });
});

describe('agent connection', () => {
  it('refuses a connection without a valid node credential', async () => {
    const socket = open('node_forged-credential');
    await expect(connected(socket)).rejects.toThrow('UNAUTHORIZED');
  });

  it('refuses telemetry before the inventory', async () => {
    const { nodeCredential } = await enroll(node.hostname);
    const socket = open(nodeCredential);
    await connected(socket);
    const ack = await send<TelemetryAck>(socket, 'telemetry', frameOf(node, 1));
    expect(ack).toMatchObject({ ok: false, error: { code: 'NOT_READY' } });
  });

  it('acknowledges frames, ignores duplicates by sequence number, and reports lastSeq on reconnect', async () => {
    const { socket, ack } = await readyAgent();
    const start = ack.lastSeq + 1;
    expect(await send(socket, 'telemetry', frameOf(node, start))).toEqual({
      ok: true,
      seq: start,
      duplicate: false,
    });
    expect(await send(socket, 'telemetry', frameOf(node, start + 1))).toEqual({
      ok: true,
      seq: start + 1,
      duplicate: false,
    });
    expect(await send(socket, 'telemetry', frameOf(node, start))).toEqual({
      ok: true,
      seq: start,
      duplicate: true,
    });
    socket.disconnect();

    const again = await readyAgent();
    expect(again.ack.lastSeq).toBe(start + 1);
    expect(again.ack.assignments.gpus).toHaveLength(8);
  });

  it('refuses a frame with a wrong field type, naming the field, and keeps the connection working', async () => {
    const { socket, ack } = await readyAgent();
    const bad = frameOf(node, ack.lastSeq + 1) as Record<string, unknown> & {
      gpus: Record<string, unknown>[];
    };
    bad.gpus[2]!.utilizationPct = 'very busy';
    const refused = await send<TelemetryAck>(socket, 'telemetry', bad);
    expect(refused).toMatchObject({
      ok: false,
      error: { code: 'BAD_FRAME', field: 'gpus.2.utilizationPct' },
    });
    expect(socket.connected).toBe(true);

    const outOfRange = frameOf(node, ack.lastSeq + 1, 140);
    const refused2 = await send<TelemetryAck>(socket, 'telemetry', outOfRange);
    expect(refused2).toMatchObject({ ok: false, error: { field: 'gpus.0.utilizationPct' } });

    const good = await send<TelemetryAck>(socket, 'telemetry', frameOf(node, ack.lastSeq + 1));
    expect(good).toEqual({ ok: true, seq: ack.lastSeq + 1, duplicate: false });
  });

  it('lets an agent speak only for its own node', async () => {
    const { socket, ack } = await readyAgent(node);
    // Another node's hostname in the inventory.
    const wrongHost = await send<InventoryAck>(socket, 'inventory', inventoryOf(other));
    expect(wrongHost).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', field: 'hostname' } });
    // Another node's GPUs under its own hostname.
    const stolen = { ...inventoryOf(node), gpus: inventoryOf(other).gpus };
    const stolenAck = await send<InventoryAck>(socket, 'inventory', stolen);
    expect(stolenAck).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', field: 'gpus.0.uuid' } });
    // Telemetry for another node's GPU.
    const frame = frameOf(node, ack.lastSeq + 1);
    frame.gpus[0]!.uuid = other.gpuUuids[0]!;
    const refused = await send<TelemetryAck>(socket, 'telemetry', frame);
    expect(refused).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', field: 'gpus.0.uuid' } });
    // Nothing of it was stored: the other node's GPUs still belong to it.
    const otherGpu = await server.database.db.gpu.findUniqueOrThrow({
      where: { uuid: other.gpuUuids[0]! },
      include: { node: true },
    });
    expect(otherGpu.node.hostname).toBe(other.hostname);
  });

  it('refuses a frame larger than the limit by closing that connection only', async () => {
    const { socket, ack } = await readyAgent();
    const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    socket.emit('telemetry', { ...frameOf(node, ack.lastSeq + 1), padding: 'x'.repeat(600 * 1024) });
    expect(await disconnected).toBe('transport close');
    const health = await fetch(`${server.url}/api/health`);
    expect(health.status).toBe(200);
  });
});

describe('agent → browser', () => {
  it('delivers a GPU sample and a deployment latency to a subscribed browser socket', async () => {
    const cookie = await signIn(server.url);
    const browser = open('', '/live', { extraHeaders: { cookie } });
    await connected(browser);
    expect(await browser.timeout(5000).emitWithAck('subscribe', 'fleet')).toEqual({ ok: true });

    const { socket, ack } = await readyAgent();
    const deployment = ack.assignments.deployments[0]!;
    const latency = new LatencyRecorder();
    for (let i = 1; i <= 100; i++) latency.record(i * 10); // 10 .. 1000 ms
    const frame = {
      ...frameOf(node, ack.lastSeq + 1, 77),
      deployments: [
        { deploymentId: deployment.id, requests: 100, errors: 0, queueDepth: 3, latencyMs: latency.drain() },
      ],
    };

    const seen = new Promise<GpuLivePoint>((resolve) => {
      browser.on('fleet:gpus', (update: { gpus: GpuLivePoint[] }) => {
        const point = update.gpus.find((g) => g.util === 77);
        if (point) resolve(point);
      });
    });
    const latencySeen = new Promise<{ p95: number | null }>((resolve) => {
      browser.on('deployment:latency', (points: { deploymentId: string; p95: number | null }[]) => {
        const p = points.find((x) => x.deploymentId === deployment.id && x.p95 !== null);
        if (p) resolve(p);
      });
    });
    expect((await send<TelemetryAck>(socket, 'telemetry', frame)).ok).toBe(true);
    expect((await seen).memTotalMiB).toBe(node.gpuModel.memoryTotalMiB);
    // p95 of 10, 20, .. 1000 ms lies between the 94th and 95th values, within the sketch's 1 % error.
    const { p95 } = await latencySeen;
    expect(p95).toBeGreaterThanOrEqual(940 * 0.99);
    expect(p95).toBeLessThanOrEqual(950 * 1.01);
  });

  it('refuses a browser socket without a session', async () => {
    const browser = open('', '/live');
    await expect(connected(browser)).rejects.toThrow('UNAUTHORIZED');
  });
});
