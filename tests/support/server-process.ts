// The real server as its own process, for tests that kill it (SIGKILL) and start it again.
// Configured by the environment like `npm start`, without pages or the demo's agents.
import { parseEnv } from '../../server/env';
import { startServer } from '../../server/main';

const server = await startServer({ env: parseEnv(), pages: false, simulator: false });
process.stdout.write(`listening ${server.url}\n`);
process.on('SIGTERM', () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
