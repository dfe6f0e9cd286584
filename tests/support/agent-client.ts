import { io as connect, type Socket } from 'socket.io-client';
import { DEMO_NODES, type DemoNode } from '../../lib/demo-fleet';
import { LatencyRecorder } from '../../lib/latency-histogram';
import type { InventoryAck, TelemetryAck, TelemetryFrame } from '../../lib/protocol/agent';
import { hashSecret, newSecret } from '../../server/auth/secrets';
import type { TestServer } from './server';

/**
 * A bare agent for protocol tests: a node credential made straight in the database (so a
 * test needs no enrollment token), a socket.io client, and well-formed frames to bend.
 */
export type TestNode = { nodeId: string; hostname: string; gpuUuids: string[]; credential: string };

/** A credential for a demo node (whose GPUs serve the demo deployments). */
export async function demoNodeCredential(server: TestServer, demo: DemoNode): Promise<TestNode> {
  const node = await server.database.db.node.findFirstOrThrow({ where: { hostname: demo.hostname } });
  return {
    nodeId: node.id,
    hostname: demo.hostname,
    gpuUuids: demo.gpuUuids,
    credential: await credentialOf(server, node.id),
  };
}

/** A new node in us-east-1 with `gpus` GPUs that no deployment owns. */
export async function newNode(server: TestServer, hostname: string, gpus = 2): Promise<TestNode> {
  const { db } = server.database;
  const cluster = await db.cluster.findUniqueOrThrow({ where: { name: 'us-east-1' } });
  const node = await db.node.create({ data: { clusterId: cluster.id, hostname } });
  const gpuUuids = Array.from({ length: gpus }, (_, i) => `GPU-${hostname}-${i}`);
  return { nodeId: node.id, hostname, gpuUuids, credential: await credentialOf(server, node.id) };
}

async function credentialOf(server: TestServer, nodeId: string): Promise<string> {
  const credential = newSecret('node');
  await server.database.db.nodeCredential.create({ data: { nodeId, tokenHash: hashSecret(credential) } });
  return credential;
}

export function openAgentSocket(server: TestServer, credential: string): Socket {
  return connect(`${server.url}/agent`, {
    auth: { token: credential },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
}

export function connected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve();
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
}

export const send = <T>(socket: Socket, event: string, payload: unknown, timeoutMs = 10_000) =>
  socket.timeout(timeoutMs).emitWithAck(event, payload) as Promise<T>;

export function inventoryOf(node: TestNode) {
  const demo = DEMO_NODES.find((d) => d.hostname === node.hostname);
  return {
    protocolVersion: 1,
    hostname: node.hostname,
    agentVersion: 'test/1',
    gpus: node.gpuUuids.map((uuid, index) => ({
      index,
      uuid,
      name: demo?.gpuModel.name ?? 'NVIDIA L40S',
      memoryTotalMiB: demo?.gpuModel.memoryTotalMiB ?? 46068,
    })),
  };
}

/** Connects and sends the inventory; resolves with the socket and the server's lastSeq. */
export async function readyAgent(
  server: TestServer,
  node: TestNode,
): Promise<{ socket: Socket; lastSeq: number }> {
  const socket = openAgentSocket(server, node.credential);
  await connected(socket);
  const ack = await send<InventoryAck>(socket, 'inventory', inventoryOf(node));
  if (!ack.ok) throw new Error(`inventory refused: ${ack.error.message}`);
  return { socket, lastSeq: ack.lastSeq };
}

export function frameOf(
  node: TestNode,
  seq: number,
  extra: { sampledAt?: number; deployments?: TelemetryFrame['deployments'] } = {},
): TelemetryFrame {
  return {
    seq,
    sampledAt: extra.sampledAt ?? Date.now(),
    intervalMs: 1000,
    gpus: node.gpuUuids.map((uuid) => ({
      uuid,
      utilizationPct: 50,
      memoryUsedMiB: 1000,
      memoryTotalMiB: 46068,
      powerW: 300,
      temperatureC: 55,
      smClockMHz: 1800,
      xidErrors: 0,
      eccErrors: 0,
      remappedRowsPending: false,
      remappedRowsFailed: false,
    })),
    deployments: extra.deployments ?? [],
  };
}

/** One interval of traffic for a deployment: `requests` requests at about 40 ms. */
export function trafficFor(deploymentId: string, requests: number): TelemetryFrame['deployments'][number] {
  const recorder = new LatencyRecorder();
  for (let i = 0; i < Math.min(requests, 1000); i++) recorder.record(40 + (i % 10));
  return { deploymentId, requests, errors: 0, queueDepth: 0, latencyMs: recorder.drain() };
}

export type { TelemetryAck };
