import http from 'node:http';
import { io as connectSocket } from 'socket.io-client';
import { Agent, type BodyInit, FormData, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../server/auth/login-throttle';
import { hashPassword } from '../../server/auth/passwords';
import { API_BODY_LIMIT_BYTES, MAX_BATCH_CALLS } from '../../server/http/request-guards';
import { contentSecurityPolicy, createSecurityHeaders } from '../../server/http/security-headers';
import { MAX_ROOMS_PER_SOCKET } from '../../server/realtime/live-gateway';
import { ADMIN_PASSWORD, signIn, startTestServer, type TestServer } from '../support/server';

/**
 * The web-facing holes a prober found, each reproduced against the real server: unbounded
 * bodies, database errors in answers, unbounded batches, unthrottled password guessing,
 * cross-site changes with the session cookie, missing security headers, NUL and deep JSON.
 */

let server: TestServer;
/** The throttle's clock: tests move it instead of waiting out backoffs and locks. */
const clock = { now: Date.now() };
const throttle = new LoginThrottle({ now: () => clock.now });

beforeAll(async () => {
  server = await startTestServer({}, { loginThrottle: throttle });
});
afterAll(async () => {
  await server?.close();
  await Promise.all([...agents.values()].map((agent) => agent.close()));
});

/** Requests from another loopback address, so each scenario has its own client address. */
const agents = new Map<string, Agent>();
function from(address: string): Agent {
  let agent = agents.get(address);
  if (!agent) {
    agent = new Agent({ localAddress: address });
    agents.set(address, agent);
  }
  return agent;
}

/** tRPC errors come as `{ error: { message, data } }`, REST ones as `{ message, code, data }`. */
type ReplyBody = {
  error?: { message: string; data: { code: string; details: Record<string, unknown> | null } };
  message?: string;
  code?: string;
  [key: string]: unknown;
};
type Reply = { status: number; headers: Headers; body: ReplyBody };

async function send(
  path: string,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | FormData;
    address?: string;
  } = {},
): Promise<Reply> {
  const res = await undiciFetch(`${server.url}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: init.headers,
    body: init.body,
    dispatcher: init.address ? from(init.address) : undefined,
  });
  const text = await res.text();
  let body: ReplyBody = {};
  try {
    body = JSON.parse(text);
  } catch {
    body = { text };
  }
  return { status: res.status, headers: res.headers as unknown as Headers, body };
}

const json = { 'content-type': 'application/json' };
const login = (
  username: string,
  password: string,
  address = '127.0.0.1',
  headers: Record<string, string> = {},
) =>
  send('/api/trpc/auth.login', {
    headers: { ...json, ...headers },
    body: JSON.stringify({ username, password }),
    address,
  });
const trpcMessage = (reply: Reply): string => reply.body.error?.message ?? '';

async function createUser(username: string, password: string) {
  return server.database.db.user.create({
    data: { username, role: 'operator', passwordHash: await hashPassword(password) },
  });
}

/** A body of `megabytes` MiB, produced as it is sent (never held in memory at once). */
function streamedBody(megabytes: number): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(1024 * 1024).fill(0x61);
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent === 0) controller.enqueue(new TextEncoder().encode('{"username":"admin","password":"'));
      if (sent >= megabytes) {
        controller.enqueue(new TextEncoder().encode('"}'));
        controller.close();
        return;
      }
      sent += 1;
      controller.enqueue(chunk);
    },
  });
}

/** Sends headers declaring a body of `length` bytes and only a little of it; resolves with the answer. */
function declaredBody(path: string, length: number): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(length) },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.write('{"username":"');
  });
}

describe('request bodies are bounded on every route', () => {
  it('refuses a streamed 100 MB login body quickly with 413, without reading it into memory', async () => {
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    let status = 0;
    let text = '';
    try {
      const res = await undiciFetch(`${server.url}/api/trpc/auth.login`, {
        method: 'POST',
        headers: json,
        body: streamedBody(100) as unknown as BodyInit,
        duplex: 'half',
      });
      status = res.status;
      text = await res.text();
    } catch (error) {
      throw new Error(`the 413 answer was lost: ${(error as Error).message}`);
    }
    const elapsed = performance.now() - started;
    expect(status).toBe(413);
    const body = JSON.parse(text);
    expect(body.error.message).toContain(`${API_BODY_LIMIT_BYTES} bytes`);
    expect(body.error.data).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      details: { limitBytes: API_BODY_LIMIT_BYTES },
    });
    expect(elapsed).toBeLessThan(5_000);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(50 * 1024 * 1024);
  });

  it('refuses a declared length over the limit before reading a byte, on tRPC, REST and other routes', async () => {
    const trpc = await declaredBody('/api/trpc/auth.login', 100 * 1024 * 1024);
    expect(trpc.status).toBe(413);
    expect(JSON.parse(trpc.body).error.message).toContain(`${API_BODY_LIMIT_BYTES} bytes`);
    const rest = await declaredBody('/api/v1/allocation/changes', 100 * 1024 * 1024);
    expect(rest.status).toBe(413);
    expect(JSON.parse(rest.body)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    for (const path of ['/api/health', '/api/agent/enroll', '/api/nope', '/metrics', '/some/page']) {
      const other = await declaredBody(path, 10 * 1024 * 1024);
      expect(other.status, path).toBe(413);
      expect(JSON.parse(other.body).error.code, path).toBe('PAYLOAD_TOO_LARGE');
    }
  });

  it('still takes a large legitimate input: an allocation change of 1024 moves', async () => {
    const cookie = await signIn(server.url);
    const moves = Array.from({ length: 1024 }, (_, i) => ({
      gpuId: `gpu-${String(i).padStart(60, '0')}`,
      to: { deploymentId: 'd'.repeat(64) },
    }));
    const body = JSON.stringify({ moves, baseVersions: {}, reason: 'big', dryRun: true });
    expect(body.length).toBeGreaterThan(150_000);
    const reply = await send('/api/trpc/allocation.submit', {
      headers: { ...json, cookie, origin: server.url },
      body,
    });
    // Read and judged: the GPUs do not exist.
    expect(reply.status).not.toBe(413);
    expect(reply.status).toBeLessThan(500);
  });
});

describe('database errors never reach a client', () => {
  it('answers a failing query with a generic message on tRPC and REST', async () => {
    const cookie = await signIn(server.url);
    const { db } = server.database;
    await db.$executeRawUnsafe('ALTER TABLE "ApiToken" RENAME TO "ApiToken_moved"');
    try {
      const trpc = await send('/api/trpc/admin.listApiTokens', { headers: { cookie } });
      expect(trpc.status).toBe(500);
      expect(trpc.body.error?.message).toBe('internal error');
      const rest = await send('/api/v1/admin/tokens', { headers: { cookie } });
      expect(rest.status).toBe(500);
      expect(rest.body.message).toBe('internal error');
      for (const reply of [trpc, rest]) {
        const text = JSON.stringify(reply.body);
        expect(text).not.toMatch(/prisma|invocation|does not exist|public\.|findMany|stack/i);
      }
    } finally {
      await db.$executeRawUnsafe('ALTER TABLE "ApiToken_moved" RENAME TO "ApiToken"');
    }
  });
});

describe('tRPC batches are bounded', () => {
  it(`refuses a batch of 100 login guesses before any runs (at most ${MAX_BATCH_CALLS} calls)`, async () => {
    await createUser('batch-target', 'batch-password-1');
    const paths = Array.from({ length: 100 }, () => 'auth.login').join(',');
    const input = Object.fromEntries(
      Array.from({ length: 100 }, (_, i) => [i, { username: 'batch-target', password: `guess-${i}` }]),
    );
    const reply = await send(`/api/trpc/${paths}?batch=1`, { headers: json, body: JSON.stringify(input) });
    expect(reply.status).toBe(400);
    expect(trpcMessage(reply)).toMatch(/at most 10 calls.*100/);
    expect(throttle.failures('account', 'batch-target')).toBe(0);
  });

  it('counts each login of a batch as an attempt', async () => {
    const paths = Array.from({ length: MAX_BATCH_CALLS }, () => 'auth.login').join(',');
    const input = Object.fromEntries(
      Array.from({ length: MAX_BATCH_CALLS }, (_, i) => [
        i,
        { username: 'batch-target', password: `guess-${i}` },
      ]),
    );
    const reply = await send(`/api/trpc/${paths}?batch=1`, {
      headers: json,
      body: JSON.stringify(input),
      address: '127.0.0.5',
    });
    const codes = (reply.body as unknown as { error?: { data: { code: string } } }[]).map(
      (r) => r.error?.data.code,
    );
    expect(codes.filter((c) => c === 'UNAUTHORIZED')).toHaveLength(5);
    expect(codes.filter((c) => c === 'TOO_MANY_REQUESTS')).toHaveLength(5);
    expect(throttle.failures('account', 'batch-target')).toBe(5);
  });
});

describe('login throttling', () => {
  it('backs off after 5 failures, locks at 10 (audited), and refuses even the right password while locked', async () => {
    const user = await createUser('guess-target', 'the-right-password');
    const address = '127.0.0.2';
    const statuses: number[] = [];
    let lastRefusal: Reply | null = null;
    for (let i = 0; i < 50; i++) {
      const reply = await login('guess-target', `wrong-${i}`, address);
      statuses.push(reply.status);
      if (reply.status === 429) {
        lastRefusal = reply;
        // Waiting out a backoff (not a lock) lets the next guess through.
        const seconds = Number(reply.headers.get('retry-after'));
        if (seconds < 60) clock.now += seconds * 1000;
      }
    }
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses[5]).toBe(429);
    expect(lastRefusal?.headers.get('retry-after')).toBe(String(15 * 60));
    expect(trpcMessage(lastRefusal!)).toMatch(/locked; try again in 15 minutes/);

    const audit = await server.database.db.auditEvent.findMany({ where: { action: 'auth.login.locked' } });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ targetType: 'user', targetId: user.id, outcome: 'locked' });

    const right = await login('guess-target', 'the-right-password', address);
    expect(right.status).toBe(429);
    expect(right.headers.get('set-cookie')).toBeNull();
    // The account is locked from any address, and the address may still sign in others.
    expect((await login('guess-target', 'the-right-password', '127.0.0.3')).status).toBe(429);
    expect((await login('admin', ADMIN_PASSWORD, address)).status).toBe(200);

    // After 15 minutes the right password opens it, and clears its count.
    clock.now += 15 * 60_000;
    expect((await login('guess-target', 'the-right-password', address)).status).toBe(200);
    expect(throttle.failures('account', 'guess-target')).toBe(0);
  });

  it('throttles one address guessing across many accounts, not the others', async () => {
    const address = '127.0.0.4';
    for (let i = 0; i < 20; i++) expect((await login(`nobody-${i}`, 'x', address)).status).toBe(401);
    const refused = await login('nobody-20', 'x', address);
    expect(refused.status).toBe(429);
    expect(trpcMessage(refused)).toContain('this address');
    expect((await login('admin', ADMIN_PASSWORD, '127.0.0.6')).status).toBe(200);
  });
});

describe('changes made with the session cookie must come from this origin', () => {
  const stillSignedIn = async (cookie: string) =>
    (await send('/api/trpc/auth.me', { headers: { cookie } })).status === 200;

  it('refuses a cross-site multipart or text POST to auth.logout, and the session stays', async () => {
    const cookie = await signIn(server.url);
    const form = new FormData();
    form.set('x', '1');
    const multipart = await send('/api/trpc/auth.logout', { headers: { cookie }, body: form });
    expect(multipart.status).toBe(415);
    expect(trpcMessage(multipart)).toContain('multipart/form-data');
    const foreignForm = await send('/api/trpc/auth.logout', {
      headers: { cookie, origin: 'https://evil.example' },
      body: form,
    });
    expect(foreignForm.status).toBe(415);
    const text = await send('/api/trpc/auth.logout', {
      headers: { cookie, 'content-type': 'text/plain' },
      body: '{}',
    });
    expect(text.status).toBe(415);
    expect(await stillSignedIn(cookie)).toBe(true);
  });

  it('refuses JSON with a foreign Origin or Referer, or with neither, and takes this origin', async () => {
    const cookie = await signIn(server.url);
    const logout = (headers: Record<string, string>) =>
      send('/api/trpc/auth.logout', { headers: { ...json, cookie, ...headers }, body: '{}' });
    const foreign = await logout({ origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(trpcMessage(foreign)).toContain('cross-origin request refused');
    expect((await logout({ origin: 'null' })).status).toBe(403);
    expect((await logout({ referer: 'https://evil.example/page' })).status).toBe(403);
    // Same host, other port: another origin.
    expect((await logout({ origin: 'http://127.0.0.1:1' })).status).toBe(403);
    const none = await logout({});
    expect(none.status).toBe(403);
    expect(trpcMessage(none)).toContain('must carry an Origin or Referer');
    expect(await stillSignedIn(cookie)).toBe(true);

    expect((await logout({ referer: `${server.url}/nodes` })).status).toBe(200);
    expect(await stillSignedIn(cookie)).toBe(false);
  });

  it('applies to REST changes too, and not to Bearer tokens', async () => {
    const cookie = await signIn(server.url);
    const before = await server.database.db.apiToken.count();
    const create = (headers: Record<string, string>) =>
      send('/api/v1/admin/tokens', {
        headers: { ...json, cookie, ...headers },
        body: JSON.stringify({ name: 'csrf', scopes: ['read'] }),
      });
    const foreign = await create({ origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.body.message).toContain('cross-origin request refused');
    expect((await create({})).status).toBe(403);
    expect(await server.database.db.apiToken.count()).toBe(before);
    const same = await create({ origin: server.url });
    expect(same.status).toBe(200);
    const { token } = same.body as { token: string };

    // A Bearer token is no ambient credential: no Origin needed (the CLI sends none).
    const withToken = await send('/api/trpc/auth.logout', {
      headers: { ...json, authorization: `Bearer ${token}` },
      body: '{}',
    });
    expect(withToken.status).toBe(200);
  });

  it('refuses a sign-in posted from a foreign page (login CSRF), but not one without Origin', async () => {
    const foreign = await login('admin', ADMIN_PASSWORD, '127.0.0.7', { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('set-cookie')).toBeNull();
    expect((await login('admin', ADMIN_PASSWORD, '127.0.0.7')).status).toBe(200);
  });
});

describe('security headers', () => {
  it('are on API answers, errors and 404s, and no signed-in answer may be cached', async () => {
    const cookie = await signIn(server.url);
    const replies = {
      health: await send('/api/health'),
      trpc: await send('/api/trpc/auth.me', { headers: { cookie } }),
      unauthorized: await send('/api/trpc/auth.me'),
      rest: await send('/api/v1/nodes', { headers: { cookie } }),
      openapi: await send('/api/v1/openapi.json'),
      apiNotFound: await send('/api/nope'),
      pageNotServed: await send('/nodes'),
      metrics: await send('/metrics', { headers: { cookie } }),
      refused: await send('/api/trpc/auth.logout', {
        headers: { cookie, 'content-type': 'text/plain' },
        body: 'x',
      }),
    };
    for (const [name, { headers }] of Object.entries(replies)) {
      expect(headers.get('content-security-policy'), name).toContain("frame-ancestors 'none'");
      expect(headers.get('x-frame-options'), name).toBe('DENY');
      expect(headers.get('x-content-type-options'), name).toBe('nosniff');
      expect(headers.get('referrer-policy'), name).toBe('same-origin');
      expect(headers.get('cache-control'), name).toBe('no-store');
      expect(headers.get('strict-transport-security'), name).toBeNull();
    }
  });

  it("are on socket.io's own answers", async () => {
    const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`);
    await res.text();
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('pin no-store over what a page handler sets, keep build assets cacheable, and add HSTS behind HTTPS', () => {
    const set = createSecurityHeaders({ NODE_ENV: 'production', SWITCHYARD_SECURE_COOKIES: 'true' });
    const page = fakeResponse();
    set({ headers: { host: 'switchyard.example' } } as never, page as never, '/nodes');
    page.setHeader('cache-control', 's-maxage=31536000');
    page.writeHead(200, { 'Cache-Control': 'public, max-age=60' });
    expect(page.sent['cache-control']).toBe('no-store');
    expect(page.sent['strict-transport-security']).toContain('max-age=');
    const asset = fakeResponse();
    set({ headers: {} } as never, asset as never, '/_next/static/chunks/app.js');
    asset.setHeader('cache-control', 'public, max-age=31536000, immutable');
    asset.writeHead(200);
    expect(asset.sent['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('allow inline scripts and styles, eval only in development, and sockets to this host', () => {
    const production = contentSecurityPolicy('localhost:3000', false);
    expect(production).toContain("script-src 'self' 'unsafe-inline';");
    expect(production).toContain("connect-src 'self' ws://localhost:3000 wss://localhost:3000;");
    expect(contentSecurityPolicy('localhost:3000', true)).toContain("'unsafe-eval'");
    expect(contentSecurityPolicy('evil"; script-src *', false)).toContain("connect-src 'self';");
  });
});

function fakeResponse() {
  const headers: Record<string, string> = {};
  const response = {
    headersSent: false,
    sent: {} as Record<string, string>,
    setHeader(name: string, value: string) {
      headers[name.toLowerCase()] = value;
    },
    writeHead(_status: number, extra?: Record<string, string>) {
      for (const [name, value] of Object.entries(extra ?? {})) headers[name.toLowerCase()] = value;
      response.sent = { ...headers };
      response.headersSent = true;
      return response;
    },
  };
  return response;
}

describe('JSON inputs: no control characters, no deep nesting', () => {
  it('refuses NUL in a tRPC input with 400 naming the field, and stores nothing', async () => {
    const cookie = await signIn(server.url);
    const before = await server.database.db.apiToken.count();
    const reply = await send('/api/trpc/admin.createApiToken', {
      headers: { ...json, cookie, origin: server.url },
      body: JSON.stringify({ name: 'a\u0000b', scopes: ['read'] }),
    });
    expect(reply.status).toBe(400);
    expect(trpcMessage(reply)).toMatch(/^name: contains a control character/);
    expect(reply.body.error?.data.details).toEqual({ field: 'name' });
    expect(await server.database.db.apiToken.count()).toBe(before);

    const loginNul = await login('ad\u0000min', 'x', '127.0.0.8');
    expect(loginNul.status).toBe(400);
    expect(trpcMessage(loginNul)).toContain('username');
    const query = await send(
      `/api/trpc/fleet.gpu?input=${encodeURIComponent(JSON.stringify({ id: 'x\u0000' }))}`,
      { headers: { cookie } },
    );
    expect(query.status).toBe(400);
    expect(trpcMessage(query)).toContain('id: contains a control character');
  });

  it('refuses NUL in a REST body or query value with 400 naming the field', async () => {
    const cookie = await signIn(server.url);
    const before = await server.database.db.apiToken.count();
    const body = await send('/api/v1/admin/tokens', {
      headers: { ...json, cookie, origin: server.url },
      body: JSON.stringify({ name: 'ok', scopes: ['read'], extra: { deep: ['\u0001'] } }),
    });
    expect(body.status).toBe(400);
    expect(body.body.message).toContain('extra.deep.0: contains a control character');
    expect(await server.database.db.apiToken.count()).toBe(before);
    // Path values reach the procedure still percent-encoded: no NUL, just no such GPU.
    const path = await send('/api/v1/gpus/abc%00def', { headers: { cookie } });
    expect(path.status).toBe(404);
    const query = await send('/api/v1/stress/runs?deploymentId=%00', { headers: { cookie } });
    expect(query.status).toBe(400);
    expect(query.body.message).toContain('deploymentId');
  });

  it('refuses deeply nested JSON with 400 (it was a 500) on tRPC, REST and query inputs', async () => {
    const cookie = await signIn(server.url);
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const body = `{"moves":[],"reason":"x","baseVersions":${deep}}`;
    const headers = { ...json, cookie, origin: server.url };
    const trpc = await send('/api/trpc/allocation.submit', { headers, body });
    expect(trpc.status).toBe(400);
    expect(trpcMessage(trpc)).toContain('nested deeper than 32 levels');
    const rest = await send('/api/v1/allocation/changes', { headers, body });
    expect(rest.status).toBe(400);
    expect(rest.body.message).toContain('nested deeper than 32 levels');
    const nested = `${'{"a":'.repeat(40)}1${'}'.repeat(40)}`;
    const query = await send(`/api/trpc/fleet.gpu?input=${encodeURIComponent(nested)}`, {
      headers: { cookie },
    });
    expect(query.status).toBe(400);
    expect(trpcMessage(query)).toContain('nested deeper than 32 levels');
  });
});

describe('live updates over socket.io', () => {
  it('refuses a cross-site handshake that carries the session cookie, and takes a same-origin one', async () => {
    const cookie = await signIn(server.url);
    const attempt = (origin: string) => {
      const socket = connectSocket(`${server.url}/live`, {
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
        extraHeaders: { cookie, origin },
      });
      return new Promise<string>((resolve) => {
        socket.once('connect', () => {
          socket.disconnect();
          resolve('connected');
        });
        socket.once('connect_error', (error) => {
          socket.disconnect();
          resolve(`refused: ${error.message}`);
        });
      });
    };
    expect(await attempt('https://evil.example')).toMatch(/^refused/);
    expect(await attempt(server.url)).toBe('connected');
  });

  it('bounds the rooms one connection may watch', async () => {
    const cookie = await signIn(server.url);
    const socket = connectSocket(`${server.url}/live`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      extraHeaders: { cookie },
    });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const subscribe = (room: string) =>
      socket.timeout(5000).emitWithAck('subscribe', room) as Promise<{ ok: boolean; error?: string }>;
    for (let i = 0; i < MAX_ROOMS_PER_SOCKET; i++)
      expect(await subscribe(`node:n${i}`)).toEqual({ ok: true });
    const over = await subscribe('node:one-too-many');
    expect(over.ok).toBe(false);
    expect(over.error).toMatch(/at most 200 rooms/);
    // A room it already watches is still fine, and leaving one makes space.
    expect(await subscribe('node:n0')).toEqual({ ok: true });
    socket.emit('unsubscribe', 'node:n0');
    expect(await subscribe('node:one-too-many')).toEqual({ ok: true });
    socket.disconnect();
  });
});
