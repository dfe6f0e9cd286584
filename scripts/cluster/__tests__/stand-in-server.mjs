// A stand-in for server/main.ts in the cluster's tests: it listens where the cluster says,
// answers /api/health, reports the environment it was given, and stops on SIGTERM.
import http from 'node:http';

const id = process.env.SWITCHYARD_SERVER_ID;
const server = http.createServer((req, res) => {
  if (req.url === '/api/health') return res.writeHead(200).end('{"status":"ok"}');
  const keys = Object.keys(process.env).filter((key) => /^(PORT|HOST|DATABASE_URL|SWITCHYARD_)/.test(key));
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id, env: Object.fromEntries(keys.map((key) => [key, process.env[key]])) }));
});
server.listen(Number(process.env.PORT), process.env.HOST, () => {
  console.log(`stand-in listening on ${process.env.PORT}`);
  console.error('a line on stderr');
});
const stop = () => {
  console.log('stand-in stopping');
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('disconnect', stop);
