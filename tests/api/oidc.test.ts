import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OidcRefusal, userForIdentity } from '../../server/auth/oidc';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server';

/**
 * Single sign-on against this server without a provider (the provider is only fetched when
 * someone starts signing in; e2e/ui/oidc.spec.ts signs in through a real one in Chromium).
 */
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    SWITCHYARD_PASSWORD_LOGIN: 'off',
    // Nothing listens here: discovery fails, which the start route must answer in words.
    SWITCHYARD_OIDC_ISSUER: 'http://127.0.0.1:9/',
    SWITCHYARD_OIDC_CLIENT_ID: 'switchyard',
    SWITCHYARD_OIDC_ROLE_MAP: 'gpu-admins=admin,ml-ops=operator',
  });
});
afterAll(async () => {
  await server?.close();
});

describe('password sign-in switched off', () => {
  it('refuses auth.login with a message that points to single sign-on', async () => {
    const res = await fetch(`${server.url}/api/trpc/auth.login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: server.url },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    });
    expect(res.status).toBe(403);
    const body = await res.json();
    expect(body.error.message).toBe(
      'Password sign-in is switched off on this server; sign in with single sign-on instead',
    );
    expect(res.headers.get('set-cookie')).toBeNull();
  });
});

describe('the single sign-on routes', () => {
  it('send the person back to the login page, in words, when the provider cannot be reached', async () => {
    const res = await fetch(`${server.url}/api/auth/oidc/start?next=/nodes`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/login?error=sso_unavailable&next=%2Fnodes');
  });

  it('refuse a callback no sign-in here started', async () => {
    const res = await fetch(`${server.url}/api/auth/oidc/callback?code=forged&state=forged`, {
      redirect: 'manual',
    });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/login?error=sso_expired');
    expect(res.headers.get('set-cookie')).not.toContain('sy_session=sess');
  });
});

describe('users created by single sign-on', () => {
  const issuer = 'https://id.example.com';
  const identity = (groups: string[], role: 'viewer' | 'operator' | 'admin' | null) => ({
    issuer,
    subject: 'subject-ada',
    username: 'ada',
    groups,
    role,
    address: '127.0.0.1',
  });

  it('are created on the first sign-in and get the role of their groups at every sign-in', async () => {
    const db = server.database.db;
    const first = await userForIdentity(db, identity(['ml-ops'], 'operator'));
    expect(first).toMatchObject({ username: 'ada', role: 'operator' });
    const row = await db.user.findUniqueOrThrow({ where: { id: first.id } });
    expect(row).toMatchObject({ passwordHash: null, externalIssuer: issuer, externalSubject: 'subject-ada' });

    const again = await userForIdentity(db, identity(['gpu-admins'], 'admin'));
    expect(again).toEqual({ ...first, role: 'admin' });
    expect((await db.user.findUniqueOrThrow({ where: { id: first.id } })).role).toBe('admin');
    const change = await db.auditEvent.findFirst({ where: { action: 'user.role', targetId: first.id } });
    expect(change?.details).toMatchObject({ from: 'operator', to: 'admin', method: 'oidc' });
  });

  it('are refused when their groups map to no role, or when disabled', async () => {
    const db = server.database.db;
    await expect(userForIdentity(db, identity(['finance'], null))).rejects.toMatchObject({
      code: 'sso_no_role',
    });
    await db.user.updateMany({ where: { username: 'ada' }, data: { disabledAt: new Date() } });
    await expect(userForIdentity(db, identity(['gpu-admins'], 'admin'))).rejects.toBeInstanceOf(OidcRefusal);
    await expect(userForIdentity(db, identity(['gpu-admins'], 'admin'))).rejects.toMatchObject({
      code: 'sso_disabled',
    });
  });

  it('never take over a local account by its name', async () => {
    await expect(
      userForIdentity(server.database.db, {
        ...identity(['gpu-admins'], 'admin'),
        subject: 'x',
        username: 'Admin',
      }),
    ).rejects.toMatchObject({ code: 'sso_username_taken' });
  });
});
