// The HTTP target of the stress-runner benchmark (bench/stress.ts), in its own process so
// the load generators never share its event loop. Told over IPC what to be:
//   { kind: 'plain', delayMs }         answers every request after a fixed delay
//   { kind: 'slots', slots, delayMs }  a slot-limited FIFO queue (the simulator's model server)
// then { stallAt, stallMs } freezes it once: nothing is answered during the stall.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SimulatedModelServer } from '../workers/agent/sources/simulator/model-server-http';

export type TargetCommand =
  | { kind: 'plain'; delayMs: number }
  | { kind: 'slots'; slots: number; delayMs: number }
  | { stallAt: number; stallMs: number };

const BODY = Buffer.from('{"object":"text_completion","choices":[{"index":0,"text":"ok"}]}');
let stalledUntil = 0;

function plainServer(delayMs: number): Promise<number> {
  const answer = (res: ServerResponse) => {
    const wait = stalledUntil - Date.now();
    if (wait > 0) {
      setTimeout(answer, wait, res);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
    res.end(BODY);
  };
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    setTimeout(answer, delayMs, res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

let slotServer: SimulatedModelServer | null = null;

process.on('message', async (command: TargetCommand) => {
  if ('stallAt' in command) {
    setTimeout(
      () => {
        stalledUntil = Date.now() + command.stallMs;
        slotServer?.stallFor(command.stallMs);
      },
      Math.max(0, command.stallAt - Date.now()),
    );
    return;
  }
  let port: number;
  if (command.kind === 'plain') port = await plainServer(command.delayMs);
  else {
    slotServer = new SimulatedModelServer({
      deploymentName: 'bench',
      replicas: 1,
      slotsPerReplica: command.slots,
      serviceTimeMs: () => command.delayMs,
      maxQueue: 1_000_000,
    });
    await slotServer.start();
    port = Number(new URL(slotServer.url as string).port);
  }
  process.send?.({ port });
});
process.on('disconnect', () => process.exit(0));
