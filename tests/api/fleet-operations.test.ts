import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_NODES } from '../../lib/demo-fleet';
import type { InventoryAck, TelemetryAck } from '../../lib/protocol/agent';
import { hashPassword } from '../../server/auth/passwords';
import {
  DEGRADED_AFTER_MS,
  OFFLINE_AFTER_MS,
  RECOVER_AFTER_MS,
} from '../../server/services/telemetry/node-health';
import { enrollmentTokenForHost, signIn, startTestServer, type TestServer } from '../support/server';

let server: TestServer;
let admin: string;
let agent: Socket;
let lastSeq = 0;
const node = DEMO_NODES[2]!;

beforeAll(async () => {
  server = await startTestServer();
  admin = await signIn(server.url);
  const res = await fetch(`${server.url}/api/agent/enroll`, {
    method: 'POST',
    body: JSON.stringify({
      enrollmentToken: await enrollmentTokenForHost(server, node.hostname),
      hostname: node.hostname,
      agentVersion: 't/1',
    }),
  });
  const { nodeCredential } = await res.json();
  agent = connect(`${server.url}/agent`, {
    auth: { token: nodeCredential },
    transports: ['websocket'],
    forceNew: true,
  });
  await new Promise<void>((resolve) => agent.once('connect', () => resolve()));
  const ack = (await agent.emitWithAck('inventory', {
    protocolVersion: 1,
    hostname: node.hostname,
    agentVersion: 't/1',
    gpus: node.gpuUuids.map((uuid, index) => ({ index, uuid, name: 'H100', memoryTotalMiB: 81559 })),
  })) as InventoryAck;
  if (!ack.ok) throw new Error(ack.error.message);
  lastSeq = ack.lastSeq;
});
afterAll(async () => {
  agent?.disconnect();
  await server?.close();
});

function sendFrame(overrides: Partial<Record<string, unknown>>[] = []): Promise<TelemetryAck> {
  lastSeq += 1;
  return agent.emitWithAck('telemetry', {
    seq: lastSeq,
    sampledAt: Date.now(),
    intervalMs: 1000,
    gpus: node.gpuUuids.map((uuid, i) => ({
      uuid,
      utilizationPct: 40,
      memoryUsedMiB: 1000,
      memoryTotalMiB: 81559,
      powerW: 300,
      temperatureC: 50,
      smClockMHz: 1500,
      ...(overrides[i] ?? {}),
    })),
  });
}

const trpc = (
  path: string,
  init: { input?: unknown; cookie?: string; token?: string; method?: 'GET' | 'POST' } = {},
) => {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (init.cookie) headers.cookie = init.cookie;
  if (init.cookie) headers.origin = server.url;
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.method === 'POST') {
    return fetch(`${server.url}/api/trpc/${path}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(init.input ?? {}),
    });
  }
  const query = init.input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(init.input))}`;
  return fetch(`${server.url}/api/trpc/${path}${query}`, { headers });
};

async function gpuByUuid(uuid: string) {
  return server.database.db.gpu.findUniqueOrThrow({ where: { uuid } });
}

describe('GPU health from telemetry', () => {
  it('degrades a GPU on an XID or ECC error and fails it when row remapping fails', async () => {
    expect((await sendFrame([{ xidErrors: 1 }, {}, { eccErrors: 2 }, { remappedRowsFailed: true }])).ok).toBe(
      true,
    );
    await server.runtime.gpuHealth.persist();
    expect((await gpuByUuid(node.gpuUuids[0]!)).health).toBe('degraded');
    expect((await gpuByUuid(node.gpuUuids[1]!)).health).toBe('ok');
    expect((await gpuByUuid(node.gpuUuids[2]!)).health).toBe('degraded');
    expect((await gpuByUuid(node.gpuUuids[3]!)).health).toBe('failed');

    // An error-free frame does not clear a recent error at once, but ends a failure that is over.
    await sendFrame();
    await server.runtime.gpuHealth.persist();
    expect((await gpuByUuid(node.gpuUuids[0]!)).health).toBe('degraded');
    expect((await gpuByUuid(node.gpuUuids[3]!)).health).toBe('ok');
  });
});

describe('node liveness', () => {
  it('degrades, then offlines a silent node, and needs steady heartbeats to bring it back', async () => {
    const { health, catalog } = server.runtime;
    const nodeId = [...catalog.nodes.values()].find((n) => n.hostname === node.hostname)!.id;
    const status = () => catalog.nodes.get(nodeId)!.status;
    // A clock of our own, ahead of the real heartbeats; steady heartbeats bring the node online.
    const start = Date.now() + 60_000;
    for (let t = start; t <= start + RECOVER_AFTER_MS; t += 1000) {
      health.markSeen(nodeId, t);
      await health.sweep(t);
    }
    expect(status()).toBe('online');
    const t0 = start + RECOVER_AFTER_MS;
    await health.sweep(t0 + DEGRADED_AFTER_MS);
    expect(status()).toBe('degraded');
    // One late heartbeat, then silence again: still degraded, no flapping.
    health.markSeen(nodeId, t0 + DEGRADED_AFTER_MS + 500);
    await health.sweep(t0 + DEGRADED_AFTER_MS + 600);
    expect(status()).toBe('degraded');
    await health.sweep(t0 + DEGRADED_AFTER_MS + 500 + OFFLINE_AFTER_MS);
    expect(status()).toBe('offline');
    // Steady heartbeats for RECOVER_AFTER_MS restore it.
    const back = t0 + DEGRADED_AFTER_MS + 500 + OFFLINE_AFTER_MS + 1000;
    for (let t = back; t <= back + RECOVER_AFTER_MS; t += 1000) {
      health.markSeen(nodeId, t);
      await health.sweep(t);
    }
    expect(status()).toBe('online');
    const stored = await server.database.db.node.findUniqueOrThrow({ where: { id: nodeId } });
    expect(stored.status).toBe('online');
  });
});

describe('cordoning', () => {
  it('lets an operator cordon a GPU and a node, audited with the reason', async () => {
    const gpu = await gpuByUuid(node.gpuUuids[5]!);
    const res = await trpc('fleet.cordonGpu', {
      method: 'POST',
      cookie: admin,
      input: { gpuId: gpu.id, cordoned: true, reason: 'fan noise' },
    });
    expect(res.status).toBe(200);
    const gpus = (await (await trpc('fleet.gpus', { cookie: admin })).json()).result.data as {
      id: string;
      cordoned: boolean;
      cordonedBy: string | null;
    }[];
    expect(gpus.find((g) => g.id === gpu.id)).toMatchObject({ cordoned: true, cordonedBy: 'gpu' });

    const nodeRow = await server.database.db.node.findFirstOrThrow({ where: { hostname: node.hostname } });
    await trpc('fleet.cordonNode', {
      method: 'POST',
      cookie: admin,
      input: { nodeId: nodeRow.id, cordoned: true, reason: 'maintenance' },
    });
    const after = (await (await trpc('fleet.gpus', { cookie: admin })).json()).result.data as typeof gpus;
    const ofNode = after.filter((g) => node.gpuUuids.length && g.cordonedBy !== null);
    expect(ofNode.length).toBeGreaterThanOrEqual(8);

    const audit = await server.database.db.auditEvent.findMany({
      where: { action: { in: ['gpu.cordon', 'node.cordon'] } },
    });
    expect(audit.map((a) => [a.action, a.reason, a.actorName]).sort()).toEqual([
      ['gpu.cordon', 'fan noise', 'admin'],
      ['node.cordon', 'maintenance', 'admin'],
    ]);
  });

  it('refuses a viewer, a read-only token and a missing reason', async () => {
    await server.database.db.user.create({
      data: { username: 'watcher', role: 'viewer', passwordHash: await hashPassword('watcher-password') },
    });
    const viewer = await signIn(server.url, 'watcher', 'watcher-password');
    const gpu = await gpuByUuid(node.gpuUuids[6]!);
    const asViewer = await trpc('fleet.cordonGpu', {
      method: 'POST',
      cookie: viewer,
      input: { gpuId: gpu.id, cordoned: true, reason: 'x' },
    });
    expect(asViewer.status).toBe(403);

    const created = await trpc('admin.createApiToken', {
      method: 'POST',
      cookie: admin,
      input: { name: 'ro', scopes: ['read'] },
    });
    const { token } = (await created.json()).result.data;
    const asToken = await trpc('fleet.cordonGpu', {
      method: 'POST',
      token,
      input: { gpuId: gpu.id, cordoned: true, reason: 'x' },
    });
    expect(asToken.status).toBe(403);

    const noReason = await trpc('fleet.cordonGpu', {
      method: 'POST',
      cookie: admin,
      input: { gpuId: gpu.id, cordoned: true, reason: ' ' },
    });
    expect(noReason.status).toBe(400);
    expect((await noReason.json()).error.message).toContain('reason');
    expect((await gpuByUuid(node.gpuUuids[6]!)).cordoned).toBe(false);
  });
});

describe('GET /metrics', () => {
  it('needs a session or a read token, and exposes fleet, GPU, deployment and ingest metrics', async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    await sendFrame([{ utilizationPct: 73 }]);
    const res = await fetch(`${server.url}/metrics`, { headers: { cookie: admin } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toContain('switchyard_fleet_gpus{state="total"} 96');
    expect(text).toMatch(
      new RegExp(
        `switchyard_gpu_utilization_percent\\{gpu="${node.gpuUuids[0]}",index="0",node="${node.hostname}",cluster="us-east-1",deployment="[^"]*"\\} 73`,
      ),
    );
    expect(text).toMatch(/switchyard_telemetry_frames_committed_total [1-9]/);
    expect(text).toContain('switchyard_deployment_slo_p95_seconds{deployment="chat-70b"} 1.2');
    expect(text).toMatch(/switchyard_node_up\{node="use1-h100-03",cluster="us-east-1",status="online"\} 1/);
  });
});
