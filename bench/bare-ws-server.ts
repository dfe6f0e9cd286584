// The ceiling for telemetry ingest: a bare WebSocket server that only parses each frame
// and answers with its sequence number. No validation, no state, no storage.
import { WebSocketServer } from 'ws';

const server = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: 512 * 1024 });
let frames = 0;
let samples = 0;
server.on('connection', (socket) => {
  socket.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { seq: number; gpus: unknown[] };
    frames += 1;
    samples += frame.gpus.length;
    socket.send(String(frame.seq));
  });
});
server.on('listening', () => {
  const address = server.address();
  process.send!({ type: 'listening', port: typeof address === 'object' && address ? address.port : 0 });
});
process.on('message', (message: { type: string }) => {
  if (message.type === 'stats') process.send!({ type: 'stats', frames, samples });
});
