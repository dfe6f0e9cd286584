import type { Namespace, Server } from 'socket.io';
import {
  type BrowserToServerEvents,
  LIVE_NAMESPACE,
  type ServerToBrowserEvents,
} from '../../lib/protocol/live';
import type { Principal } from '../auth/principal';
import { logger } from '../log';
import type { Runtime } from '../runtime';
import { resolvePrincipal } from '../trpc/context';

const log = logger('live');
/** What a person can follow: the fleet views update once a second. */
export const BROADCAST_INTERVAL_MS = 1_000;

type LiveSocketData = { principal: Principal };
export type LiveNamespace = Namespace<
  BrowserToServerEvents,
  ServerToBrowserEvents,
  Record<string, never>,
  LiveSocketData
>;

/** Rooms one browser connection may watch at once (each costs the broadcast a lookup). */
export const MAX_ROOMS_PER_SOCKET = 200;
const ROOM = /^(fleet|allocations|node:[\w-]{1,64}|deployment:[\w-]{1,64}|stress:[\w-]{1,64})$/;

/**
 * Browsers (and API clients with a `read` token) subscribe to rooms and receive the
 * latest state at a fixed, human rate, however fast agents report.
 */
export function attachLiveGateway(
  io: Server,
  runtime: Runtime,
): {
  namespace: LiveNamespace;
  broadcast: () => void;
  pushNode: (nodeId: string, sampledAt: number) => void;
} {
  const live = io.of(LIVE_NAMESPACE) as unknown as LiveNamespace;

  live.use(async (socket, next) => {
    try {
      const principal = await resolvePrincipal(runtime, socket.request);
      const token = (socket.handshake.auth as { token?: unknown }).token;
      const viaToken =
        !principal && typeof token === 'string'
          ? await resolvePrincipal(runtime, { headers: { authorization: `Bearer ${token}` } } as never)
          : null;
      const who = principal ?? viaToken;
      if (!who || (who.kind === 'token' && !who.scopes.includes('read')))
        return next(new Error('UNAUTHORIZED'));
      socket.data.principal = who;
      next();
    } catch (error) {
      log.error('live authentication failed', error);
      next(new Error('INTERNAL'));
    }
  });

  live.on('connection', (socket) => {
    socket.on('subscribe', (room, ack) => {
      const reply = typeof ack === 'function' ? ack : () => {};
      if (typeof room !== 'string' || !ROOM.test(room)) {
        reply({
          ok: false,
          error: 'room: expected fleet, allocations, node:<id>, deployment:<id> or stress:<runId>',
        });
        return;
      }
      // socket.rooms includes the socket's own room.
      if (!socket.rooms.has(room) && socket.rooms.size > MAX_ROOMS_PER_SOCKET) {
        reply({
          ok: false,
          error: `room: at most ${MAX_ROOMS_PER_SOCKET} rooms per connection; unsubscribe first`,
        });
        return;
      }
      socket.join(room);
      reply({ ok: true });
    });
    socket.on('unsubscribe', (room) => {
      if (typeof room === 'string') socket.leave(room);
    });
  });

  const broadcast = () => {
    const rooms = live.adapter.rooms;
    if (rooms.size === 0) return;
    const now = Date.now();
    const latency = runtime.telemetry.latencyPoints(now);
    if (rooms.has('fleet')) {
      live.to('fleet').emit('fleet:summary', runtime.telemetry.summary(latency, now));
      live.to('fleet').emit('fleet:gpus', { at: now, gpus: runtime.telemetry.gpuLivePoints(now) });
      live.to('fleet').emit('deployment:latency', latency);
    }
    for (const room of rooms.keys()) {
      if (room.startsWith('deployment:')) {
        const point = latency.find((p) => p.deploymentId === room.slice('deployment:'.length));
        if (point) live.to(room).emit('deployment:latency', [point]);
      }
    }
  };

  /** A node's room hears each of its frames at once: one update a second per node. */
  const pushNode = (nodeId: string, sampledAt: number) => {
    const room = `node:${nodeId}` as const;
    if (!live.adapter.rooms.get(room)?.size) return;
    const now = Date.now();
    live
      .to(room)
      .emit('fleet:gpus', { at: now, sampledAt, gpus: runtime.telemetry.gpuLivePoints(now, nodeId) });
  };

  return { namespace: live, broadcast, pushNode };
}
