import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../server/auth/passwords';
import { ADMIN_PASSWORD, signIn, startTestServer, type TestServer } from '../support/server';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const trpcQuery = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/api/trpc/${path}`, { headers });
const trpcMutation = (path: string, input: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/api/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: server.url, ...headers },
    body: JSON.stringify(input),
  });

describe('health', () => {
  it('answers 200 with the database state', async () => {
    const res = await fetch(`${server.url}/api/health`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.status).toBe('ok');
    expect(body.database.state).toBe('up');
  });
});

describe('authentication', () => {
  it('refuses an unauthenticated tRPC call with 401 UNAUTHORIZED', async () => {
    for (const path of ['fleet.overview', 'fleet.nodes', 'fleet.deployments', 'auth.me']) {
      const res = await trpcQuery(path);
      expect(res.status, path).toBe(401);
      const body = await res.json();
      expect(body.error.data.code).toBe('UNAUTHORIZED');
    }
    const res = await trpcMutation('admin.createApiToken', { name: 'x', scopes: ['read'] });
    expect(res.status).toBe(401);
  });

  it('refuses a wrong password with a clear message and no cookie', async () => {
    const res = await trpcMutation('auth.login', { username: 'admin', password: 'not-the-password' });
    expect(res.status).toBe(401);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect((await res.json()).error.message).toBe('Wrong username or password');
    const unknownUser = await trpcMutation('auth.login', { username: 'nobody', password: ADMIN_PASSWORD });
    expect(unknownUser.status).toBe(401);
  });

  it('names the bad field of a malformed login', async () => {
    const res = await trpcMutation('auth.login', { username: '', password: 'x' });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error.message).toContain('username');
    expect(body.error.data.zodError.fieldErrors.username).toBeDefined();
  });

  it('gives a session cookie that opens the API, and logout closes it', async () => {
    const cookie = await signIn(server.url);
    const me = await trpcQuery('auth.me', { cookie });
    expect(me.status).toBe(200);
    expect((await me.json()).result.data).toMatchObject({ kind: 'user', name: 'admin', role: 'admin' });
    const overview = await trpcQuery('fleet.overview', { cookie });
    expect((await overview.json()).result.data.summary.gpusTotal).toBe(96);

    expect((await trpcMutation('auth.logout', {}, { cookie })).status).toBe(200);
    expect((await trpcQuery('auth.me', { cookie })).status).toBe(401);
  });
});

describe('roles and API tokens', () => {
  it('lets a viewer read but not administer', async () => {
    await server.database.db.user.create({
      data: { username: 'vera', role: 'viewer', passwordHash: await hashPassword('viewer-password') },
    });
    const cookie = await signIn(server.url, 'vera', 'viewer-password');
    expect((await trpcQuery('fleet.nodes', { cookie })).status).toBe(200);
    const res = await trpcMutation('admin.createApiToken', { name: 'x', scopes: ['read'] }, { cookie });
    expect(res.status).toBe(403);
    expect((await res.json()).error.message).toContain('admin');
  });

  it('accepts a bearer token with the read scope, stores only its hash, and refuses a forged one', async () => {
    const cookie = await signIn(server.url);
    const created = await trpcMutation('admin.createApiToken', { name: 'ci', scopes: ['read'] }, { cookie });
    expect(created.status).toBe(200);
    const { token } = (await created.json()).result.data as { token: string };
    expect(token).toMatch(/^syt_/);

    const stored = await server.database.db.apiToken.findFirstOrThrow({ where: { name: 'ci' } });
    expect(stored.tokenHash).not.toContain(token);
    expect(JSON.stringify(stored)).not.toContain(token);

    const ok = await trpcQuery('fleet.deployments', { authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    expect((await ok.json()).result.data).toHaveLength(6);
    const forged = await trpcQuery('fleet.deployments', { authorization: `Bearer ${token}x` });
    expect(forged.status).toBe(401);
    // A token cannot reach administrator actions, whatever its owner's role.
    const escalate = await trpcMutation(
      'admin.createApiToken',
      { name: 'y', scopes: ['read'] },
      {
        authorization: `Bearer ${token}`,
      },
    );
    expect(escalate.status).toBe(403);
  });

  it('refuses a token without the read scope', async () => {
    const cookie = await signIn(server.url);
    const created = await trpcMutation(
      'admin.createApiToken',
      { name: 'stress-only', scopes: ['stress'] },
      { cookie },
    );
    const { token } = (await created.json()).result.data as { token: string };
    const res = await trpcQuery('fleet.nodes', { authorization: `Bearer ${token}` });
    expect(res.status).toBe(403);
    expect((await res.json()).error.message).toContain('read');
  });
});
