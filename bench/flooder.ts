// The flooding agent of the flood suite, told what to do over IPC by bench/flood.ts; it
// reports its counts back. Two kinds:
//   "hostile": one node credential, several connections on it at once, 100 inventories in
//     parallel, and frames sent as fast as the sockets take them without waiting for
//     acknowledgements; after any disconnect it reconnects at once.
//   "backlog": an agent draining a long backlog as fast as the server lets it: frames
//     dated a minute back (replay), 64 in flight, each RATE_LIMITED one resent after the
//     wait the server names. It uses its whole budget and never ignores a refusal.
import { io, type Socket } from 'socket.io-client';
import { type BenchNode, benchFrame } from './fleet';

type Command = {
  kind: 'hostile' | 'backlog';
  url: string;
  node: BenchNode;
  durationMs: number;
  framesPerSecond: number;
  connections: number;
};

const counts = {
  sent: 0,
  stored: 0,
  rateLimited: 0,
  otherRefusals: 0,
  unanswered: 0,
  disconnects: 0,
  refusedConnects: 0,
};

function inventoryOf(node: BenchNode) {
  return {
    protocolVersion: 1,
    hostname: node.hostname,
    agentVersion: 'flooder/1',
    gpus: node.gpuUuids.map((uuid, index) => ({
      index,
      uuid,
      name: 'NVIDIA H100 80GB HBM3',
      memoryTotalMiB: 81559,
    })),
  };
}

process.on('message', async (command: Command) => {
  if (command.kind === 'backlog') return drainBacklog(command);
  const deadline = Date.now() + command.durationMs;
  let seq = 0;
  const sockets: Socket[] = [];

  const open = () => {
    const socket = io(`${command.url}/agent`, {
      auth: { token: command.node.credential },
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
    });
    socket.on('connect', () => {
      // A hundred inventories at once, as the probe did.
      for (let i = 0; i < 100; i++) {
        socket
          .timeout(10_000)
          .emitWithAck('inventory', inventoryOf(command.node))
          .then((ack: { ok: boolean; lastSeq?: number }) => {
            if (ack.ok && ack.lastSeq !== undefined) seq = Math.max(seq, ack.lastSeq);
          })
          .catch(() => {});
      }
    });
    socket.on('connect_error', () => {
      counts.refusedConnects += 1;
      if (Date.now() < deadline) setTimeout(() => socket.connect(), 50);
    });
    socket.on('disconnect', () => {
      counts.disconnects += 1;
      if (Date.now() < deadline) setTimeout(() => socket.connect(), 50);
    });
    sockets.push(socket);
  };
  for (let i = 0; i < command.connections; i++) open();

  // Every 10 ms, a slice of the frames for that second, on whichever sockets are up.
  const perTick = Math.ceil(command.framesPerSecond / 100);
  const timer = setInterval(() => {
    const up = sockets.filter((s) => s.connected);
    if (up.length === 0) return;
    for (let i = 0; i < perTick; i++) {
      seq += 1;
      counts.sent += 1;
      const socket = up[i % up.length]!;
      socket
        .timeout(20_000)
        .emitWithAck('telemetry', benchFrame(command.node, seq, Date.now()))
        .then((ack: { ok: boolean; error?: { code: string } }) => {
          if (ack.ok) counts.stored += 1;
          else if (ack.error?.code === 'RATE_LIMITED') counts.rateLimited += 1;
          else counts.otherRefusals += 1;
        })
        .catch(() => {
          counts.unanswered += 1;
        });
    }
  }, 10);

  await new Promise((r) => setTimeout(r, command.durationMs));
  clearInterval(timer);
  await new Promise((r) => setTimeout(r, 1000));
  process.send!({ type: 'done', ...counts });
  for (const socket of sockets) socket.disconnect();
  setTimeout(() => process.exit(0), 200);
});

async function drainBacklog(command: Command): Promise<void> {
  const deadline = Date.now() + command.durationMs;
  const socket = io(`${command.url}/agent`, {
    auth: { token: command.node.credential },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  socket.on('disconnect', () => {
    counts.disconnects += 1;
  });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const ack = await socket.timeout(10_000).emitWithAck('inventory', inventoryOf(command.node));
  // As the protocol asks: on RATE_LIMITED, wait, then resend from the refused frame on, in
  // order (every frame after it was refused too). `cursor` is the next seq to send.
  let cursor = (ack as { lastSeq: number }).lastSeq + 1;
  let pausedUntil = 0;
  const lane = async () => {
    while (Date.now() < deadline && socket.connected) {
      const wait = pausedUntil - Date.now();
      if (wait > 0) {
        await new Promise((r) => setTimeout(r, wait));
        continue;
      }
      const seq = cursor++;
      counts.sent += 1;
      const reply = await socket
        .timeout(20_000)
        .emitWithAck('telemetry', benchFrame(command.node, seq, Date.now() - 60_000))
        .catch(() => null);
      if (!reply) counts.unanswered += 1;
      else if (reply.ok) counts.stored += 1;
      else if (reply.error.code === 'RATE_LIMITED') {
        counts.rateLimited += 1;
        cursor = Math.min(cursor, seq);
        pausedUntil = Math.max(pausedUntil, Date.now() + (reply.error.retryAfterMs ?? 100));
      } else counts.otherRefusals += 1;
    }
  };
  await Promise.all(Array.from({ length: 64 }, lane));
  process.send!({ type: 'done', ...counts });
  socket.disconnect();
  setTimeout(() => process.exit(0), 200);
}
