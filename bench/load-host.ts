// A load process: hosts many simulated agents, each with its own connection and
// credential. Told what to do over IPC by bench/run.ts; reports counts back.
//   mode "paced":  every agent sends one frame a second (the fleet's real rate)
//   mode "max":    every agent keeps `window` frames in flight, as fast as acks return
//   target "switchyard" speaks the agent protocol over socket.io; "bare" sends the same
//   JSON frames over a plain WebSocket to a server that only parses them.
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { type BenchNode, benchFrame } from './fleet';

type Command = {
  /** Replaced by the agents that connected. */ url: string;
  nodes: BenchNode[];
  mode: 'paced' | 'max';
  target: 'switchyard' | 'bare';
  window: number;
  durationMs: number;
};

type Link = {
  send: (frame: ReturnType<typeof benchFrame>) => Promise<boolean>;
  close: () => void;
  /** The highest seq the server holds for the node: the agent numbers above it. */
  lastSeq: number;
};

/** Connections the server closed while the run was on (none is expected). */
let disconnects = 0;
let closing = false;

async function connectSwitchyard(url: string, node: BenchNode): Promise<Link> {
  const socket: Socket = io(`${url}/agent`, {
    auth: { token: node.credential },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const ack = await socket.timeout(60_000).emitWithAck('inventory', {
    protocolVersion: 1,
    hostname: node.hostname,
    agentVersion: 'bench/1',
    gpus: node.gpuUuids.map((uuid, index) => ({
      index,
      uuid,
      name: 'NVIDIA H100 80GB HBM3',
      memoryTotalMiB: 81559,
    })),
  });
  if (!ack.ok) throw new Error(`inventory refused: ${JSON.stringify(ack.error)}`);
  socket.on('disconnect', () => {
    if (!closing) disconnects += 1;
  });
  return {
    lastSeq: ack.lastSeq,
    send: async (frame) => {
      // Over budget, the server asks for the same frame again later (as the agent does).
      for (;;) {
        const reply = await socket
          .timeout(30_000)
          .emitWithAck('telemetry', frame)
          .catch(() => null);
        if (reply?.ok === false && reply.error.code === 'RATE_LIMITED' && socket.connected) {
          await new Promise((r) => setTimeout(r, reply.error.retryAfterMs ?? 100));
          continue;
        }
        return reply?.ok === true;
      }
    },
    close: () => socket.disconnect(),
  };
}

async function connectBare(url: string): Promise<Link> {
  const ws = new WebSocket(url.replace('http', 'ws'));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const waiting = new Map<number, (ok: boolean) => void>();
  ws.on('message', (data) => {
    const seq = Number(data.toString());
    waiting.get(seq)?.(true);
    waiting.delete(seq);
  });
  return {
    lastSeq: 0,
    send: (frame) =>
      new Promise((resolve) => {
        waiting.set(frame.seq, resolve);
        ws.send(JSON.stringify(frame));
      }),
    close: () => ws.close(),
  };
}

process.on('message', async (command: Command) => {
  const links: Link[] = [];
  const nodes: BenchNode[] = [];
  let connectFailures = 0;
  for (let i = 0; i < command.nodes.length; i += 50) {
    const batch = command.nodes.slice(i, i + 50);
    const results = await Promise.allSettled(
      batch.map((n) =>
        command.target === 'switchyard' ? connectSwitchyard(command.url, n) : connectBare(command.url),
      ),
    );
    results.forEach((result, j) => {
      if (result.status === 'fulfilled') {
        links.push(result.value);
        nodes.push(batch[j]!);
      } else connectFailures += 1;
    });
  }
  command.nodes = nodes;
  process.send!({ type: 'connected', count: links.length, failures: connectFailures });

  let acked = 0;
  let failed = 0;
  const ackLatencies: number[] = [];
  const deadline = Date.now() + command.durationMs;
  const seqs = links.map((link) => link.lastSeq);
  const report = setInterval(() => {
    process.send!({ type: 'progress', acked, failed });
  }, 1000);

  const sendOne = async (i: number) => {
    seqs[i] = seqs[i]! + 1;
    const sentAt = Date.now();
    const ok = await links[i]!.send(benchFrame(command.nodes[i]!, seqs[i]!, sentAt));
    if (ok) {
      acked += 1;
      if (ackLatencies.length < 200_000) ackLatencies.push(Date.now() - sentAt);
    } else failed += 1;
  };

  if (command.mode === 'paced') {
    // Each agent ticks once a second at its own offset, like a fleet of independent clocks.
    await Promise.all(
      links.map(async (_, i) => {
        await new Promise((r) => setTimeout(r, (i / links.length) * 1000));
        while (Date.now() < deadline) {
          const tickStart = Date.now();
          void sendOne(i);
          await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - tickStart))));
        }
      }),
    );
  } else {
    // Sequence order per agent matters to the server, so each agent's window is a chain of
    // in-order sends that each wait for their own ack before the next in that lane.
    await Promise.all(
      links.map(async (_, i) => {
        const lanes = Array.from({ length: command.window }, async () => {
          while (Date.now() < deadline) await sendOne(i);
        });
        await Promise.all(lanes);
      }),
    );
  }
  await new Promise((r) => setTimeout(r, 1500));
  clearInterval(report);
  ackLatencies.sort((a, b) => a - b);
  const q = (p: number) =>
    ackLatencies[Math.min(ackLatencies.length - 1, Math.floor(p * ackLatencies.length))] ?? null;
  closing = true;
  process.send!({ type: 'done', acked, failed, disconnects, ackP50: q(0.5), ackP99: q(0.99) });
  for (const link of links) link.close();
  setTimeout(() => process.exit(0), 200);
});
