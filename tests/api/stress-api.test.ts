import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_NODES } from '../../lib/demo-fleet';
import { judgeThreshold, parseThreshold } from '../../lib/stress/thresholds';
import { hashPassword } from '../../server/auth/passwords';
import { createApiToken } from '../../server/auth/sessions';
import { signIn, startTestServer, type TestServer } from '../support/server';
import { nodesServing, StressTestAgent } from '../support/stress-agent';

/**
 * The stress API's guard rails, over HTTP like any client: bad definitions are refused
 * naming the field, only operators (or tokens with the `stress` scope) start runs, and a
 * high-priority deployment is loaded only when its name is typed to confirm.
 */

let server: TestServer;
let admin: string;
let viewer: string;
let deployments: Record<string, string>;

beforeAll(async () => {
  server = await startTestServer();
  admin = await signIn(server.url);
  await server.database.db.user.create({
    data: { username: 'vera', role: 'viewer', passwordHash: await hashPassword('viewer-password') },
  });
  viewer = await signIn(server.url, 'vera', 'viewer-password');
  const rows = await server.database.db.deployment.findMany();
  deployments = Object.fromEntries(rows.map((d) => [d.name, d.id]));
});
afterAll(async () => {
  await server?.close();
});

type Reply = { status: number; message: string; field?: string; data?: unknown };

async function call(
  path: string,
  input: unknown,
  auth: { cookie?: string; token?: string } = { cookie: admin },
  method: 'GET' | 'POST' = 'POST',
): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (auth.cookie) headers.cookie = auth.cookie;
  if (auth.cookie) headers.origin = server.url;
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  const res =
    method === 'POST'
      ? await fetch(`${server.url}/api/trpc/${path}`, { method, headers, body: JSON.stringify(input) })
      : await fetch(`${server.url}/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`, {
          headers,
        });
  const body = (await res.json()) as {
    result?: { data: unknown };
    error?: { message: string; data?: { details?: { field?: string } | null } };
  };
  return {
    status: res.status,
    message: body.error?.message ?? '',
    field: body.error?.data?.details?.field,
    data: body.result?.data,
  };
}

const run = (overrides: Record<string, unknown> = {}) => ({
  deploymentId: deployments['code-34b'],
  load: { kind: 'open', arrival: 'constant', stages: [{ durationS: 10, fromRps: 10, toRps: 10 }] },
  warmupS: 2,
  thresholds: ['p95 < 250ms', 'errors < 1%'],
  ...overrides,
});

describe('threshold parser', () => {
  it('reads percentiles, max, errors and late with their units', () => {
    expect(parseThreshold(' p95 < 250ms ')).toEqual({
      ok: true,
      threshold: { text: 'p95 < 250ms', metric: 'p95', op: '<', value: 250, unit: 'ms' },
    });
    expect(parseThreshold('p99.9<=1.5s')).toMatchObject({
      ok: true,
      threshold: { metric: 'p99.9', op: '<=', value: 1500 },
    });
    expect(parseThreshold('MAX < 2 s')).toMatchObject({
      ok: true,
      threshold: { metric: 'max', value: 2000 },
    });
    expect(parseThreshold('errors < 1%')).toMatchObject({
      ok: true,
      threshold: { metric: 'errors', unit: '%', value: 1 },
    });
    expect(parseThreshold('late <= 0.5 %')).toMatchObject({
      ok: true,
      threshold: { metric: 'late', value: 0.5 },
    });
  });

  it('says what is wrong with a bad threshold', () => {
    expect(parseThreshold('p95 < 250')).toEqual({ ok: false, error: '"p95 < 250": add a unit: ms or s' });
    expect(parseThreshold('p95 = 250ms')).toMatchObject({
      error: '"p95 = 250ms": "=" is not supported; use < or <=',
    });
    expect(parseThreshold('p95 250ms')).toMatchObject({
      error: '"p95 250ms": missing comparison; use < or <=',
    });
    expect(parseThreshold('errors < 120%')).toMatchObject({
      error: '"errors < 120%": a share cannot exceed 100%',
    });
    expect(parseThreshold('late < fast')).toMatchObject({ ok: false });
    expect(parseThreshold('')).toMatchObject({ ok: false });
  });

  it('judges a threshold strictly or not, and not at all without data', () => {
    const figures = { p50: 1, p90: 1, p95: 250, p99: 1, 'p99.9': 1, max: 1, errorsPct: null, latePct: 0 };
    const strict = parseThreshold('p95 < 250ms');
    const loose = parseThreshold('p95 <= 250ms');
    const errors = parseThreshold('errors < 1%');
    if (!strict.ok || !loose.ok || !errors.ok) throw new Error('unparsed');
    expect(judgeThreshold(strict.threshold, figures)).toMatchObject({ pass: false, measured: 250 });
    expect(judgeThreshold(loose.threshold, figures)).toMatchObject({ pass: true, measured: 250 });
    expect(judgeThreshold(errors.threshold, figures)).toMatchObject({ pass: null, measured: null });
  });
});

describe('definitions', () => {
  it('refuses bad definitions, naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ thresholds: ['p95 < 250ms', 'p95 < 25xs'] }, 'thresholds.1: "p95 < 25xs": unknown unit "xs"'],
      [{ thresholds: ['p97 < 1s'] }, 'thresholds.0: "p97 < 1s": unknown metric "p97"'],
      [{ thresholds: ['errors < 1ms'] }, 'thresholds.0: "errors < 1ms": errors is a share of requests'],
      [{ thresholds: ['p99 > 1s'] }, 'thresholds.0: "p99 > 1s": ">" is not supported'],
      [{ warmupS: 10 }, 'warmupS: warm-up must be shorter than the run (10 s)'],
      [
        { load: { kind: 'open', arrival: 'constant', stages: [{ durationS: 5, fromRps: 1, toRps: -3 }] } },
        'load.stages.0.toRps',
      ],
      [{ load: { kind: 'open', arrival: 'bursty', stages: [] } }, 'load.arrival'],
      [{ load: { kind: 'closed', concurrency: 0, durationS: 5 } }, 'load.concurrency'],
      [{ request: { path: 'v1/completions' } }, 'request.path'],
      [{ graceS: -1 }, 'graceS'],
    ];
    for (const [overrides, expected] of cases) {
      const reply = await call('stress.start', run(overrides));
      expect(reply.status, JSON.stringify(overrides)).toBe(400);
      expect(reply.message).toContain(expected);
    }
    expect(await server.database.db.stressRun.count()).toBe(0);
  });

  it('refuses a rate above STRESS_MAX_RPS, naming the stage', async () => {
    const reply = await call(
      'stress.start',
      run({
        load: {
          kind: 'open',
          arrival: 'poisson',
          stages: [
            { durationS: 5, fromRps: 10, toRps: 100 },
            { durationS: 5, fromRps: 100, toRps: 9000 },
          ],
        },
      }),
    );
    expect(reply.status).toBe(400);
    expect(reply.field).toBe('load.stages.1.toRps');
    expect(reply.message).toContain("9000 req/s is over this server's limit of 5000 req/s (STRESS_MAX_RPS)");
    const search = await call('stress.startCapacitySearch', {
      deploymentId: deployments['code-34b'],
      startRps: 10,
      maxRps: 6000,
    });
    expect(search.status).toBe(400);
    expect(search.field).toBe('maxRps');
  });

  it('refuses an unknown deployment and one no agent serves', async () => {
    const unknown = await call('stress.start', run({ deploymentId: 'no-such-deployment' }));
    expect(unknown.status).toBe(404);
    expect(unknown.message).toContain('deploymentId: no deployment with id no-such-deployment');
    const unserved = await call('stress.start', run({ deploymentId: deployments['rerank-base'] }));
    expect(unserved.status).toBe(409);
    expect(unserved.message).toContain('deploymentId: no connected agent serves rerank-base');
  });

  it('loads a high-priority deployment only when its name is typed to confirm', async () => {
    const target = run({ deploymentId: deployments['chat-70b'] });
    const missing = await call('stress.start', target);
    expect(missing.status).toBe(400);
    expect(missing.field).toBe('confirm');
    expect(missing.message).toContain('confirm: chat-70b has priority 100; type its name to load it');
    expect((await call('stress.start', { ...target, confirm: 'chat-7b' })).field).toBe('confirm');
    // Confirmed, it goes on to the next check (no agent serves it in this test).
    const confirmed = await call('stress.start', { ...target, confirm: 'chat-70b' });
    expect(confirmed.status).toBe(409);
    expect(confirmed.field).toBe('deploymentId');
  });
});

describe('who may start and stop runs', () => {
  it('refuses viewers, and tokens without the stress scope', async () => {
    const asViewer = await call('stress.start', run(), { cookie: viewer });
    expect(asViewer.status).toBe(403);
    expect(asViewer.message).toContain('operator');
    // A viewer still reads the history.
    expect((await call('stress.list', { limit: 10 }, { cookie: viewer }, 'GET')).status).toBe(200);

    const adminUser = await server.database.db.user.findUniqueOrThrow({ where: { username: 'admin' } });
    const readOnly = await createApiToken(server.database.db, {
      name: 'ro',
      scopes: ['read', 'allocate'],
      createdById: adminUser.id,
    });
    const refused = await call('stress.start', run(), { token: readOnly.token });
    expect(refused.status).toBe(403);
    expect(refused.message).toContain('"stress" scope');
    expect((await call('stress.abort', { id: 'x' }, { token: readOnly.token })).status).toBe(403);

    const stress = await createApiToken(server.database.db, {
      name: 'ci',
      scopes: ['stress'],
      createdById: adminUser.id,
    });
    // Past the permission checks: refused only because no agent serves the deployment.
    const allowed = await call('stress.start', run(), { token: stress.token });
    expect(allowed.status).toBe(409);
    expect(allowed.field).toBe('deploymentId');
  });

  it('answers unknown runs with NOT_FOUND', async () => {
    expect((await call('stress.get', { id: 'nope' }, { cookie: admin }, 'GET')).status).toBe(404);
    expect((await call('stress.abort', { id: 'nope' })).status).toBe(404);
  });
});

describe('endpoints from agents', () => {
  it('accepts endpoints after the inventory and refuses bad ones by field', async () => {
    const node = nodesServing(server, deployments['embed-small']!)[0]!;
    const agent = await StressTestAgent.connect(server, node, [
      { deploymentId: deployments['embed-small']!, replicas: node.replicas },
    ]);
    try {
      expect(server.runtime.stress.endpoints.hostsOf(deployments['embed-small']!)).toMatchObject([
        { hostname: node.hostname, replicas: node.replicas },
      ]);
      const unknown = await agent.sendEndpoints([{ deploymentId: 'nope', replicas: 1 }]);
      expect(unknown).toMatchObject({
        ok: false,
        error: { code: 'FORBIDDEN', field: 'endpoints.0.deploymentId' },
      });
      const bad = await agent.socket.timeout(5000).emitWithAck('endpoints', {
        endpoints: [{ deploymentId: deployments['embed-small'], url: 'not a url', replicas: 1 }],
      });
      expect(bad).toMatchObject({ ok: false, error: { code: 'BAD_FRAME', field: 'endpoints.0.url' } });
      // Refused messages change nothing.
      expect(server.runtime.stress.endpoints.hostsOf(deployments['embed-small']!)).toHaveLength(1);
    } finally {
      agent.close();
    }
    await new Promise((r) => setTimeout(r, 200));
    // Gone with the connection.
    expect(server.runtime.stress.endpoints.hostsOf(deployments['embed-small']!)).toHaveLength(0);
  });

  it('refuses endpoints for a deployment no GPU of the agent’s node serves, naming the field', async () => {
    const embed = deployments['embed-small']!;
    const chat = deployments['chat-70b']!;
    const node = nodesServing(server, chat)[0]!;
    expect(nodesServing(server, embed).map((n) => n.hostname)).not.toContain(node.hostname);
    const agent = await StressTestAgent.connect(server, node, []);
    try {
      // Its own deployment first, then one it does not serve: the whole message is refused.
      const refused = await agent.sendEndpoints([
        { deploymentId: chat, replicas: node.replicas },
        { deploymentId: embed, replicas: 1 },
      ]);
      expect(refused).toEqual({
        ok: false,
        error: {
          code: 'FORBIDDEN',
          field: 'endpoints.1.deploymentId',
          message: `endpoints.1.deploymentId: no GPU of ${node.hostname} serves this deployment`,
        },
      });
      expect(server.runtime.stress.endpoints.hostsOf(chat)).toHaveLength(0);
      expect(server.runtime.stress.endpoints.hostsOf(embed)).toHaveLength(0);
      // What it does serve, it may announce.
      expect(await agent.sendEndpoints([{ deploymentId: chat, replicas: node.replicas }])).toEqual({
        ok: true,
        endpoints: 1,
      });
      expect(server.runtime.stress.endpoints.hostsOf(chat)).toMatchObject([
        { hostname: node.hostname, replicas: node.replicas },
      ]);
    } finally {
      agent.close();
    }
  });

  it('refuses a report for a run that is not in progress', async () => {
    const agent = await StressTestAgent.connect(server, DEMO_NODES[6]!, []);
    try {
      const reply = await agent.socket.timeout(5000).emitWithAck('stress:report', {
        runId: 'not-a-run',
        seq: 1,
        intervalStart: Date.now() - 1000,
        intervalEnd: Date.now(),
        phase: 'measure',
        targetRps: 1,
        sent: 1,
        completed: 1,
        errors: 0,
        late: 0,
        histogram: { bins: [[300, 1]], zeroCount: 0, count: 1, sum: 20, min: 20, max: 20 },
      });
      expect(reply).toMatchObject({ ok: false, error: { code: 'BAD_FRAME', field: 'runId' } });
    } finally {
      agent.close();
    }
  });
});
