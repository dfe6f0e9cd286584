import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { Cluster, planCluster, serverEnvironment } from '../cluster.mjs';
import { DEFAULT_HAPROXY } from '../haproxy.mjs';
import { checkRedis, ensureDatabase, redactUrl } from '../services.mjs';

const HAPROXY = process.env.HAPROXY_PATH ?? DEFAULT_HAPROXY;
const STAND_IN = new URL('./stand-in-server.mjs', import.meta.url).pathname;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/**
 * A Redis stand-in that speaks just enough RESP: it records each command and answers with
 * `reply(command)` (default: +OK to AUTH, +PONG to PING).
 */
async function fakeRedis(reply?: (command: string[]) => string) {
  const commands: string[][] = [];
  const server = net.createServer((socket) => {
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      // Commands arrive as *N\r\n$len\r\narg\r\n…; the tests send small ones, whole.
      for (let match = /^\*(\d+)\r\n/.exec(buffer); match; match = /^\*(\d+)\r\n/.exec(buffer)) {
        const parts = buffer.split('\r\n');
        const count = Number(match[1]);
        if (parts.length < 1 + count * 2) return;
        const command = Array.from({ length: count }, (_, i) => parts[2 + i * 2] ?? '');
        buffer = parts.slice(1 + count * 2).join('\r\n');
        commands.push(command);
        const answer = reply?.(command) ?? (command[0] === 'PING' ? '+PONG' : '+OK');
        socket.write(`${answer}\r\n`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { port: (server.address() as AddressInfo).port, commands };
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A URL for a database that does not exist yet on the test run's PostgreSQL; dropped afterwards. */
function newDatabaseUrl(): string {
  const admin = inject('adminDatabaseUrl');
  const url = new URL(admin);
  url.pathname = `/sy_cluster_${randomBytes(4).toString('hex')}`;
  cleanups.push(async () => {
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS "${url.pathname.slice(1)}" WITH (FORCE)`);
    await client.end();
  });
  return url.toString();
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the cluster layout', () => {
  it('puts HAProxy on the port, the servers on the next ones, and the simulator on the last', () => {
    const plan = planCluster({ servers: 3, port: 3000, statsPort: 8404, host: '0.0.0.0' });
    expect(plan.servers).toEqual([
      { id: 'server-1', host: '127.0.0.1', port: 3001 },
      { id: 'server-2', host: '127.0.0.1', port: 3002 },
      { id: 'server-3', host: '127.0.0.1', port: 3003 },
    ]);
    expect(plan).toMatchObject({
      bind: { host: '0.0.0.0', port: 3000 },
      stats: { host: '127.0.0.1', port: 8404 },
      simulatorHost: 'server-3',
      localUrl: 'http://127.0.0.1:3000',
    });
    expect(planCluster({ servers: 1, port: 3000, statsPort: 8404, host: '::' })).toMatchObject({
      simulatorHost: 'server-1',
      localUrl: 'http://[::1]:3000',
    });
    expect(() => planCluster({ servers: 3, port: 3000, statsPort: 3002, host: '0.0.0.0' })).toThrow(
      /--stats-port 3002/,
    );
    expect(() => planCluster({ servers: 3, port: 65534, statsPort: 8404, host: '0.0.0.0' })).toThrow(
      /above 65535/,
    );
  });

  it('gives each server its port, id, the shared URLs, and the simulator to one only', () => {
    const plan = planCluster({ servers: 2, port: 3000, statsPort: 8404, host: '0.0.0.0' });
    const shared = {
      base: { PATH: '/usr/bin', SWITCHYARD_ADMIN_PASSWORD: 'from-the-operator', PORT: '9999' },
      plan,
      redisUrl: 'redis://10.0.0.5:6379',
      databaseUrl: 'postgres://sy@10.0.0.6/switchyard',
      dataDir: '/var/lib/switchyard',
    };
    const [first, second] = plan.servers.map((server) =>
      serverEnvironment({ ...shared, server, demo: 'on' }),
    );
    expect(first).toMatchObject({
      PATH: '/usr/bin',
      SWITCHYARD_ADMIN_PASSWORD: 'from-the-operator',
      PORT: '3001',
      HOST: '127.0.0.1',
      SWITCHYARD_SERVER_ID: 'server-1',
      SWITCHYARD_REDIS_URL: 'redis://10.0.0.5:6379',
      DATABASE_URL: 'postgres://sy@10.0.0.6/switchyard',
      SWITCHYARD_DATA_DIR: '/var/lib/switchyard',
      SWITCHYARD_DEMO: 'on',
      SWITCHYARD_SIMULATOR: 'off',
    });
    expect(second).toMatchObject({
      PORT: '3002',
      SWITCHYARD_SERVER_ID: 'server-2',
      SWITCHYARD_SIMULATOR: 'on',
      SWITCHYARD_SIMULATOR_URL: 'http://127.0.0.1:3000',
    });
    const off = serverEnvironment({ ...shared, server: plan.servers[1]!, demo: 'off' });
    expect(off).toMatchObject({ SWITCHYARD_DEMO: 'off', SWITCHYARD_SIMULATOR: 'off' });
  });
});

describe('the shared services', () => {
  it('finds Redis answering PING, authenticating first when the URL has a password', async () => {
    const open = await fakeRedis();
    await checkRedis(`redis://127.0.0.1:${open.port}`);
    expect(open.commands).toEqual([['PING']]);

    const guarded = await fakeRedis();
    await checkRedis(`redis://switchyard:s%40cret@127.0.0.1:${guarded.port}/0`);
    expect(guarded.commands).toEqual([['AUTH', 'switchyard', 's@cret'], ['PING']]);
  });

  it('says what is wrong with Redis in a sentence', async () => {
    const refusing = await fakeRedis(() => '-NOAUTH Authentication required.');
    await expect(checkRedis(`redis://127.0.0.1:${refusing.port}`)).rejects.toThrow(
      `Redis at 127.0.0.1:${refusing.port} refused: NOAUTH Authentication required.`,
    );
    const port = await closedPort();
    await expect(checkRedis(`redis://127.0.0.1:${port}`)).rejects.toThrow(
      `Redis at 127.0.0.1:${port} does not answer (ECONNREFUSED): start it, or pass --redis-url`,
    );
    await expect(checkRedis('http://127.0.0.1:6379')).rejects.toThrow(/use redis:\/\/ or rediss:\/\//);
    expect(redactUrl('redis://user:secret@host:6379')).toBe('redis://user:***@host:6379');
  });

  it('creates the database when it is missing, and leaves it alone when it is there', async () => {
    const url = newDatabaseUrl();
    expect(await ensureDatabase(url)).toEqual({ created: true });
    expect(await ensureDatabase(url)).toEqual({ created: false });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    expect((await client.query('SELECT current_database() AS name')).rows[0].name).toBe(
      new URL(url).pathname.slice(1),
    );
    await client.end();

    const port = await closedPort();
    await expect(ensureDatabase(`postgres://postgres@127.0.0.1:${port}/switchyard`)).rejects.toThrow(
      `PostgreSQL at 127.0.0.1:${port} does not answer (ECONNREFUSED): start it, or pass --database-url`,
    );
  });
});

describe.runIf(existsSync(HAPROXY))('a running cluster', () => {
  it('starts servers and HAProxy, survives a server dying, and stops everything', async () => {
    const redis = await fakeRedis();
    const databaseUrl = newDatabaseUrl();
    const dataDir = await mkdtemp(join(tmpdir(), 'switchyard-cluster-test-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    let output = '';
    const out = new PassThrough();
    out.on('data', (chunk) => (output += chunk));

    // A free run of ports: retried on a collision, which start() reports before starting anything.
    let cluster: Cluster | undefined;
    for (let attempt = 0; attempt < 5 && !cluster; attempt++) {
      const port = 20_000 + Math.floor(Math.random() * 30_000);
      const candidate = new Cluster({
        servers: 3,
        port,
        statsPort: port + 10,
        host: '127.0.0.1',
        redisUrl: `redis://127.0.0.1:${redis.port}`,
        databaseUrl,
        dataDir,
        haproxy: HAPROXY,
        maxconn: 1000,
        serverCommand: [process.execPath, STAND_IN],
        startTimeoutMs: 20_000,
        out,
        err: out,
      });
      try {
        await candidate.start();
        cluster = candidate;
      } catch (error) {
        if (!/already in use/.test(String(error))) throw error;
      }
    }
    if (!cluster) throw new Error('no free ports for the cluster');
    const running = cluster;
    cleanups.push(() => running.stop());
    const { localUrl } = running.plan;

    // Every server answers through HAProxy, with its own settings and the shared ones.
    const seen = new Map<string, Record<string, string>>();
    for (let i = 0; i < 30 && seen.size < 3; i++) {
      const { id, env } = JSON.parse((await get(`${localUrl}/whoami`)).body);
      seen.set(id, env);
    }
    expect([...seen.keys()].sort()).toEqual(['server-1', 'server-2', 'server-3']);
    expect(seen.get('server-2')).toMatchObject({
      PORT: String(running.plan.servers[1]!.port),
      HOST: '127.0.0.1',
      SWITCHYARD_SERVER_ID: 'server-2',
      SWITCHYARD_REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      DATABASE_URL: databaseUrl,
      SWITCHYARD_SIMULATOR: 'off',
    });
    expect(seen.get('server-3')).toMatchObject({
      SWITCHYARD_SIMULATOR: 'on',
      SWITCHYARD_SIMULATOR_URL: localUrl,
    });
    expect(output).toMatch(/^\[server-1\] +stand-in listening on \d+$/m);
    expect(output).toMatch(/^\[server-3\] +a line on stderr$/m);
    expect(redis.commands).toContainEqual(['PING']);

    // One server dies: the cluster says so, the others keep serving through HAProxy.
    const victim = running.servers.get('server-2')!;
    victim.child.kill('SIGKILL');
    await waitFor(() => output.includes('server-2 exited (signal SIGKILL)'), 'the crash reported');
    expect(output).toContain('server-1, server-3 keep serving');
    const after = await Promise.all(Array.from({ length: 10 }, () => get(`${localUrl}/whoami`)));
    expect(after.map((answer) => answer.status)).toEqual(Array(10).fill(200));
    expect(after.map((answer) => JSON.parse(answer.body).id)).not.toContain('server-2');
    expect(running.alive().map((server) => server.id)).toEqual(['server-1', 'server-3']);

    // Stopping: every server cleanly, then HAProxy.
    await running.stop();
    expect(await running.exited).toBe(0);
    expect(output).toMatch(/^\[server-1\] +stand-in stopping$/m);
    expect(running.alive()).toEqual([]);
    expect(running.haproxy?.exitCode !== null || running.haproxy?.signalCode !== null).toBe(true);
    await expect(get(`${localUrl}/whoami`)).rejects.toThrow();
  });
});
