import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, signIn, startTestServer, type TestServer } from '../support/server';

let server: TestServer;
let adminCookie: string;

beforeAll(async () => {
  server = await startTestServer();
  adminCookie = await signIn(server.url);
});
afterAll(async () => {
  await server?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: replies are checked field by field
type Reply = { status: number; body: any };

async function reply(res: Response): Promise<Reply> {
  return { status: res.status, body: await res.json() };
}

/** A tRPC mutation with a session cookie (and the Origin a browser sends) or a bearer token. */
async function mutate(path: string, input: unknown, auth: { cookie?: string; token?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json', origin: server.url };
  if (auth.cookie) headers.cookie = auth.cookie;
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  return reply(
    await fetch(`${server.url}/api/trpc/${path}`, { method: 'POST', headers, body: JSON.stringify(input) }),
  );
}

async function query(path: string, auth: { cookie?: string; token?: string } = {}, input?: unknown) {
  const headers: Record<string, string> = {};
  if (auth.cookie) headers.cookie = auth.cookie;
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  const qs = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
  return reply(await fetch(`${server.url}/api/trpc/${path}${qs}`, { headers }));
}

async function rest(path: string, cookie: string, body?: unknown) {
  return reply(
    await fetch(`${server.url}/api/v1${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        cookie,
        origin: server.url,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
}

let seq = 0;
/** Creates a user through the API as the admin; returns its id, name and password. */
async function newUser(role: 'viewer' | 'operator' | 'admin', prefix: string = role) {
  const username = `${prefix}-${++seq}`;
  const password = `${username}-long-secret`;
  const created = await mutate('users.create', { username, role, password }, { cookie: adminCookie });
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  return { id: created.body.result.data.user.id as string, username, password };
}

async function tryLogin(username: string, password: string) {
  return mutate('auth.login', { username, password });
}

async function auditCount(action: string, targetId?: string) {
  return server.database.db.auditEvent.count({ where: { action, ...(targetId ? { targetId } : {}) } });
}

async function tokenFor(cookie: string, name: string): Promise<string> {
  const created = await mutate('admin.createApiToken', { name, scopes: ['read'] }, { cookie });
  expect(created.status).toBe(200);
  return created.body.result.data.token;
}

describe('admins manage users', () => {
  it('creates users of each role, who sign in with the powers of their role', async () => {
    const viewer = await newUser('viewer');
    const operator = await newUser('operator');
    const admin = await newUser('admin');

    const list = await rest('/admin/users', adminCookie);
    expect(list.status).toBe(200);
    const names = list.body.map((u: { username: string }) => u.username);
    expect(names).toEqual(
      expect.arrayContaining(['admin', viewer.username, operator.username, admin.username]),
    );
    const listed = list.body.find((u: { username: string }) => u.username === operator.username);
    expect(listed).toMatchObject({ role: 'operator', disabled: false, hasPassword: true, lastLoginAt: null });

    for (const [who, role] of [
      [viewer, 'viewer'],
      [operator, 'operator'],
      [admin, 'admin'],
    ] as const) {
      const cookie = await signIn(server.url, who.username, who.password);
      const me = await query('auth.me', { cookie });
      expect(me.body.result.data).toMatchObject({ name: who.username, role });
      // Only an admin reaches user management.
      const users = await query('users.list', { cookie });
      expect(users.status, role).toBe(role === 'admin' ? 200 : 403);
      const create = await mutate(
        'users.create',
        { username: `made-by-${who.username}`, role: 'admin', password: 'a-perfectly-fine-password' },
        { cookie },
      );
      expect(create.status, role).toBe(role === 'admin' ? 200 : 403);
      // Only an operator or more moves GPUs: cordoning is refused to a viewer.
      const gpu = await server.database.db.gpu.findFirstOrThrow({ orderBy: { uuid: 'desc' } });
      const cordon = await rest(`/gpus/${gpu.id}/cordon`, cookie, { cordoned: false, reason: 'test' });
      expect(cordon.status, role).toBe(role === 'viewer' ? 403 : 200);
    }
    const afterLogin = (await rest('/admin/users', adminCookie)).body.find(
      (u: { username: string }) => u.username === operator.username,
    );
    expect(afterLogin.lastLoginAt).not.toBeNull();
    expect(await auditCount('user.create', operator.id)).toBe(1);
  });

  it('refuses a viewer and an operator every user-management call with 403, and API tokens too', async () => {
    const operator = await newUser('operator');
    const cookie = await signIn(server.url, operator.username, operator.password);
    const target = await newUser('viewer');
    for (const [path, input] of [
      ['users.setRole', { id: target.id, role: 'admin' }],
      ['users.disable', { id: target.id }],
      ['users.enable', { id: target.id }],
      ['users.resetPassword', { id: target.id }],
    ] as const) {
      expect((await mutate(path, input, { cookie })).status, path).toBe(403);
    }
    expect((await rest('/admin/users', cookie)).status).toBe(403);
    // An admin's own API token cannot manage users either.
    const token = await tokenFor(adminCookie, 'admin-script');
    const byToken = await mutate('users.setRole', { id: target.id, role: 'admin' }, { token });
    expect(byToken.status).toBe(403);
    expect(byToken.body.error.message).toContain('API tokens');
    const stored = await server.database.db.user.findUniqueOrThrow({ where: { id: target.id } });
    expect(stored.role).toBe('viewer');
  });

  it('refuses a duplicate username and a malformed one, naming the field', async () => {
    const user = await newUser('viewer');
    const dup = await mutate(
      'users.create',
      { username: user.username.toUpperCase(), role: 'viewer', password: 'another-fine-password' },
      { cookie: adminCookie },
    );
    expect(dup.status).toBe(409);
    expect(dup.body.error.message).toMatch(/^username: /);
    const bad = await mutate(
      'users.create',
      { username: 'has space', role: 'viewer', password: 'another-fine-password' },
      { cookie: adminCookie },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^username: /);
  });
});

describe('taking access away applies at once', () => {
  it('disabling ends their session and stops their API token; sign-in is refused with a clear message', async () => {
    const operator = await newUser('operator');
    const cookie = await signIn(server.url, operator.username, operator.password);
    // API tokens are made by admins; this one belongs to the operator, as a handed-over script's would.
    const operatorToken = await createTokenOwnedBy(operator.id);
    expect((await query('fleet.nodes', { token: operatorToken })).status).toBe(200);

    const disabled = await rest(`/admin/users/${operator.id}/disable`, adminCookie, {});
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ disabled: true, activeSessions: 0 });

    expect((await query('auth.me', { cookie })).status).toBe(401);
    expect((await query('fleet.nodes', { token: operatorToken })).status).toBe(401);
    const login = await tryLogin(operator.username, operator.password);
    expect(login.status).toBe(403);
    expect(login.body.error.message).toContain('disabled');
    // A wrong password on a disabled account still says only "wrong".
    expect((await tryLogin(operator.username, 'not-the-password-at-all')).body.error.message).toBe(
      'Wrong username or password',
    );

    const enabled = await rest(`/admin/users/${operator.id}/enable`, adminCookie, {});
    expect(enabled.body.disabled).toBe(false);
    expect((await tryLogin(operator.username, operator.password)).status).toBe(200);
    expect((await query('fleet.nodes', { token: operatorToken })).status).toBe(200);
    expect(await auditCount('user.disable', operator.id)).toBe(1);
    expect(await auditCount('user.enable', operator.id)).toBe(1);
  });

  it('a role change applies to their existing session on the next request', async () => {
    const user = await newUser('viewer');
    const cookie = await signIn(server.url, user.username, user.password);
    expect((await query('users.list', { cookie })).status).toBe(403);
    const promoted = await mutate('users.setRole', { id: user.id, role: 'admin' }, { cookie: adminCookie });
    expect(promoted.status).toBe(200);
    expect((await query('users.list', { cookie })).status).toBe(200);
    expect((await query('auth.me', { cookie })).body.result.data.role).toBe('admin');
    const demoted = await rest(`/admin/users/${user.id}/role`, adminCookie, { role: 'viewer' });
    expect(demoted.status).toBe(200);
    expect((await query('users.list', { cookie })).status).toBe(403);
    const audit = await server.database.db.auditEvent.findMany({
      where: { action: 'user.role', targetId: user.id },
      orderBy: { id: 'asc' },
    });
    expect(audit.map((a) => a.details)).toEqual([
      expect.objectContaining({ from: 'viewer', to: 'admin' }),
      expect.objectContaining({ from: 'admin', to: 'viewer' }),
    ]);
  });
});

async function createTokenOwnedBy(userId: string): Promise<string> {
  const { createApiToken } = await import('../../server/auth/sessions');
  return (await createApiToken(server.database.db, { name: 'owned', scopes: ['read'], createdById: userId }))
    .token;
}

describe('passwords', () => {
  it('a person changes their own password: other sessions end, the current one stays', async () => {
    const user = await newUser('operator');
    const here = await signIn(server.url, user.username, user.password);
    const elsewhere = await signIn(server.url, user.username, user.password);

    const wrong = await mutate(
      'users.changePassword',
      { currentPassword: 'not-my-password', newPassword: 'a-brand-new-password' },
      { cookie: here },
    );
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.message).toMatch(/^currentPassword: /);

    const sessions = await query('users.sessions', { cookie: here });
    expect(sessions.body.result.data).toHaveLength(2);
    expect(sessions.body.result.data.filter((s: { current: boolean }) => s.current)).toHaveLength(1);

    const changed = await mutate(
      'users.changePassword',
      { currentPassword: user.password, newPassword: 'a-brand-new-password' },
      { cookie: here },
    );
    expect(changed.status).toBe(200);
    expect(changed.body.result.data.sessionsEnded).toBe(1);
    expect((await query('auth.me', { cookie: here })).status).toBe(200);
    expect((await query('auth.me', { cookie: elsewhere })).status).toBe(401);
    expect((await tryLogin(user.username, user.password)).status).toBe(401);
    expect((await tryLogin(user.username, 'a-brand-new-password')).status).toBe(200);
    expect(await auditCount('user.password.change', user.id)).toBe(1);
  });

  it('guessing the current password through the change form is throttled like sign-in', async () => {
    const user = await newUser('operator', 'guessed');
    const cookie = await signIn(server.url, user.username, user.password);
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await mutate(
        'users.changePassword',
        { currentPassword: `guess-number-${i}`, newPassword: 'a-brand-new-password' },
        { cookie },
      );
      statuses.push(res.status);
      if (res.status === 429)
        expect(res.body.error.message).toMatch(/Too many failed sign-ins for this account/);
    }
    // Five wrong guesses are answered; the next waits out the backoff.
    expect(statuses.slice(0, 5)).toEqual([400, 400, 400, 400, 400]);
    expect(statuses[5]).toBe(429);
    // The same account's sign-in shares the count.
    expect((await tryLogin(user.username, user.password)).status).toBe(429);
  });

  it('an SSO user has no password here: an admin cannot set one or send a link', async () => {
    const { userForIdentity } = await import('../../server/auth/oidc');
    const person = await userForIdentity(server.database.db, {
      issuer: 'https://sso.example.com',
      subject: 'subject-grace',
      username: 'grace-sso',
      groups: ['ml-ops'],
      role: 'operator',
      address: '127.0.0.1',
    });
    const listed = await query('users.list', { cookie: adminCookie });
    const row = listed.body.result.data.find((u: { username: string }) => u.username === 'grace-sso');
    expect(row).toMatchObject({ singleSignOn: true, hasPassword: false });
    for (const input of [{ id: person.id, password: 'a-password-for-sso' }, { id: person.id }]) {
      const res = await mutate('users.resetPassword', input, { cookie: adminCookie });
      expect(res.status).toBe(409);
      expect(res.body.error.message).toMatch(/grace-sso signs in through single sign-on/);
    }
    const stored = await server.database.db.user.findUniqueOrThrow({ where: { id: person.id } });
    expect(stored.passwordHash).toBeNull();
    expect(await server.database.db.passwordLink.count({ where: { userId: person.id } })).toBe(0);
  });

  it('refuses weak passwords everywhere, naming the field', async () => {
    const user = await newUser('viewer');
    const cookie = await signIn(server.url, user.username, user.password);
    const cases: [string, unknown, string, string][] = [
      ['users.create', { username: 'weakling', role: 'viewer', password: 'short' }, adminCookie, 'password'],
      [
        'users.create',
        { username: 'weakling', role: 'viewer', password: 'password1234' },
        adminCookie,
        'password',
      ],
      [
        'users.create',
        { username: 'weakling', role: 'viewer', password: 'aaaaaaaaaaaaaa' },
        adminCookie,
        'password',
      ],
      [
        'users.create',
        { username: 'weakling-name', role: 'viewer', password: 'Weakling-Name' },
        adminCookie,
        'password',
      ],
      ['users.resetPassword', { id: user.id, password: 'tooshort' }, adminCookie, 'password'],
      [
        'users.changePassword',
        { currentPassword: user.password, newPassword: 'qwerty123456' },
        cookie,
        'newPassword',
      ],
    ];
    for (const [path, input, who, field] of cases) {
      const res = await mutate(path, input, { cookie: who });
      expect(res.status, `${path} ${JSON.stringify(input)}`).toBe(400);
      expect(res.body.error.message).toMatch(new RegExp(`^${field}: `));
    }
    expect(await server.database.db.user.count({ where: { username: { startsWith: 'weakling' } } })).toBe(0);
  });

  it('an admin resets a password: the old one and their sessions stop working', async () => {
    const user = await newUser('operator');
    const cookie = await signIn(server.url, user.username, user.password);
    const reset = await rest(`/admin/users/${user.id}/reset-password`, adminCookie, {
      password: 'reset-by-the-admin',
    });
    expect(reset.status).toBe(200);
    expect(reset.body.passwordLink).toBeNull();
    expect((await query('auth.me', { cookie })).status).toBe(401);
    expect((await tryLogin(user.username, 'reset-by-the-admin')).status).toBe(200);
    expect(await auditCount('user.password.reset', user.id)).toBe(1);
  });

  it('a one-time link sets a password once, and is refused after', async () => {
    const created = await mutate(
      'users.create',
      { username: 'linda', role: 'operator' },
      { cookie: adminCookie },
    );
    expect(created.status).toBe(200);
    const { user, passwordLink } = created.body.result.data;
    expect(user.hasPassword).toBe(false);
    expect(passwordLink.path).toMatch(/^\/set-password\?token=pwl_/);
    const hours = (Date.parse(passwordLink.expiresAt) - Date.now()) / 3600_000;
    expect(hours).toBeGreaterThan(23.9);
    expect(hours).toBeLessThanOrEqual(24);
    // Only its hash is stored.
    const stored = await server.database.db.passwordLink.findFirstOrThrow({ where: { userId: user.id } });
    expect(JSON.stringify(stored)).not.toContain(passwordLink.token);
    // No password yet: signing in is refused.
    expect((await tryLogin('linda', 'anything-at-all-really')).status).toBe(401);

    const described = await query('users.passwordLink', {}, { token: passwordLink.token });
    expect(described.body.result.data.username).toBe('linda');
    const weak = await mutate('users.setPasswordWithLink', { token: passwordLink.token, password: 'linda' });
    expect(weak.status).toBe(400);
    expect(weak.body.error.message).toMatch(/^password: /);
    // The link survives a refused attempt, and its first use sets the password.
    const used = await mutate('users.setPasswordWithLink', {
      token: passwordLink.token,
      password: 'lindas-own-password',
    });
    expect(used.status).toBe(200);
    const again = await mutate('users.setPasswordWithLink', {
      token: passwordLink.token,
      password: 'someone-elses-password',
    });
    expect(again.status).toBe(404);
    expect(again.body.error.message).toContain('used');
    expect((await query('users.passwordLink', {}, { token: passwordLink.token })).status).toBe(404);
    expect((await tryLogin('linda', 'lindas-own-password')).status).toBe(200);
    expect((await tryLogin('linda', 'someone-elses-password')).status).toBe(401);
    expect(await auditCount('user.password.set', user.id)).toBe(1);

    // A reset by link clears the password and replaces any earlier link.
    const first = await mutate('users.resetPassword', { id: user.id }, { cookie: adminCookie });
    const second = await mutate('users.resetPassword', { id: user.id }, { cookie: adminCookie });
    expect((await tryLogin('linda', 'lindas-own-password')).status).toBe(401);
    const stale = await mutate('users.setPasswordWithLink', {
      token: first.body.result.data.passwordLink.token,
      password: 'lindas-newer-password',
    });
    expect(stale.status).toBe(404);
    const fresh = await mutate('users.setPasswordWithLink', {
      token: second.body.result.data.passwordLink.token,
      password: 'lindas-newer-password',
    });
    expect(fresh.status).toBe(200);
  });

  it('an expired link is refused', async () => {
    const created = await mutate(
      'users.create',
      { username: 'late', role: 'viewer' },
      { cookie: adminCookie },
    );
    const { user, passwordLink } = created.body.result.data;
    await server.database.db.passwordLink.updateMany({
      where: { userId: user.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const res = await mutate('users.setPasswordWithLink', {
      token: passwordLink.token,
      password: 'too-late-for-this',
    });
    expect(res.status).toBe(404);
    expect(res.body.error.message).toContain('expired');
  });
});

describe('sessions', () => {
  it('a person sees their sessions and ends one, or all the others', async () => {
    const user = await newUser('viewer');
    const a = await signIn(server.url, user.username, user.password);
    const b = await signIn(server.url, user.username, user.password);
    const c = await signIn(server.url, user.username, user.password);
    const list = (await query('users.sessions', { cookie: a })).body.result.data as {
      id: string;
      current: boolean;
      address: string | null;
      lastUsedAt: string | null;
    }[];
    expect(list).toHaveLength(3);
    expect(list[0]!.address).toBe('127.0.0.1');
    const others = list.filter((s) => !s.current);
    const ended = await mutate('users.endSession', { id: others[0]!.id }, { cookie: a });
    expect(ended.status).toBe(200);
    expect(ended.body.result.data.signedOut).toBe(false);
    const statuses = await Promise.all(
      [b, c].map(async (cookie) => (await query('auth.me', { cookie })).status),
    );
    expect(statuses.sort()).toEqual([200, 401]);
    // Someone else's session is not theirs to end.
    const adminSession = await server.database.db.session.findFirstOrThrow({
      where: { user: { username: 'admin' } },
    });
    expect((await mutate('users.endSession', { id: adminSession.id }, { cookie: a })).status).toBe(404);

    const rest = await mutate('users.endOtherSessions', {}, { cookie: a });
    expect(rest.body.result.data.ended).toBe(1);
    expect((await query('auth.me', { cookie: a })).status).toBe(200);
    expect((await query('auth.me', { cookie: b })).status).toBe(401);
    expect((await query('auth.me', { cookie: c })).status).toBe(401);
    expect(await auditCount('session.end')).toBeGreaterThanOrEqual(2);
  });
});

describe('the last admin', () => {
  it('cannot be demoted or disabled, even by two concurrent attempts', async () => {
    const { db } = server.database;
    const admin = await db.user.findUniqueOrThrow({ where: { username: 'admin' } });
    const enabledAdmins = () => db.user.count({ where: { role: 'admin', disabledAt: null } });
    for (const other of await db.user.findMany({ where: { role: 'admin', id: { not: admin.id } } })) {
      expect(
        (await mutate('users.setRole', { id: other.id, role: 'viewer' }, { cookie: adminCookie })).status,
      ).toBe(200);
    }
    expect(await enabledAdmins()).toBe(1);

    const demote = await mutate('users.setRole', { id: admin.id, role: 'viewer' }, { cookie: adminCookie });
    expect(demote.status).toBe(409);
    expect(demote.body.error.message).toContain('last enabled admin');
    const partner = await newUser('operator', 'partner');
    const partnerCookie = await signIn(server.url, partner.username, partner.password);
    // Another admin may not disable the last one either (the admin may not disable themselves at all).
    const disable = await mutate('users.disable', { id: admin.id }, { cookie: adminCookie });
    expect(disable.status).toBe(409);

    // Two admins demote each other at the same moment, again and again: one may pass, never both.
    for (let round = 0; round < 6; round++) {
      expect(
        (await mutate('users.setRole', { id: partner.id, role: 'admin' }, { cookie: adminCookie })).status,
      ).toBe(200);
      const [first, second] = await Promise.all([
        mutate('users.setRole', { id: partner.id, role: 'viewer' }, { cookie: adminCookie }),
        round % 2 === 0
          ? mutate('users.setRole', { id: admin.id, role: 'operator' }, { cookie: partnerCookie })
          : mutate('users.disable', { id: admin.id }, { cookie: partnerCookie }),
      ]);
      const statuses = [first.status, second.status].sort();
      // The loser is refused as the last admin (409), or no longer an admin when it is checked (403/401).
      expect(statuses[0], `round ${round}`).toBe(200);
      expect([401, 403, 409], `round ${round}`).toContain(statuses[1]);
      expect(await enabledAdmins(), `round ${round}`).toBe(1);
      if (second.status === 200) {
        // The partner won: it restores the admin for the next round.
        await mutate('users.enable', { id: admin.id }, { cookie: partnerCookie });
        await mutate('users.setRole', { id: admin.id, role: 'admin' }, { cookie: partnerCookie });
        adminCookie = await signIn(server.url);
        await mutate('users.setRole', { id: partner.id, role: 'viewer' }, { cookie: adminCookie });
      }
    }
    expect(await enabledAdmins()).toBe(1);
  });
});

describe('sign-ins are audited', () => {
  it('writes auth.login and auth.login.failed with the name tried, never the password', async () => {
    const before = await auditCount('auth.login.failed');
    await tryLogin('admin', 'definitely-wrong-password');
    await tryLogin('no-such-person', 'definitely-wrong-password');
    expect(await auditCount('auth.login.failed')).toBe(before + 2);
    const failed = await server.database.db.auditEvent.findFirstOrThrow({
      where: { action: 'auth.login.failed' },
      orderBy: { id: 'desc' },
    });
    expect(failed).toMatchObject({ outcome: 'refused', reason: 'unknown user' });
    expect(failed.details).toMatchObject({ username: 'no-such-person', address: '127.0.0.1' });
    expect(JSON.stringify({ ...failed, id: String(failed.id) })).not.toContain('definitely-wrong-password');
    const ok = await auditCount('auth.login');
    await signIn(server.url, 'admin', ADMIN_PASSWORD);
    expect(await auditCount('auth.login')).toBe(ok + 1);
  });
});
