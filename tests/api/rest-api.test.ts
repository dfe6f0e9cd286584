import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../server/auth/sessions';
import type { ApiScope } from '../../server/generated/prisma/client';
import { signIn, startTestServer, type TestServer } from '../support/server';

let server: TestServer;
let readToken: string;
let allocateToken: string;
let adminCookie: string;

async function tokenWith(scopes: ApiScope[], name = scopes.join('+')): Promise<string> {
  const admin = await server.database.db.user.findUniqueOrThrow({ where: { username: 'admin' } });
  return (await createApiToken(server.database.db, { name, scopes, createdById: admin.id })).token;
}

beforeAll(async () => {
  server = await startTestServer();
  readToken = await tokenWith(['read']);
  allocateToken = await tokenWith(['read', 'allocate']);
  adminCookie = await signIn(server.url);
});
afterAll(async () => {
  await server?.close();
});

function rest(
  path: string,
  init: { token?: string; cookie?: string; method?: string; body?: unknown; contentType?: string } = {},
) {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.cookie) headers.cookie = init.cookie;
  if (init.cookie) headers.origin = server.url;
  if (init.body !== undefined) headers['content-type'] = init.contentType ?? 'application/json';
  return fetch(`${server.url}/api/v1${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

async function someGpu() {
  return server.database.db.gpu.findFirstOrThrow({ orderBy: { uuid: 'asc' } });
}

describe('reading the fleet with an API token', () => {
  it('lists every GPU with its owner and node', async () => {
    const res = await rest('/gpus', { token: readToken });
    expect(res.status).toBe(200);
    const gpus = await res.json();
    expect(gpus).toHaveLength(await server.database.db.gpu.count());
    const owned = gpus.find((g: { owner: unknown }) => g.owner !== null);
    expect(owned).toMatchObject({
      hostname: expect.any(String),
      clusterName: expect.any(String),
      health: 'ok',
      owner: { kind: expect.stringMatching(/^(deployment|job)$/), name: expect.any(String) },
    });
  });

  it('reads one GPU by id, and answers 404 naming an unknown one', async () => {
    const gpu = await someGpu();
    const one = await rest(`/gpus/${gpu.id}`, { token: readToken });
    expect(one.status).toBe(200);
    expect((await one.json()).uuid).toBe(gpu.uuid);

    const missing = await rest('/gpus/no-such-gpu', { token: readToken });
    expect(missing.status).toBe(404);
    const body = await missing.json();
    expect(body.code).toBe('NOT_FOUND');
    expect(body.message).toContain('no-such-gpu');
  });

  it('lists deployments with their versions, and reads latency history with a query parameter', async () => {
    const res = await rest('/deployments', { token: readToken });
    expect(res.status).toBe(200);
    const deployments = await res.json();
    expect(deployments.length).toBe(await server.database.db.deployment.count());
    expect(deployments[0]).toMatchObject({ name: expect.any(String), version: expect.any(Number) });

    const history = await rest(`/deployments/${deployments[0].id}/latency?window=1h`, { token: readToken });
    expect(history.status).toBe(200);
    expect(await history.json()).toMatchObject({ window: '1h', points: [] });
  });

  it('takes a console session cookie as well', async () => {
    const res = await rest('/nodes', { cookie: adminCookie });
    expect(res.status).toBe(200);
    expect((await res.json()).length).toBe(await server.database.db.node.count());
  });
});

describe('authentication and scopes', () => {
  it('answers 401 without a token and with an unknown one', async () => {
    for (const token of [undefined, 'syt_not-a-real-token']) {
      const res = await rest('/gpus', { token });
      expect(res.status, String(token)).toBe(401);
      expect((await res.json()).code).toBe('UNAUTHORIZED');
    }
  });

  it('answers 403 naming the missing scope to a read-only token that tries to cordon', async () => {
    const gpu = await someGpu();
    const res = await rest(`/gpus/${gpu.id}/cordon`, {
      token: readToken,
      body: { cordoned: true, reason: 'ECC errors' },
    });
    expect(res.status).toBe(403);
    expect((await res.json()).message).toContain('"allocate" scope');
    expect((await server.database.db.gpu.findUniqueOrThrow({ where: { id: gpu.id } })).cordoned).toBe(false);
  });

  it('keeps token management to signed-in admins', async () => {
    const res = await rest('/admin/tokens', { token: allocateToken });
    expect(res.status).toBe(403);
    expect((await res.json()).message).toContain('not available to API tokens');
  });
});

describe('changing the fleet', () => {
  it('cordons a GPU with an allocate token and audits it under the token', async () => {
    const gpu = await someGpu();
    const res = await rest(`/gpus/${gpu.id}/cordon`, {
      token: allocateToken,
      body: { cordoned: true, reason: 'ECC errors, RMA pending' },
      contentType: 'application/json; charset=utf-8',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: gpu.id, cordoned: true });
    const audit = await server.database.db.auditEvent.findFirstOrThrow({
      where: { action: 'gpu.cordon', targetId: gpu.id },
    });
    expect(audit).toMatchObject({ actorType: 'token', reason: 'ECC errors, RMA pending' });

    const back = await rest(`/gpus/${gpu.id}/cordon`, {
      token: allocateToken,
      body: { cordoned: false, reason: 'repaired' },
    });
    expect(back.status).toBe(200);
    expect((await back.json()).cordoned).toBe(false);
  });
});

describe('bad input', () => {
  it('answers 400 with a message naming each bad field', async () => {
    const gpu = await someGpu();
    const res = await rest(`/gpus/${gpu.id}/cordon`, { token: allocateToken, body: { cordoned: true } });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.code).toBe('BAD_REQUEST');
    expect(body.message).toMatch(/^reason: /);
    expect(body.data.zodError.fieldErrors.reason).toBeDefined();

    const window = await rest(`/deployments/x/latency?window=2h`, { token: readToken });
    expect(window.status).toBe(400);
    expect((await window.json()).message).toMatch(/^window: /);
  });

  it('does not read a quoted "false" in a JSON body as true', async () => {
    const gpu = await someGpu();
    const res = await rest(`/gpus/${gpu.id}/cordon`, {
      token: allocateToken,
      body: { cordoned: 'false', reason: 'scripted' },
    });
    expect(res.status).toBe(400);
    expect((await res.json()).message).toMatch(/^cordoned: /);
    expect((await server.database.db.gpu.findUniqueOrThrow({ where: { id: gpu.id } })).cordoned).toBe(false);
  });

  it('answers 400 for a body that is not JSON, and 404 for an unknown path', async () => {
    const gpu = await someGpu();
    const res = await fetch(`${server.url}/api/v1/gpus/${gpu.id}/cordon`, {
      method: 'POST',
      headers: { authorization: `Bearer ${allocateToken}`, 'content-type': 'application/json' },
      body: '{"cordoned": tru',
    });
    expect(res.status).toBe(400);
    expect((await rest('/no/such/path', { token: readToken })).status).toBe(404);
  });
});

describe('allocation changes over REST', () => {
  type Board = {
    deployments: { id: string; name: string; version: number }[];
    gpus: { id: string; label: string; deploymentId: string | null }[];
  };

  async function embedSmallGpu() {
    const res = await rest('/allocation/board', { token: readToken });
    expect(res.status).toBe(200);
    const board: Board = await res.json();
    const deployment = board.deployments.find((d) => d.name === 'embed-small')!;
    const gpu = board.gpus.find((g) => g.deploymentId === deployment.id)!;
    return { deployment, gpu };
  }

  it('answers 409 to stale versions, with the current ones in data.details.current', async () => {
    const { deployment, gpu } = await embedSmallGpu();
    const res = await rest('/allocation/changes', {
      token: allocateToken,
      body: {
        moves: [{ gpuId: gpu.id, to: null }],
        baseVersions: { [deployment.id]: deployment.version + 7 },
        reason: 'release one GPU',
      },
    });
    expect(res.status).toBe(409);
    const body = await res.json();
    expect(body.code).toBe('CONFLICT');
    expect(body.message).toContain(`embed-small is at version ${deployment.version}`);
    expect(body.data.details.current).toEqual({ [deployment.id]: deployment.version });
  });

  it('predicts a change on a dry run, and refuses a dryRun flag that is not a boolean', async () => {
    const { deployment, gpu } = await embedSmallGpu();
    const change = {
      moves: [{ gpuId: gpu.id, to: null }],
      baseVersions: { [deployment.id]: deployment.version },
      reason: 'release one GPU',
    };
    const dry = await rest('/allocation/changes', {
      token: allocateToken,
      body: { ...change, dryRun: true },
    });
    expect(dry.status).toBe(200);
    expect(await dry.json()).toMatchObject({
      dryRun: true,
      moves: [{ gpuId: gpu.id, from: { deploymentId: deployment.id }, to: null }],
    });

    const loose = await rest('/allocation/changes', {
      token: allocateToken,
      body: { ...change, dryRun: 'false' },
    });
    expect(loose.status).toBe(400);
    expect((await loose.json()).message).toMatch(/^dryRun: /);
    expect(await server.database.db.allocationChange.count()).toBe(0);
  });

  it('refuses a change to a read-only token with 403', async () => {
    const { deployment, gpu } = await embedSmallGpu();
    const res = await rest('/allocation/changes', {
      token: readToken,
      body: {
        moves: [{ gpuId: gpu.id, to: null }],
        baseVersions: { [deployment.id]: deployment.version },
        reason: 'x',
      },
    });
    expect(res.status).toBe(403);
  });

  it('proposes a plan against the current versions', async () => {
    const res = await rest('/allocation/plan', { token: readToken });
    expect(res.status).toBe(200);
    const plan = await res.json();
    expect(plan).toMatchObject({ steps: expect.any(Array), effects: expect.any(Array) });
    const versions = Object.fromEntries(
      (await server.database.db.deployment.findMany()).map((d) => [d.id, d.version]),
    );
    for (const [id, version] of Object.entries(plan.baseVersions)) {
      if (id in versions) expect(version).toBe(versions[id]);
    }
  });

  it('switches automatic rebalancing with PUT, refusing a quoted boolean', async () => {
    expect(await (await rest('/allocation/auto', { token: readToken })).json()).toMatchObject({
      enabled: false,
    });
    const quoted = await rest('/allocation/auto', {
      token: allocateToken,
      method: 'PUT',
      body: { enabled: 'true' },
    });
    expect(quoted.status).toBe(400);
    expect((await quoted.json()).message).toMatch(/^enabled: /);
    const on = await rest('/allocation/auto', {
      token: allocateToken,
      method: 'PUT',
      body: { enabled: true },
    });
    expect(on.status).toBe(200);
    expect((await on.json()).enabled).toBe(true);
    const off = await rest('/allocation/auto', {
      token: allocateToken,
      method: 'PUT',
      body: { enabled: false },
    });
    expect((await off.json()).enabled).toBe(false);
  });

  it('pages through changes with a query parameter and names a bad one', async () => {
    const ok = await rest('/allocation/changes?limit=5', { token: readToken });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ items: [], nextBefore: null });
    const bad = await rest('/allocation/changes?limit=1000', { token: readToken });
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toMatch(/^limit: /);
  });
});

describe('API tokens over REST', () => {
  it('lists tokens without their secrets and revokes one, after which it is refused', async () => {
    const doomed = await tokenWith(['read'], 'doomed');
    expect((await rest('/gpus', { token: doomed })).status).toBe(200);

    const list = await rest('/admin/tokens', { cookie: adminCookie });
    expect(list.status).toBe(200);
    const tokens = await list.json();
    const row = tokens.find((t: { name: string }) => t.name === 'doomed');
    expect(row).toMatchObject({ scopes: ['read'], createdBy: 'admin', revokedAt: null });
    expect(doomed.startsWith(row.prefix)).toBe(true);
    expect(JSON.stringify(tokens)).not.toContain(doomed);

    const revoke = await rest(`/admin/tokens/${row.id}/revoke`, { cookie: adminCookie, body: {} });
    expect(revoke.status).toBe(200);
    expect((await revoke.json()).revokedAt).toEqual(expect.any(String));
    expect((await rest('/gpus', { token: doomed })).status).toBe(401);
    const audit = await server.database.db.auditEvent.findMany({
      where: { action: 'apiToken.revoke', targetId: row.id },
    });
    expect(audit).toHaveLength(1);

    // Revoking again changes nothing and is not audited twice.
    expect((await rest(`/admin/tokens/${row.id}/revoke`, { cookie: adminCookie, body: {} })).status).toBe(
      200,
    );
    expect(
      await server.database.db.auditEvent.count({ where: { action: 'apiToken.revoke', targetId: row.id } }),
    ).toBe(1);
    const unknown = await rest('/admin/tokens/nope/revoke', { cookie: adminCookie, body: {} });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).message).toMatch(/^id: /);
  });
});

describe('the OpenAPI document', () => {
  type Operation = {
    operationId: string;
    parameters?: { name: string; in: string }[];
    responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
    'x-switchyard-access': { role: string | null; tokenScope: string | null };
  };

  it('is served without a token and describes every REST path', async () => {
    const res = await fetch(`${server.url}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info).toMatchObject({ title: 'Switchyard', version: expect.any(String) });
    expect(doc.servers).toEqual([{ url: '/api/v1' }]);
    expect(doc.components.securitySchemes.bearerAuth).toEqual(
      expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    );
    for (const path of [
      '/gpus',
      '/gpus/{id}',
      '/nodes',
      '/deployments',
      '/deployments/{id}',
      '/deployments/{deploymentId}/latency',
      '/gpus/{gpuId}/cordon',
      '/nodes/{nodeId}/cordon',
      '/admin/tokens',
      '/admin/tokens/{id}/revoke',
      '/allocation/board',
      '/allocation/changes',
      '/allocation/changes/{id}',
      '/allocation/plan',
      '/allocation/auto',
      '/stress/runs',
      '/stress/runs/{id}',
      '/stress/runs/{id}/abort',
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(doc.paths['/gpus/{gpuId}/cordon'].post['x-switchyard-access']).toEqual({
      role: 'operator',
      tokenScope: 'allocate',
    });
    expect(doc.paths['/admin/tokens'].get['x-switchyard-access']).toEqual({
      role: 'admin',
      tokenScope: null,
    });
  });

  it('is well formed: unique operation ids, declared path parameters, resolvable references', async () => {
    const doc = await (await fetch(`${server.url}/api/v1/openapi.json`)).json();
    const ids = new Set<string>();
    for (const [path, methods] of Object.entries<Record<string, Operation>>(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(['get', 'post', 'put', 'patch', 'delete'], where).toContain(method);
        expect(ids.has(op.operationId), where).toBe(false);
        ids.add(op.operationId);
        const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        const inPath = [...path.matchAll(/\{(.+?)\}/g)].map((m) => m[1]);
        expect(declared.sort(), where).toEqual(inPath.sort());
        expect(op.responses['200']?.content?.['application/json']?.schema, where).toBeDefined();
        expect(op['x-switchyard-access'], where).toBeDefined();
      }
    }
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map(
      (m) => m[1]!,
    );
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(doc.components.schemas[ref], ref).toBeDefined();
  });
});
