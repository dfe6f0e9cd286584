// `npm start`: builds what a fresh checkout lacks (Prisma client, Next.js pages), then
// runs the server (server/main.ts), passing signals through so shutdown stays clean.
import { spawn } from 'node:child_process';
import { prepareProduct } from './prepare-product.mjs';

prepareProduct();

// The server runs in its own process group, so a terminal's Ctrl-C reaches only this
// process: the server then gets one SIGTERM and shuts down in order (agents told, rollups
// flushed, Postgres stopped last) instead of its Postgres being interrupted first. The IPC
// channel lets the server notice if this process dies without passing a signal on.
const server = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
  stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
  detached: true,
  env: { NEXT_TELEMETRY_DISABLED: '1', ...process.env },
});
let stopping = false;
const stop = () => {
  if (stopping) return; // one SIGTERM: a second one tells the server to skip its cleanup
  stopping = true;
  server.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
process.on('SIGHUP', stop);
// `npm start` runs this under `sh -c`; npm signals only that shell, which dies without
// passing the signal on. Being re-parented means whoever started us is gone: stop too.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop();
}, 500).unref();
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
