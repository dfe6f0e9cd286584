import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../server/auth/passwords';
import { createApiToken } from '../../server/auth/sessions';
import { signIn, startTestServer, type TestServer } from '../support/server';

let server: TestServer;
let adminCookie: string;
let operatorCookie: string;
let readToken: string;

beforeAll(async () => {
  server = await startTestServer();
  const { db } = server.database;
  await db.user.create({
    data: { username: 'otto', role: 'operator', passwordHash: await hashPassword('operator-password') },
  });
  adminCookie = await signIn(server.url);
  operatorCookie = await signIn(server.url, 'otto', 'operator-password');
  const admin = await db.user.findUniqueOrThrow({ where: { username: 'admin' } });
  readToken = (await createApiToken(db, { name: 'reader', scopes: ['read'], createdById: admin.id })).token;
});
afterAll(async () => {
  await server?.close();
});

function rest(path: string, init: { body?: unknown; cookie?: string | null; token?: string } = {}) {
  const headers: Record<string, string> = {};
  const cookie = init.cookie === undefined ? adminCookie : init.cookie;
  if (cookie) {
    headers.cookie = cookie;
    headers.origin = server.url;
  }
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${server.url}/api/v1${path}`, {
    method: init.body === undefined ? 'GET' : 'POST',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

async function json<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

type Cluster = { id: string; name: string; region: string | null; nodes: number };
type EnrollmentToken = {
  id: string;
  description: string;
  clusterName: string;
  uses: number;
  maxUses: number;
  state: string;
  revokedAt: string | null;
  replacesNode: { hostname: string } | null;
  enrolled: { nodeId: string; hostname: string; present: boolean }[];
};

function enroll(hostname: string, enrollmentToken: string): Promise<Response> {
  return fetch(`${server.url}/api/agent/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ enrollmentToken, hostname, agentVersion: 'test/1' }),
  });
}

describe('clusters', () => {
  it('lists clusters with their node counts', async () => {
    const clusters = await json<Cluster[]>(await rest('/clusters'));
    const usEast = clusters.find((c) => c.name === 'us-east-1')!;
    expect(usEast.region).toBe('us-east');
    const cluster = await server.database.db.cluster.findUniqueOrThrow({ where: { name: 'us-east-1' } });
    expect(usEast.nodes).toBe(await server.database.db.node.count({ where: { clusterId: cluster.id } }));
  });

  it('creates a cluster (audited), and refuses a duplicate name', async () => {
    const created = await json<Cluster>(
      await rest('/clusters', { body: { name: 'lab-1', region: 'basement' } }),
    );
    expect(created).toMatchObject({ name: 'lab-1', region: 'basement', nodes: 0 });
    const audit = await server.database.db.auditEvent.findFirstOrThrow({
      where: { action: 'cluster.create' },
    });
    expect(audit).toMatchObject({ actorName: 'admin', targetId: created.id });
    expect((await rest('/clusters', { body: { name: 'lab-1' } })).status).toBe(409);
    expect((await rest('/clusters', { body: { name: 'bad name!' } })).status).toBe(400);
  });
});

describe('enrollment tokens', () => {
  it('creates one, enrolls a node with it, and lists the node under the token', async () => {
    const created = await json<{ id: string; token: string; clusterName: string }>(
      await rest('/enrollment-tokens', {
        body: { cluster: 'lab-1', description: 'rack 7', maxUses: 2, expiresInHours: 2 },
      }),
    );
    expect(created.token).toMatch(/^enr_/);
    expect(created.clusterName).toBe('lab-1');

    const res = await enroll('lab-gpu-01', created.token);
    expect(res.status).toBe(201);
    const { nodeId } = (await res.json()) as { nodeId: string };

    const tokens = await json<EnrollmentToken[]>(await rest('/enrollment-tokens'));
    const mine = tokens.find((t) => t.id === created.id)!;
    expect(mine).toMatchObject({
      description: 'rack 7',
      clusterName: 'lab-1',
      uses: 1,
      maxUses: 2,
      state: 'active',
    });
    expect(mine.enrolled).toEqual([
      expect.objectContaining({ nodeId, hostname: 'lab-gpu-01', present: true }),
    ]);
    // Never the secret, not even its hash.
    expect(JSON.stringify(tokens)).not.toContain(created.token);
    expect(JSON.stringify(tokens)).not.toMatch(/tokenHash/);

    const clusters = await json<Cluster[]>(await rest('/clusters'));
    expect(clusters.find((c) => c.name === 'lab-1')!.nodes).toBe(1);

    const audit = await server.database.db.auditEvent.findFirstOrThrow({
      where: { action: 'enrollmentToken.create', targetId: created.id },
    });
    expect(audit.actorName).toBe('admin');
  });

  it('revokes one (audited): enrolling with it is refused afterwards', async () => {
    const created = await json<{ id: string; token: string }>(
      await rest('/enrollment-tokens', { body: { cluster: 'lab-1', maxUses: 5 } }),
    );
    const revoked = await json<{ revokedAt: string }>(
      await rest(`/enrollment-tokens/${created.id}/revoke`, { body: {} }),
    );
    expect(revoked.revokedAt).toEqual(expect.any(String));
    expect((await enroll('lab-gpu-02', created.token)).status).toBe(401);
    const tokens = await json<EnrollmentToken[]>(await rest('/enrollment-tokens'));
    expect(tokens.find((t) => t.id === created.id)!.state).toBe('revoked');
    expect(
      await server.database.db.auditEvent.count({
        where: { action: 'enrollmentToken.revoke', targetId: created.id },
      }),
    ).toBe(1);
    expect((await rest('/enrollment-tokens/no-such-token/revoke', { body: {} })).status).toBe(404);
  });

  it('lists replacement tokens with the node they replace', async () => {
    const node = await server.database.db.node.findFirstOrThrow({ where: { hostname: 'lab-gpu-01' } });
    await json(await rest(`/admin/nodes/${node.id}/replacement-token`, { body: {} }));
    const tokens = await json<EnrollmentToken[]>(await rest('/enrollment-tokens'));
    expect(tokens.some((t) => t.replacesNode?.hostname === 'lab-gpu-01' && t.maxUses === 1)).toBe(true);
  });

  it('is for admins only: operators and API tokens are refused', async () => {
    for (const auth of [{ cookie: operatorCookie }, { cookie: null, token: readToken }]) {
      expect((await rest('/clusters', auth)).status).toBe(403);
      expect((await rest('/clusters', { ...auth, body: { name: 'nope' } })).status).toBe(403);
      expect((await rest('/enrollment-tokens', auth)).status).toBe(403);
      expect((await rest('/enrollment-tokens', { ...auth, body: { cluster: 'lab-1' } })).status).toBe(403);
    }
    expect((await rest('/clusters', { cookie: null })).status).toBe(401);
    expect(await server.database.db.cluster.count({ where: { name: 'nope' } })).toBe(0);
  });
});
