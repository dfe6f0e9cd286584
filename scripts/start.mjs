// `npm start`: builds what a fresh checkout lacks (Prisma client, Next.js pages), then
// runs the server (server/main.ts), passing signals through so shutdown stays clean.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
process.chdir(root);

function run(command, args, env = process.env) {
  const result = spawnSync(command, args, { stdio: 'inherit', env });
  if (result.status !== 0) {
    console.error(`\n${command} ${args.join(' ')} failed (exit ${result.status})`);
    process.exit(result.status ?? 1);
  }
}

if (!fs.existsSync('node_modules')) {
  console.error('Dependencies are missing: run `npm ci` first.');
  process.exit(1);
}
if (!fs.existsSync('server/generated/prisma/client.ts')) {
  run(process.execPath, ['scripts/prisma-generate.mjs']);
}

/** The pages are rebuilt when anything they are built from has changed. */
function pagesInputHash() {
  const hash = createHash('sha256');
  const visit = (entry) => {
    if (!fs.existsSync(entry)) return;
    const stat = fs.statSync(entry);
    if (stat.isDirectory()) {
      for (const child of fs.readdirSync(entry).sort()) visit(path.join(entry, child));
    } else {
      hash.update(entry);
      hash.update(fs.readFileSync(entry));
    }
  };
  for (const entry of ['app', 'components', 'lib', 'next.config.js', 'tsconfig.json', 'package-lock.json'])
    visit(entry);
  return hash.digest('hex');
}

const dev = process.env.NODE_ENV === 'development';
if (!dev) {
  const stamp = path.join('.next', 'switchyard-inputs.sha256');
  const wanted = pagesInputHash();
  const built =
    fs.existsSync(path.join('.next', 'BUILD_ID')) &&
    fs.existsSync(stamp) &&
    fs.readFileSync(stamp, 'utf8') === wanted;
  if (!built) {
    console.log('Building the web pages (first start, or they changed)…');
    run(process.execPath, ['node_modules/next/dist/bin/next', 'build'], {
      ...process.env,
      NEXT_TELEMETRY_DISABLED: '1',
    });
    fs.writeFileSync(stamp, wanted);
  }
}

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
