import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../server/auth/sessions';
import type { ApiScope } from '../../server/generated/prisma/client';
import { startTestServer, type TestServer } from '../support/server';
import { nodesServing, StressTestAgent } from '../support/stress-agent';

const BIN = path.resolve(import.meta.dirname, '../../cli/bin/switchyard.mjs');

let server: TestServer;
let readToken: string;
let stressToken: string;
let allocateToken: string;

async function tokenWith(scopes: ApiScope[]): Promise<{ id: string; token: string }> {
  const admin = await server.database.db.user.findUniqueOrThrow({ where: { username: 'admin' } });
  return createApiToken(server.database.db, { name: scopes.join('+'), scopes, createdById: admin.id });
}

beforeAll(async () => {
  server = await startTestServer();
  readToken = (await tokenWith(['read'])).token;
  stressToken = (await tokenWith(['read', 'stress'])).token;
  allocateToken = (await tokenWith(['read', 'allocate'])).token;
});
afterAll(async () => {
  await server?.close();
});

type Run = { code: number | null; stdout: string; stderr: string };

/** Runs the real CLI in its own process against the test server. */
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      // Only what the CLI reads: nothing from the test runner's environment leaks in.
      env: {
        PATH: process.env.PATH,
        SWITCHYARD_URL: server.url,
        SWITCHYARD_TOKEN: readToken,
        ...env,
      } as Record<string, string | undefined> as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('switchyard gpus list', () => {
  it('prints every GPU as one JSON document with --json', async () => {
    const run = await cli(['gpus', 'list', '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const gpus = JSON.parse(run.stdout);
    expect(gpus).toHaveLength(await server.database.db.gpu.count());
    expect(gpus[0]).toMatchObject({ id: expect.any(String), hostname: expect.any(String) });
  });

  it('filters by deployment name and by free GPUs', async () => {
    const deployment = await server.database.db.deployment.findUniqueOrThrow({ where: { name: 'chat-70b' } });
    const owned = await server.database.db.allocation.count({ where: { deploymentId: deployment.id } });
    const mine = await cli(['gpus', 'list', '--deployment', 'chat-70b', '--json']);
    expect(mine.code).toBe(0);
    const list = JSON.parse(mine.stdout);
    expect(list).toHaveLength(owned);
    expect(list.every((g: { owner: { name: string } }) => g.owner.name === 'chat-70b')).toBe(true);

    const free = await cli(['gpus', 'list', '--free', '--json']);
    expect(free.code).toBe(0);
    const total = await server.database.db.gpu.count();
    const allocated = await server.database.db.allocation.count();
    expect(JSON.parse(free.stdout)).toHaveLength(total - allocated);
  });

  it('prints a table for people', async () => {
    const run = await cli(['gpus', 'list']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^GPU\s+ID\s+MODEL\s+OWNER/);
    expect(run.stdout).toContain('use1-h100-01/0');
  });
});

describe('switchyard deployments list', () => {
  it('lists deployments with their versions, as a table and as JSON', async () => {
    const human = await cli(['deployments', 'list']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/NAME\s+MODEL\s+GPUS/);
    expect(human.stdout).toContain('chat-70b');

    const json = await cli(['--json', 'deployments', 'list']);
    expect(json.code).toBe(0);
    const list = JSON.parse(json.stdout);
    expect(list.map((d: { name: string }) => d.name)).toContain('chat-70b');
    expect(list[0].version).toEqual(expect.any(Number));
  });
});

/** A GPU of embed-small (16 GPUs, at least 2), which can give one up. */
async function embedSmallGpu() {
  const deployment = await server.database.db.deployment.findUniqueOrThrow({
    where: { name: 'embed-small' },
  });
  const allocation = await server.database.db.allocation.findFirstOrThrow({
    where: { deploymentId: deployment.id },
    include: { gpu: { include: { node: true } } },
    orderBy: { gpuId: 'asc' },
  });
  return {
    deployment,
    gpuId: allocation.gpuId,
    label: `${allocation.gpu.node.hostname}/${allocation.gpu.index}`,
  };
}

describe('switchyard move and changes', () => {
  it('shows the predicted effect of a dry run without changing anything', async () => {
    const { label } = await embedSmallGpu();
    const run = await cli(['move', '--gpu', label, '--to', 'free', '--reason', 'try it', '--dry-run'], {
      SWITCHYARD_TOKEN: allocateToken,
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Dry run: nothing was changed.');
    expect(run.stdout).toContain(`${label} embed-small → free`);
    expect(await server.database.db.allocationChange.count()).toBe(0);
  });

  it('waits for a change and exits 1 when it rolls back (no agent applies it here)', async () => {
    const { label, gpuId, deployment } = await embedSmallGpu();
    const run = await cli(['--json', 'move', '--gpu', label, '--to', 'free', '--reason', 'release'], {
      SWITCHYARD_TOKEN: allocateToken,
    });
    expect(run.code).toBe(1);
    const change = JSON.parse(run.stdout);
    expect(change).toMatchObject({ state: 'rolled_back', moves: [{ gpuId, to: null }] });
    // Rolled back: the GPU is still embed-small's.
    const owner = await server.database.db.allocation.findUnique({ where: { gpuId } });
    expect(owner?.deploymentId).toBe(deployment.id);

    const watch = await cli(['changes', 'watch', change.id]);
    expect(watch.code).toBe(1);
    expect(watch.stdout).toContain(`Change ${change.id} rolled back`);

    const list = await cli(['--json', 'changes', 'list']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).items.map((c: { id: string }) => c.id)).toContain(change.id);
  });
});

describe('switchyard plan and auto', () => {
  it('prints the proposed plan as JSON that apply reads back', async () => {
    const run = await cli(['--json', 'plan']);
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout);
    expect(plan).toMatchObject({ steps: expect.any(Array), baseVersions: expect.any(Object) });
    const human = await cli(['plan']);
    expect(human.code).toBe(0);
    if (plan.steps.length === 0) expect(human.stdout).toContain('Nothing to rebalance');
    else expect(human.stdout).toContain(`${plan.steps[0].id}  ${plan.steps[0].kind}`);
  });

  it('shows and switches automatic rebalancing', async () => {
    const status = await cli(['auto', 'status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('Automatic rebalancing is off.');

    const on = await cli(['--json', 'auto', 'on'], { SWITCHYARD_TOKEN: allocateToken });
    expect(on.code).toBe(0);
    expect(JSON.parse(on.stdout).enabled).toBe(true);
    const off = await cli(['auto', 'off'], { SWITCHYARD_TOKEN: allocateToken });
    expect(off.code).toBe(0);
    expect(off.stdout).toContain('Automatic rebalancing is off.');

    const bad = await cli(['auto', 'maybe']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"maybe" is not one of status, on, off');
    const readOnly = await cli(['auto', 'on']);
    expect(readOnly.code).toBe(4);
  });
});

describe('exit codes', () => {
  it('exits 3 on a conflict, naming the current versions', async () => {
    const { deployment, gpuId } = await embedSmallGpu();
    const fresh = await server.database.db.deployment.findUniqueOrThrow({ where: { id: deployment.id } });
    const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-plan-'));
    const planFile = path.join(dir, 'plan.json');
    const step = {
      id: 'step-1',
      reason: 'reclaim',
      moves: [{ gpuId, from: { deploymentId: deployment.id }, to: null }],
    };
    await writeFile(
      planFile,
      JSON.stringify({ steps: [step], baseVersions: { [deployment.id]: fresh.version + 3 } }),
    );
    const run = await cli(['apply', '--plan', planFile, '--steps', 'step-1'], {
      SWITCHYARD_TOKEN: allocateToken,
    });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`now embed-small is at version ${fresh.version}`);

    const unknownStep = await cli(['apply', '--plan', planFile, '--steps', 'step-9'], {
      SWITCHYARD_TOKEN: allocateToken,
    });
    expect(unknownStep.code).toBe(2);
    expect(unknownStep.stderr).toContain('--steps: no step-9 in the plan');
  });

  it('exits 2 when the server refuses a query parameter', async () => {
    const run = await cli(['changes', 'list', '--limit', '1000']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/limit: /);
  });

  it('exits 2 on bad usage, naming the flag', async () => {
    const both = await cli(['gpus', 'list', '--free', '--deployment', 'chat-70b']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--deployment and --free');
    expect(both.stdout).toBe('');

    const unknown = await cli(['gpus', 'list', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--bogus'");

    const badUrl = await cli(['gpus', 'list', '--json'], { SWITCHYARD_URL: 'localhost:3000' });
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('SWITCHYARD_URL');
    expect(JSON.parse(badUrl.stdout).error.exitCode).toBe(2);
  });

  it('exits 2 for a stress run definition the schema refuses, naming the flag', async () => {
    const run = await cli([
      'stress',
      'start',
      '--deployment',
      'chat-70b',
      '--rate',
      '10',
      '--duration',
      '30',
      '--threshold',
      'p95 > 5ms',
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--threshold');
    expect(run.stderr).toContain('p95 > 5ms');
  });

  it('exits 2 when the server refuses the input, printing its message', async () => {
    // chat-70b has priority 100: loading it needs its name typed again (--confirm).
    const run = await cli(
      ['stress', 'start', '--deployment', 'chat-70b', '--rate', '10', '--duration', '30'],
      { SWITCHYARD_TOKEN: stressToken },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('confirm: chat-70b has priority 100');
  });

  it('exits 4 for a token without the scope a command needs', async () => {
    const run = await cli([
      'stress',
      'start',
      '--deployment',
      'embed-small',
      '--rate',
      '5',
      '--duration',
      '10',
    ]);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain('"stress" scope');

    const { label } = await embedSmallGpu();
    const move = await cli(['move', '--gpu', label, '--to', 'free', '--reason', 'x']);
    expect(move.code).toBe(4);
    expect(move.stderr).toContain('"allocate" scope');
  });

  it('exits 4 without a token, with an unknown one, and with a revoked one', async () => {
    const none = await cli(['gpus', 'list'], { SWITCHYARD_TOKEN: undefined });
    expect(none.code).toBe(4);
    expect(none.stderr).toContain('SWITCHYARD_TOKEN');

    const unknown = await cli(['gpus', 'list', '--token', 'syt_not-a-token']);
    expect(unknown.code).toBe(4);

    const revoked = await tokenWith(['read']);
    await server.database.db.apiToken.update({ where: { id: revoked.id }, data: { revokedAt: new Date() } });
    const refused = await cli(['--json', 'gpus', 'list'], { SWITCHYARD_TOKEN: revoked.token });
    expect(refused.code).toBe(4);
    expect(JSON.parse(refused.stdout).error).toMatchObject({ exitCode: 4, status: 401 });
  });

  it('exits 5 for a deployment or a stress run that does not exist', async () => {
    const run = await cli(['gpus', 'list', '--deployment', 'no-such-model']);
    expect(run.code).toBe(5);
    expect(run.stderr).toContain('--deployment: no deployment named "no-such-model"');

    const gpu = await cli(['move', '--gpu', 'nowhere/9', '--to', 'free', '--reason', 'x']);
    expect(gpu.code).toBe(5);
    expect(gpu.stderr).toContain('--gpu: no GPU "nowhere/9"');

    const change = await cli(['changes', 'watch', 'no-such-change']);
    expect(change.code).toBe(5);

    const missing = await cli(['--json', 'stress', 'get', 'no-such-run']);
    expect(missing.code).toBe(5);
    expect(JSON.parse(missing.stdout).error).toMatchObject({ exitCode: 5, status: 404 });
  });

  it('exits 6 when the server cannot be reached', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const run = await cli(['deployments', 'list'], { SWITCHYARD_URL: `http://127.0.0.1:${port}` });
    expect(run.code).toBe(6);
    expect(run.stderr).toContain(`cannot reach Switchyard at http://127.0.0.1:${port} (ECONNREFUSED)`);
  });
});

describe('switchyard stress', () => {
  let agent: StressTestAgent;
  beforeAll(async () => {
    const deployment = await server.database.db.deployment.findUniqueOrThrow({
      where: { name: 'embed-small' },
    });
    // An agent that answers every request in about 20 ms, on a node that serves the deployment.
    const [node] = nodesServing(server, deployment.id);
    agent = await StressTestAgent.connect(server, node!, [
      { deploymentId: deployment.id, replicas: node!.replicas },
    ]);
  });
  afterAll(() => agent?.close());

  const start = ['stress', 'start', '--deployment', 'embed-small', '--rate', '20', '--warmup', '0'];

  it('runs a stress test to the end and exits 0 when its thresholds hold', async () => {
    const run = await cli(['--json', ...start, '--duration', '3', '--threshold', 'p95<250ms', '--wait'], {
      SWITCHYARD_TOKEN: stressToken,
    });
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ state: 'passed', thresholds: [{ text: 'p95<250ms', pass: true }] });
    expect(result.results.requests).toBeGreaterThan(0);
  });

  it('exits 1 when a threshold fails, and shows which', async () => {
    const run = await cli([...start, '--duration', '3', '--threshold', 'p95<1ms', '--wait'], {
      SWITCHYARD_TOKEN: stressToken,
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^Run \S+: failed/);
    expect(run.stdout).toContain('p95<1ms: FAILED');
  });

  it('aborts a run; watching it then exits 1', async () => {
    const started = await cli(['--json', ...start, '--duration', '120'], { SWITCHYARD_TOKEN: stressToken });
    expect(started.code).toBe(0);
    const { id } = JSON.parse(started.stdout);

    const abort = await cli(['stress', 'abort', id, '--reason', 'enough'], { SWITCHYARD_TOKEN: stressToken });
    expect(abort.code).toBe(0);
    expect(abort.stdout).toContain(`Run ${id}: aborted`);

    const watch = await cli(['stress', 'watch', id]);
    expect(watch.code).toBe(1);
    const get = await cli(['--json', 'stress', 'get', id]);
    expect(get.code).toBe(0);
    expect(JSON.parse(get.stdout).state).toBe('aborted');
  });
});
