import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { checkHaproxyConfig, DEFAULT_HAPROXY, renderHaproxyConfig, startHaproxy } from '../haproxy.mjs';

const HAPROXY = process.env.HAPROXY_PATH ?? DEFAULT_HAPROXY;
const installed = existsSync(HAPROXY);
if (!installed)
  console.warn(`${HAPROXY} is missing: the HAProxy tests are skipped (apt-get install haproxy)`);

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-haproxy-test-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A port nothing listens on right now (HAProxy binds it itself). */
async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A stand-in for one Switchyard server: /api/health answers 200 (or 503 once made
 * unhealthy), other paths answer its id, and a WebSocket is greeted with its id.
 */
async function backend(id: string) {
  let healthy = true;
  const server = http.createServer((req, res) => {
    if (req.url === '/api/health') {
      res.writeHead(healthy ? 200 : 503).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(id);
  });
  const sockets = new WebSocketServer({ server });
  sockets.on('connection', (socket) => socket.send(id));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const kill = async () => {
    for (const client of sockets.clients) client.terminate();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  cleanups.push(() => (server.listening ? kill() : undefined));
  return {
    id,
    port,
    makeUnhealthy: () => {
      healthy = false;
    },
    /** Dies as a killed process does: the listener and every connection go at once. */
    kill,
  };
}

/**
 * GET on a new connection each time: keep-alive connections would make a test of routing
 * depend on which client connections HAProxy closes when a server goes down.
 */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Server id → its row of the stats page's CSV, by column name (status, wredis, …). */
async function serverStats(statsPort: number): Promise<Record<string, Record<string, string>>> {
  const [header = '', ...lines] = (await get(`http://127.0.0.1:${statsPort}/;csv`)).body.split('\n');
  const columns = header.replace(/^# /, '').split(',');
  const servers: Record<string, Record<string, string>> = {};
  for (const line of lines) {
    const row = Object.fromEntries(line.split(',').map((value, i) => [columns[i], value]));
    if (row.pxname === 'servers' && row.svname && row.svname !== 'BACKEND') servers[row.svname] = row;
  }
  return servers;
}

/** Server id → status (UP, DOWN, …). */
async function serverStates(statsPort: number): Promise<Record<string, string>> {
  const stats = await serverStats(statsPort);
  return Object.fromEntries(Object.entries(stats).map(([id, row]) => [id, row.status ?? '']));
}

const SERVERS = [1, 2, 3].map((i) => ({ id: `server-${i}`, host: '127.0.0.1', port: 3000 + i }));

describe('the HAProxy configuration', () => {
  it('has one server line per server and every setting the cluster relies on', () => {
    const config = renderHaproxyConfig({
      bind: { host: '0.0.0.0', port: 3000 },
      stats: { host: '127.0.0.1', port: 8404 },
      servers: SERVERS,
      maxconn: 5000,
    });
    const lines = config.split('\n').filter((line) => !line.trimStart().startsWith('#'));
    const settings = lines.map((line) => line.trim()).filter(Boolean);
    expect(settings).toEqual(
      expect.arrayContaining([
        'maxconn 5000',
        'bind 0.0.0.0:3000',
        'bind 127.0.0.1:8404',
        'balance leastconn',
        'option httpchk GET /api/health',
        'http-check expect status 200',
        'default-server check inter 1s fall 2 rise 2 on-marked-down shutdown-sessions',
        'timeout tunnel 1h',
        'timeout client-fin 30s',
        'timeout server-fin 30s',
        'option redispatch 1',
        'retries 3',
        'server server-1 127.0.0.1:3001',
        'server server-2 127.0.0.1:3002',
        'server server-3 127.0.0.1:3003',
      ]),
    );
    expect(lines.join('\n')).not.toContain('{{');
    expect(settings.filter((line) => line.startsWith('server '))).toHaveLength(3);
  });

  it('brackets IPv6 addresses and refuses a cluster it cannot describe', () => {
    const config = renderHaproxyConfig({
      bind: { host: '::', port: 3000 },
      stats: { host: '::1', port: 8404 },
      servers: [{ id: 'a', host: 'fd00::11', port: 3000 }],
    });
    expect(config).toContain('bind [::]:3000');
    expect(config).toContain('server a [fd00::11]:3000');
    const base = { bind: { host: '0.0.0.0', port: 3000 }, stats: { host: '127.0.0.1', port: 8404 } };
    expect(() => renderHaproxyConfig({ ...base, servers: [] })).toThrow(/at least one server/);
    expect(() => renderHaproxyConfig({ ...base, servers: [SERVERS[0]!, SERVERS[0]!] })).toThrow(/twice/);
    expect(() => renderHaproxyConfig({ ...base, servers: [{ ...SERVERS[0]!, id: 'a b' }] })).toThrow(
      /server id/,
    );
    expect(() => renderHaproxyConfig({ ...base, servers: [{ ...SERVERS[0]!, port: 70000 }] })).toThrow(
      /port 70000/,
    );
  });

  it.runIf(installed)('is accepted by haproxy -c, and a broken one is not', async () => {
    const dir = await tempDir();
    const file = join(dir, 'haproxy.cfg');
    const config = renderHaproxyConfig({
      bind: { host: '127.0.0.1', port: 3000 },
      stats: { host: '127.0.0.1', port: 8404 },
      servers: SERVERS,
      maxconn: 1000,
    });
    await writeFile(file, config);
    expect(checkHaproxyConfig(file, HAPROXY)).toMatchObject({ ok: true });
    await writeFile(file, config.replace('balance leastconn', 'balance most-connections'));
    const broken = checkHaproxyConfig(file, HAPROXY);
    expect(broken.ok).toBe(false);
    expect(broken.output).toMatch(/haproxy.cfg:\d+\] : balance only supports/);
  });

  it.runIf(installed)(
    'balances requests, retries a killed server elsewhere, and cuts the WebSockets of a server marked down',
    async () => {
      const backends = await Promise.all(['server-1', 'server-2', 'server-3'].map(backend));
      const [port, statsPort] = [await freePort(), await freePort()];
      const file = join(await tempDir(), 'haproxy.cfg');
      await writeFile(
        file,
        renderHaproxyConfig({
          bind: { host: '127.0.0.1', port },
          stats: { host: '127.0.0.1', port: statsPort },
          servers: backends.map((b) => ({ id: b.id, host: '127.0.0.1', port: b.port })),
          maxconn: 1000,
        }),
      );
      const haproxy = startHaproxy(file, { haproxy: HAPROXY });
      let output = '';
      haproxy.stdout?.on('data', (chunk) => (output += chunk));
      haproxy.stderr?.on('data', (chunk) => (output += chunk));
      cleanups.push(() => haproxy.kill('SIGKILL'));
      const url = `http://127.0.0.1:${port}`;
      await waitFor(async () => {
        const states = Object.values(await serverStates(statsPort));
        return states.length === 3 && states.every((state) => state === 'UP') ? true : undefined;
      }, `three servers UP (HAProxy said: ${output})`);

      const answers = async (count: number) =>
        Promise.all(
          Array.from({ length: count }, async () => {
            const { status, body } = await get(`${url}/whoami`);
            return `${status} ${body}`;
          }),
        );
      // Requests are spread over every server.
      const spread = new Set<string>();
      for (let i = 0; i < 12; i++) spread.add((await answers(1))[0]!);
      expect([...spread].sort()).toEqual(['200 server-1', '200 server-2', '200 server-3']);

      // A WebSocket through HAProxy; its server then fails its health check while still up.
      const socket = new WebSocket(`ws://127.0.0.1:${port}/socket`);
      const holder = await new Promise<string>((resolve, reject) => {
        socket.once('message', (data) => resolve(String(data)));
        socket.once('error', reject);
      });
      const closed = new Promise<number>((resolve, reject) => {
        socket.once('close', () => resolve(Date.now()));
        setTimeout(() => reject(new Error('the WebSocket was not cut within 8 s')), 8_000);
      });
      const markedAt = Date.now();
      backends.find((b) => b.id === holder)!.makeUnhealthy();
      // on-marked-down shutdown-sessions: two failed checks a second apart, then the cut.
      expect((await closed) - markedAt).toBeLessThan(4_000);
      expect((await serverStates(statsPort))[holder]).toBe('DOWN');

      // A killed server: requests that HAProxy still sends its way are retried on another.
      const victim = backends.find((b) => b.id !== holder)!;
      const killedAt = Date.now();
      await victim.kill();
      const during = await answers(20);
      expect(during.filter((answer) => !answer.startsWith('200 '))).toEqual([]);
      expect(during).not.toContain(`200 ${victim.id}`);
      // …and they were indeed sent its way first, then redispatched.
      expect(Number((await serverStats(statsPort))[victim.id]?.wredis)).toBeGreaterThan(0);
      await waitFor(
        async () => ((await serverStates(statsPort))[victim.id] === 'DOWN' ? true : undefined),
        `${victim.id} DOWN`,
      );
      expect(Date.now() - killedAt).toBeLessThan(3_500);
    },
  );
});
