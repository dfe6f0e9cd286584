import type { Namespace, Server, Socket } from 'socket.io';
import {
  AGENT_NAMESPACE,
  type AgentToServerEvents,
  type InventoryAck,
  type ProtocolError,
  protocolErrorFromZod,
  type ServerToAgentEvents,
  type TelemetryAck,
  ZInventory,
  ZTelemetryFrame,
} from '../../lib/protocol/agent';
import { AppError } from '../errors';
import { logger } from '../log';
import type { Runtime } from '../runtime';
import { nodeForCredential } from '../services/agents/enrollment';
import { applyInventory, assignmentsFor, inventoryUnchanged } from '../services/agents/inventory';
import type { StressAgentSocket } from '../services/stress/agent-events';

const log = logger('agents');

type AgentSocketData = {
  node: { id: string; hostname: string; clusterId: string };
  /** Set once the inventory is accepted; telemetry before it is refused. */
  ready: boolean;
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

  agents.use(async (socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown }).token;
    if (typeof token !== 'string' || token.length === 0) return next(new Error('UNAUTHORIZED'));
    try {
      const node = await nodeForCredential(runtime.db, token);
      if (!node) return next(new Error('UNAUTHORIZED'));
      socket.data.node = node;
      socket.data.ready = false;
      next();
    } catch (error) {
      log.error('agent authentication failed', error);
      next(new Error('INTERNAL'));
    }
  });

  agents.on('connection', (socket: AgentSocket) => {
    const { node } = socket.data;
    socket.join(`node:${node.id}`);
    log.debug(`agent connected for ${node.hostname}`);

    socket.on('inventory', async (payload, ack) => {
      const reply = typeof ack === 'function' ? ack : () => {};
      reply(await handleInventory(runtime, socket, payload));
    });

    socket.on('telemetry', (payload, ack) => {
      const reply = typeof ack === 'function' ? ack : () => {};
      handleTelemetry(runtime, socket, payload, onFrame).then(reply, (error) => {
        log.error(`telemetry from ${node.hostname} failed`, error);
        reply({ ok: false, error: { code: 'INTERNAL', message: 'internal error; retry later' } });
      });
    });

    socket.on('disconnect', (reason) => log.debug(`agent for ${node.hostname} disconnected: ${reason}`));

    // Stress tests: the agent's endpoints, its reports, and losing it mid-run.
    runtime.stress.attachAgent(
      socket as unknown as StressAgentSocket,
      node,
      () => socket.data.ready,
      // An agent may offer load only against deployments its own GPUs serve.
      (deploymentId) =>
        (runtime.catalog.gpuIdsByNode.get(node.id) ?? []).some(
          (gpuId) => runtime.catalog.owners.get(gpuId)?.deploymentId === deploymentId,
        ),
    );
  });

  return agents;
}

async function handleInventory(
  runtime: Runtime,
  socket: AgentSocket,
  payload: unknown,
): Promise<InventoryAck> {
  const { node } = socket.data;
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
  await runtime.ingest.settled();
  socket.data.ready = true;
  return {
    ok: true,
    nodeId: node.id,
    lastSeq: runtime.sequences.lastCommitted(node.id),
    assignments: assignmentsFor(runtime.catalog, node.id),
  };
}

async function handleTelemetry(
  runtime: Runtime,
  socket: AgentSocket,
  payload: unknown,
  onFrame: (nodeId: string, sampledAt: number) => void,
): Promise<TelemetryAck> {
  const { node, ready } = socket.data;
  if (!ready) return refuse({ code: 'NOT_READY', message: 'send inventory before telemetry' });
  const parsed = ZTelemetryFrame.safeParse(payload);
  if (!parsed.success) return refuse(protocolErrorFromZod(parsed.error));
  const frame = parsed.data;

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
    if (!catalog.deployments.has(sample.deploymentId)) {
      return refuse({
        code: 'FORBIDDEN',
        field: `deployments.${i}.deploymentId`,
        message: `deployments.${i}.deploymentId: unknown deployment`,
      });
    }
  }

  runtime.health.markSeen(node.id);
  runtime.gpuHealth.observe(gpuIds, frame.gpus);
  const acknowledged = runtime.ingest.submit(node.id, frame, gpuIds);
  onFrame(node.id, frame.sampledAt);
  return acknowledged;
}

function refuse(error: ProtocolError): TelemetryAck {
  return { ok: false, error };
}
