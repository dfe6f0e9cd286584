import type { Namespace, Server, Socket } from 'socket.io';
import {
  AGENT_NAMESPACE,
  type AgentToServerEvents,
  type InventoryAck,
  MAX_FRAME_AGE_MS,
  MAX_FUTURE_SKEW_MS,
  type ProtocolError,
  protocolErrorFromZod,
  type ServerToAgentEvents,
  type TelemetryAck,
  ZInventory,
  ZTelemetryFrame,
} from '../../lib/protocol/agent';
import { hashSecret } from '../auth/secrets';
import { AppError } from '../errors';
import { logger } from '../log';
import type { Runtime } from '../runtime';
import { nodeForCredential } from '../services/agents/enrollment';
import { applyInventory, assignmentsFor, inventoryUnchanged } from '../services/agents/inventory';
import type { StressAgentSocket } from '../services/stress/agent-events';
import { AgentBudget, type BudgetClass } from './agent-budget';

const log = logger('agents');

type AgentSocketData = {
  node: { id: string; hostname: string; clusterId: string };
  /** Set once the inventory is accepted; telemetry before it is refused. */
  ready: boolean;
  /** What this connection may still send (agent-budget.ts). */
  budget: AgentBudget;
  /** An inventory is being applied: a second one waits for its answer. */
  inventoryInFlight: boolean;
  /** SHA-256 of the credential the connection presented. */
  credentialKey: string;
};
type AgentSocket = Socket<AgentToServerEvents, ServerToAgentEvents, Record<string, never>, AgentSocketData>;
export type AgentNamespace = Namespace<
  AgentToServerEvents,
  ServerToAgentEvents,
  Record<string, never>,
  AgentSocketData
>;

/**
 * The agent side of the protocol (docs/agent-protocol.md): authenticate the node
 * credential, accept the inventory, then validate, de-duplicate and ingest telemetry.
 * A bad message is answered with an error naming the field; the connection stays up.
 */
export function attachAgentGateway(
  io: Server,
  runtime: Runtime,
  /** Called once a new frame is in the live state (for the node's live room). */
  onFrame: (nodeId: string, sampledAt: number) => void,
): AgentNamespace {
  // One Server hosts two differently typed namespaces; each is typed where it is made.
  const agents = io.of(AGENT_NAMESPACE) as unknown as AgentNamespace;
  /** The one live connection of each node: a newer one replaces it. */
  const connections = new Map<string, AgentSocket>();
  /** Credentials (by hash) being looked up: concurrent connections share one query. */
  const lookups = new Map<string, ReturnType<typeof nodeForCredential>>();
  /** Credentials (by hash) closed for ignoring their budget: until when they are refused, and how often. */
  const cooldowns = new Map<string, { until: number; strikes: number }>();
  /** Failed credential checks per client address in the current window. */
  const failedAuths = new Map<string, { count: number; since: number }>();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [address, seen] of failedAuths)
      if (now - seen.since >= FAILED_AUTH_WINDOW_MS) failedAuths.delete(address);
  }, FAILED_AUTH_WINDOW_MS);
  sweep.unref();

  agents.use(async (socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown }).token;
    if (typeof token !== 'string' || token.length === 0 || token.length > 256) {
      return next(new Error('UNAUTHORIZED'));
    }
    const address = socket.handshake.address;
    const failures = failedAuths.get(address);
    if (
      failures &&
      failures.count >= MAX_FAILED_AUTHS &&
      Date.now() - failures.since < FAILED_AUTH_WINDOW_MS
    ) {
      return next(new Error('RATE_LIMITED'));
    }
    const key = hashSecret(token);
    const cooldown = cooldowns.get(key);
    if (cooldown) {
      if (Date.now() < cooldown.until) return next(new Error('RATE_LIMITED'));
      // Strikes are forgotten after a quiet hour.
      if (Date.now() - cooldown.until > 3_600_000) cooldowns.delete(key);
    }
    try {
      let lookup = lookups.get(key);
      if (!lookup) {
        lookup = nodeForCredential(runtime.db, token).finally(() => lookups.delete(key));
        lookups.set(key, lookup);
      }
      const node = await lookup;
      if (!node) {
        // Guessing credentials costs a database lookup each: an address that keeps failing waits.
        const now = Date.now();
        const seen = failedAuths.get(address);
        if (!seen || now - seen.since >= FAILED_AUTH_WINDOW_MS)
          failedAuths.set(address, { count: 1, since: now });
        else seen.count += 1;
        return next(new Error('UNAUTHORIZED'));
      }
      socket.data.node = node;
      socket.data.ready = false;
      socket.data.budget = new AgentBudget();
      socket.data.inventoryInFlight = false;
      socket.data.credentialKey = key;
      next();
    } catch (error) {
      log.error('agent authentication failed', error);
      next(new Error('INTERNAL'));
    }
  });

  agents.on('connection', (socket: AgentSocket) => {
    const { node } = socket.data;
    // One live connection per node: the newer one wins (an agent that lost its network
    // reconnects before the server notices the old socket is gone).
    const previous = connections.get(node.id);
    if (previous) {
      previous.emit('replaced', {
        reason: `another connection for ${node.hostname} replaced this one; only one agent may speak for a node`,
      });
      previous.disconnect(true);
    }
    connections.set(node.id, socket);
    socket.join(`node:${node.id}`);
    log.debug(`agent connected for ${node.hostname}`);

    // Every message is counted against the connection's budget before it is handled.
    socket.use(([event, payload, ...rest], next) => {
      const budget = socket.data.budget;
      const refused =
        event === 'telemetry'
          ? budget.admitFrame(
              (payload as { seq?: unknown } | null)?.seq,
              (payload as { sampledAt?: unknown } | null)?.sampledAt,
            )
          : budget.admit(budgetClassOf(event));
      if (!refused) return next();
      const ack = rest.at(-1);
      if (typeof ack === 'function') ack({ ok: false, error: refused });
      if (budget.abusive && socket.connected) {
        log.warn(`closing the connection of ${node.hostname}: it keeps sending over its budget`);
        const strikes = (cooldowns.get(socket.data.credentialKey)?.strikes ?? 0) + 1;
        const coolMs = Math.min(ABUSE_COOLDOWN_MS * 2 ** (strikes - 1), MAX_ABUSE_COOLDOWN_MS);
        cooldowns.set(socket.data.credentialKey, { until: Date.now() + coolMs, strikes });
        socket.emit('shutdown', {
          reason: `over its message budget; reconnect after ${coolMs / 1000} s and send at most what RATE_LIMITED allows`,
        });
        socket.disconnect(true);
      }
    });

    socket.on('inventory', async (payload, ack) => {
      const reply = typeof ack === 'function' ? ack : () => {};
      if (socket.data.inventoryInFlight) {
        reply({
          ok: false,
          error: {
            code: 'RATE_LIMITED',
            message: 'an inventory is already being handled',
            retryAfterMs: 1000,
          },
        });
        return;
      }
      socket.data.inventoryInFlight = true;
      try {
        reply(await handleInventory(runtime, socket, payload));
      } finally {
        socket.data.inventoryInFlight = false;
      }
    });

    socket.on('telemetry', (payload, ack) => {
      const reply = typeof ack === 'function' ? ack : () => {};
      let acknowledged: ReturnType<typeof handleTelemetry>;
      try {
        acknowledged = handleTelemetry(runtime, socket, payload, onFrame);
      } catch (error) {
        // A fault in handling one frame is answered, never thrown out of the socket's handler.
        log.error(`telemetry from ${node.hostname} failed`, error);
        reply({ ok: false, error: { code: 'INTERNAL', message: 'internal error; retry later' } });
        return;
      }
      if (!(acknowledged instanceof Promise)) {
        reply(acknowledged);
        return;
      }
      acknowledged.then(reply, (error) => {
        log.error(`telemetry from ${node.hostname} failed`, error);
        reply({ ok: false, error: { code: 'INTERNAL', message: 'internal error; retry later' } });
      });
    });

    socket.on('disconnect', (reason) => {
      if (connections.get(node.id) === socket) connections.delete(node.id);
      log.debug(`agent for ${node.hostname} disconnected: ${reason}`);
    });

    // Stress tests: the agent's endpoints, its reports, and losing it mid-run.
    runtime.stress.attachAgent(
      socket as unknown as StressAgentSocket,
      node,
      () => socket.data.ready,
      // An agent may offer load only against deployments its own GPUs serve.
      (deploymentId) => runtime.catalog.nodeServes(node.id, deploymentId),
    );
  });

  return agents;
}

/** How long a credential whose connection was closed for ignoring its budget is refused (connect_error RATE_LIMITED). */
const ABUSE_COOLDOWN_MS = 10_000;
/** An address whose connections failed authentication this often within the window is refused until it ends. */
const MAX_FAILED_AUTHS = 30;
const FAILED_AUTH_WINDOW_MS = 60_000;
/** Each repeat doubles the wait, up to this. */
const MAX_ABUSE_COOLDOWN_MS = 5 * 60_000;

function budgetClassOf(event: string): BudgetClass {
  if (event === 'stress:report') return 'reports';
  return 'control';
}

async function handleInventory(
  runtime: Runtime,
  socket: AgentSocket,
  payload: unknown,
): Promise<InventoryAck> {
  const { node } = socket.data;
  // A connection replaced while its inventory waited has nothing more to say.
  if (!socket.connected) return { ok: false, error: { code: 'NOT_READY', message: 'connection closed' } };
  const parsed = ZInventory.safeParse(payload);
  if (!parsed.success) return { ok: false, error: protocolErrorFromZod(parsed.error) };
  const inventory = parsed.data;
  if (inventory.hostname !== node.hostname) {
    return {
      ok: false,
      error: {
        code: 'FORBIDDEN',
        field: 'hostname',
        message: `hostname: this credential speaks for ${node.hostname}`,
      },
    };
  }
  try {
    // Reconnects (thousands at once after a server restart) usually report nothing new:
    // then there is nothing to write and no catalog to reload.
    if (!inventoryUnchanged(runtime.catalog, node.id, inventory)) {
      await applyInventory(runtime.db, node.id, inventory);
      await runtime.catalog.refresh();
    } else if (runtime.catalog.nodes.get(node.id)?.agentVersion !== inventory.agentVersion) {
      await runtime.db.node.update({
        where: { id: node.id },
        data: { agentVersion: inventory.agentVersion },
      });
      runtime.catalog.nodes.get(node.id)!.agentVersion = inventory.agentVersion;
    }
  } catch (error) {
    if (error instanceof AppError) {
      const field = typeof error.details?.field === 'string' ? error.details.field : undefined;
      return {
        ok: false,
        error: {
          code: error.code === 'FORBIDDEN' ? 'FORBIDDEN' : 'BAD_FRAME',
          field,
          message: error.message,
        },
      };
    }
    log.error(`inventory from ${node.hostname} failed`, error);
    return { ok: false, error: { code: 'INTERNAL', message: 'internal error; retry later' } };
  }
  runtime.health.markSeen(node.id);
  // Frames of an earlier connection may still be on their way to the journal: the agent
  // must learn what is durable, so it keeps (and resends) everything else.
  await runtime.ingest.settled(node.id);
  socket.data.ready = true;
  return {
    ok: true,
    nodeId: node.id,
    lastSeq: runtime.sequences.lastCommitted(node.id),
    assignments: assignmentsFor(runtime.catalog, node.id),
  };
}

/**
 * Validates a frame and hands it to ingest. Synchronous up to the hand-over, so frames of
 * one connection reach ingest in the order they arrived, and a refusal is known before
 * the next frame is looked at.
 */
function handleTelemetry(
  runtime: Runtime,
  socket: AgentSocket,
  payload: unknown,
  onFrame: (nodeId: string, sampledAt: number) => void,
): TelemetryAck | Promise<TelemetryAck> {
  const { node, ready } = socket.data;
  if (!ready) return refuse({ code: 'NOT_READY', message: 'send inventory before telemetry' });
  const parsed = ZTelemetryFrame.safeParse(payload);
  if (!parsed.success) return refuse(protocolErrorFromZod(parsed.error));
  const frame = parsed.data;

  const now = Date.now();
  if (frame.sampledAt > now + MAX_FUTURE_SKEW_MS) {
    return refuse({
      code: 'BAD_FRAME',
      field: 'sampledAt',
      message: `sampledAt: ${new Date(frame.sampledAt).toISOString()} is more than ${MAX_FUTURE_SKEW_MS / 1000} s ahead of the server's clock (${new Date(now).toISOString()})`,
    });
  }
  if (frame.sampledAt < now - MAX_FRAME_AGE_MS) {
    return refuse({
      code: 'BAD_FRAME',
      field: 'sampledAt',
      message: `sampledAt: ${new Date(frame.sampledAt).toISOString()} is older than ${MAX_FRAME_AGE_MS / 86_400_000} days`,
    });
  }

  // An agent speaks only for its own node: every GPU and deployment must be its own.
  const { catalog } = runtime;
  const gpuIds: string[] = [];
  for (const [i, gpu] of frame.gpus.entries()) {
    const gpuId = catalog.gpuIdByUuid.get(gpu.uuid);
    if (!gpuId || catalog.gpus.get(gpuId)?.nodeId !== node.id) {
      return refuse({
        code: 'FORBIDDEN',
        field: `gpus.${i}.uuid`,
        message: `gpus.${i}.uuid: not a GPU of ${node.hostname}`,
      });
    }
    gpuIds.push(gpuId);
  }
  for (const [i, sample] of frame.deployments.entries()) {
    if (!catalog.nodeServes(node.id, sample.deploymentId, frame.sampledAt)) {
      const field = `deployments.${i}.deploymentId`;
      return refuse({
        code: 'FORBIDDEN',
        field,
        message: catalog.deployments.has(sample.deploymentId)
          ? `${field}: no GPU of ${node.hostname} serves this deployment`
          : `${field}: unknown deployment`,
      });
    }
  }

  const acknowledged = runtime.ingest.submit(node.id, frame, gpuIds);
  if (!(acknowledged instanceof Promise)) {
    if (!acknowledged.ok && acknowledged.error.code === 'RATE_LIMITED')
      socket.data.budget.throttle(frame.seq);
    return acknowledged;
  }
  runtime.health.markSeen(node.id);
  runtime.gpuHealth.observe(gpuIds, frame.gpus);
  onFrame(node.id, frame.sampledAt);
  return acknowledged;
}

function refuse(error: ProtocolError): TelemetryAck {
  return { ok: false, error };
}
