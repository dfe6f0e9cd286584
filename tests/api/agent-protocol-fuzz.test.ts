import fc from 'fast-check';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProtocolError } from '../../lib/protocol/agent';
import {
  connected,
  frameOf,
  inventoryOf,
  newNode,
  openAgentSocket,
  readyAgent,
  send,
  type TestNode,
} from '../support/agent-client';
import { startTestServer, type TestServer } from '../support/server';

/**
 * Property-based fuzzing of the agent protocol against the real server: whatever an agent
 * sends, the answer is an acknowledgement or a named refusal (never INTERNAL, never a
 * dropped connection), and nothing refused reaches the journal.
 */
let server: TestServer;
let node: TestNode;

beforeAll(async () => {
  server = await startTestServer();
  node = await newNode(server, 'fuzz-node-01', 4);
});
afterAll(async () => {
  await server?.close();
});

type Reply = { ok: boolean; error?: ProtocolError; duplicate?: boolean };
const NAMED = ['BAD_FRAME', 'FORBIDDEN', 'NOT_READY'];

/** Values an agent might get wrong: wrong types, extremes, control characters, nesting. */
const hostile = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.constantFrom(-1, 0, 2 ** 53, -(2 ** 53), 1e308, 1.5, Number.MAX_SAFE_INTEGER, null, '', [], {}),
  fc.string({ maxLength: 20 }).map((s) => `${s}\u0000`),
  fc.integer({ min: 1, max: 2_000 }).map((depth) => JSON.parse('['.repeat(depth) + ']'.repeat(depth))),
);

/** Every field of a frame that an agent writes, as a path into it. */
const FRAME_PATHS = [
  ['seq'],
  ['sampledAt'],
  ['intervalMs'],
  ['gpus'],
  ['gpus', 0],
  ['gpus', 0, 'uuid'],
  ['gpus', 0, 'utilizationPct'],
  ['gpus', 0, 'memoryUsedMiB'],
  ['gpus', 0, 'powerW'],
  ['gpus', 0, 'temperatureC'],
  ['gpus', 0, 'xidErrors'],
  ['gpus', 0, 'remappedRowsFailed'],
  ['deployments'],
  ['deployments', 0],
  ['deployments', 0, 'deploymentId'],
  ['deployments', 0, 'requests'],
  ['deployments', 0, 'latencyMs'],
  ['deployments', 0, 'latencyMs', 'bins'],
  ['deployments', 0, 'latencyMs', 'count'],
  ['extra'],
] as const;

function setPath(target: Record<string, unknown>, path: readonly (string | number)[], value: unknown): void {
  let at = target as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) {
    if (at[key] === null || typeof at[key] !== 'object') at[key] = typeof key === 'number' ? [] : {};
    at = at[key] as Record<string | number, unknown>;
  }
  at[path.at(-1)!] = value;
}

describe('agent protocol fuzzing', () => {
  it('answers any bent telemetry frame with an ack or a named refusal, storing only what it acked', async () => {
    const { socket, lastSeq } = await readyAgent(server, node);
    const deploymentId = [...server.runtime.catalog.deployments.keys()][0]!;
    let seq = lastSeq;
    let accepted = 0;
    const before = await server.database.db.telemetryJournal.count({ where: { nodeId: node.nodeId } });

    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...FRAME_PATHS), hostile, async (path, value) => {
        seq += 1;
        // Dated a minute back, so the fuzz runs on the replay budget, not the live one.
        const frame = frameOf(node, seq, { sampledAt: Date.now() - 60_000 }) as unknown as Record<
          string,
          unknown
        >;
        frame.deployments = [
          {
            deploymentId,
            requests: 1,
            errors: 0,
            queueDepth: 0,
            latencyMs: { bins: [[400, 1]], count: 1, sum: 50, min: 50, max: 50, zeroCount: 0 },
          },
        ];
        setPath(frame, path, value);
        const reply = await send<Reply>(socket, 'telemetry', frame);
        if (reply.ok) {
          if (!reply.duplicate) accepted += 1;
          return;
        }
        expect(NAMED).toContain(reply.error!.code);
        expect(reply.error!.message.length).toBeGreaterThan(0);
        if (reply.error!.code === 'BAD_FRAME') expect(reply.error!.field).toBeTruthy();
      }),
      { numRuns: 300 },
    );
    expect(socket.connected).toBe(true);
    await server.runtime.ingest.settled(node.nodeId);
    const after = await server.database.db.telemetryJournal.count({ where: { nodeId: node.nodeId } });
    // Rollups may already have folded some journal rows away, never added any.
    expect(after - before).toBeLessThanOrEqual(accepted);
    expect(server.runtime.telemetry.framesIngested).toBeGreaterThanOrEqual(accepted);
    socket.disconnect();
  });

  it('answers any payload of any agent event with a named refusal and keeps the connection', async () => {
    // Non-telemetry messages have a small budget (2/s), so every few runs use a fresh
    // connection (which replaces the previous one, as a reconnecting agent would).
    let socket: Socket | null = null;
    let used = 0;
    const fresh = async () => {
      socket?.disconnect();
      socket = openAgentSocket(server, node.credential);
      await connected(socket);
      used = 0;
      return socket;
    };
    const events = ['inventory', 'telemetry', 'endpoints', 'stress:report'] as const;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...events), hostile, async (event, payload) => {
        const current = used >= 8 || !socket?.connected ? await fresh() : socket;
        used += 1;
        const reply = await send<Reply>(current, event, payload);
        expect(reply.ok).toBe(false);
        expect(NAMED).toContain(reply.error!.code);
        expect(current.connected).toBe(true);
      }),
      { numRuns: 120 },
    );
    // The node still takes a good inventory afterwards.
    const last = await fresh();
    expect(await send<Reply>(last, 'inventory', inventoryOf(node))).toMatchObject({ ok: true });
    last.disconnect();
  });
});
