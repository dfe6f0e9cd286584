// The server without pages or the demo's simulated agents, as its own process: for tests
// that kill it (SIGKILL) and start it again, and for the benchmark.
import { parseEnv } from './env';
import { startServer } from './main';

const server = await startServer({ env: parseEnv(), pages: false, simulator: false });
process.stdout.write(`listening ${server.url}\n`);
process.on('SIGTERM', () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
