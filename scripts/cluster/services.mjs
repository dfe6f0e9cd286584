// The services a cluster's servers share, checked before any server starts: a missing
// Redis or database is then one clear sentence instead of a stack trace from every server.
import net from 'node:net';
import tls from 'node:tls';
import pg from 'pg';

/** The URL with its password replaced by `***`, for printing. */
export function redactUrl(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** One Redis command in RESP, the protocol's wire form. */
function resp(args) {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
}

/**
 * Resolves once the Redis at `url` (redis:// or rediss://) answers PING, after AUTH when the
 * URL carries a password; rejects with a sentence saying what went wrong.
 */
export function checkRedis(url, { timeoutMs = 3_000 } = {}) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.reject(new Error(`${url} is not a URL (e.g. redis://127.0.0.1:6379)`));
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    return Promise.reject(new Error(`${redactUrl(url)}: use redis:// or rediss://`));
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = Number(parsed.port || 6379);
  const where = `Redis at ${host}:${port}`;
  const commands = [];
  if (parsed.password) {
    const password = decodeURIComponent(parsed.password);
    commands.push(
      parsed.username ? ['AUTH', decodeURIComponent(parsed.username), password] : ['AUTH', password],
    );
  }
  commands.push(['PING']);

  return new Promise((resolve, reject) => {
    const socket =
      parsed.protocol === 'rediss:'
        ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host })
        : net.connect({ host, port });
    const fail = (message) => {
      socket.destroy();
      reject(new Error(message));
    };
    socket.setTimeout(timeoutMs, () => fail(`${where} did not answer within ${timeoutMs} ms`));
    socket.once(parsed.protocol === 'rediss:' ? 'secureConnect' : 'connect', () =>
      socket.write(commands.map(resp).join('')),
    );
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('utf8');
      for (let end = received.indexOf('\r\n'); end >= 0; end = received.indexOf('\r\n')) {
        const line = received.slice(0, end);
        received = received.slice(end + 2);
        if (line.startsWith('-')) return fail(`${where} refused: ${line.slice(1)}`);
        if (line === '+PONG') {
          socket.end();
          return resolve();
        }
      }
    });
    // After a PONG this is a no-op: a promise settles once.
    socket.on('close', () => fail(`${where} closed the connection without answering PING`));
    socket.on('error', (error) =>
      fail(`${where} does not answer (${error.code ?? error.message}): start it, or pass --redis-url`),
    );
  });
}

/** `"name"`, doubled quotes inside, for a database name in SQL. */
function quoteIdentifier(name) {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Says where the database is and what to do, for the errors worth a sentence. */
function databaseError(url, error) {
  const { hostname, port } = new URL(url);
  const where = `PostgreSQL at ${hostname}:${port || 5432}`;
  if (error.code === 'ECONNREFUSED' || error.code === 'ENOTFOUND' || error.code === 'ETIMEDOUT')
    return new Error(`${where} does not answer (${error.code}): start it, or pass --database-url`);
  return new Error(`${where}: ${error.message}`);
}

/**
 * Makes sure the database that `url` names exists, creating it (from the server's
 * maintenance database) when it does not. Resolves { created }.
 */
export async function ensureDatabase(url) {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) throw new Error(`${redactUrl(url)} names no database (e.g. …/switchyard)`);
  const probe = new pg.Client({ connectionString: url });
  try {
    await probe.connect();
    return { created: false };
  } catch (error) {
    // 3D000 invalid_catalog_name: the server answers, the database is not there.
    if (error.code !== '3D000') throw databaseError(url, error);
  } finally {
    await probe.end().catch(() => {});
  }
  const maintenance = new URL(url);
  maintenance.pathname = name === 'postgres' ? '/template1' : '/postgres';
  const admin = new pg.Client({ connectionString: maintenance.toString() });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
  } catch (error) {
    // 42P04 duplicate_database: someone else created it a moment ago, which is as good.
    if (error.code !== '42P04') throw databaseError(url, error);
  } finally {
    await admin.end().catch(() => {});
  }
  return { created: true };
}
