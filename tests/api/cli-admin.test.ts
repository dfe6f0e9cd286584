import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../server/auth/passwords';
import { createApiToken } from '../../server/auth/sessions';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server';

const BIN = path.resolve(import.meta.dirname, '../../cli/bin/switchyard.mjs');

let server: TestServer;
let readToken: string;

beforeAll(async () => {
  server = await startTestServer();
  const { db } = server.database;
  const admin = await db.user.findUniqueOrThrow({ where: { username: 'admin' } });
  readToken = (await createApiToken(db, { name: 'reader', scopes: ['read'], createdById: admin.id })).token;
  await db.user.create({
    data: { username: 'olive', role: 'operator', passwordHash: await hashPassword('operator-password') },
  });
});
afterAll(async () => {
  await server?.close();
});

type Run = { code: number | null; stdout: string; stderr: string };

/** Runs the real CLI in its own process, signed in as the admin unless `env` says otherwise. */
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: {
        PATH: process.env.PATH,
        SWITCHYARD_URL: server.url,
        SWITCHYARD_USER: 'admin',
        SWITCHYARD_PASSWORD: ADMIN_PASSWORD,
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

describe('switchyard clusters', () => {
  it('creates a cluster and lists it with node counts', async () => {
    const created = await cli(['clusters', 'create', 'cli-lab', '--region', 'attic', '--json']);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'cli-lab', region: 'attic', nodes: 0 });

    const human = await cli(['clusters', 'list']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^NAME\s+REGION\s+NODES\s+ONLINE/);
    expect(human.stdout).toMatch(/cli-lab\s+attic\s+0/);

    const again = await cli(['clusters', 'create', 'cli-lab']);
    expect(again.code).toBe(3);
  });
});

describe('switchyard enrollment-tokens', () => {
  it('creates a token with the agent command, lists it and revokes it', async () => {
    const created = await cli([
      'enrollment-tokens',
      'create',
      '--cluster',
      'us-east-1',
      '--uses',
      '3',
      '--description',
      'cli test',
      '--json',
    ]);
    expect(created.code).toBe(0);
    const token = JSON.parse(created.stdout) as { id: string; token: string; agentCommand: string };
    expect(token.agentCommand).toBe(`npm run agent -- --server ${server.url} --token ${token.token}`);

    const human = await cli(['enrollment-tokens', 'create', '--cluster', 'us-east-1']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(
      /Start an agent on the new machine with:\n {2}npm run agent -- --server \S+ --token enr_/,
    );

    const listed = await cli(['enrollment-tokens', 'list', '--cluster', 'us-east-1', '--json']);
    expect(listed.code).toBe(0);
    const mine = (JSON.parse(listed.stdout) as { id: string; maxUses: number; state: string }[]).find(
      (t) => t.id === token.id,
    );
    expect(mine).toMatchObject({ maxUses: 3, state: 'active' });
    expect(listed.stdout).not.toContain(token.token);

    const revoked = await cli(['enrollment-tokens', 'revoke', token.id]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`Revoked enrollment token ${token.id}`);
    const table = await cli(['enrollment-tokens', 'list']);
    expect(table.stdout).toMatch(
      new RegExp(`${token.id}\\s+us-east-1\\s+cli test\\s+0/3\\s+\\S+ \\S+\\s+revoked`),
    );
  });
});

describe('switchyard audit list', () => {
  it('filters by action prefix and actor, as JSON and as a table', async () => {
    const json = await cli(['audit', 'list', '--action', 'enrollmentToken.', '--actor', 'admin', '--json']);
    expect(json.code).toBe(0);
    const page = JSON.parse(json.stdout) as { events: { action: string }[]; nextCursor: string | null };
    expect(page.events.length).toBeGreaterThanOrEqual(3);
    expect(page.events.every((e) => e.action.startsWith('enrollmentToken.'))).toBe(true);
    expect(page.events[0]!.action).toBe('enrollmentToken.revoke');

    const paged = await cli(['audit', 'list', '--action', 'enrollmentToken.', '--limit', '1']);
    expect(paged.code).toBe(0);
    expect(paged.stdout).toMatch(/^AT \(UTC\)\s+ACTOR\s+ACTION/);
    const cursor = /More: add --cursor (\S+)/.exec(paged.stdout)?.[1];
    expect(cursor).toBeDefined();
    const next = await cli([
      'audit',
      'list',
      '--action',
      'enrollmentToken.',
      '--limit',
      '1',
      '--cursor',
      cursor!,
      '--json',
    ]);
    expect(next.code).toBe(0);
    expect((JSON.parse(next.stdout) as { events: { action: string }[] }).events[0]!.action).toBe(
      'enrollmentToken.create',
    );

    const bad = await cli(['audit', 'list', '--from', 'yesterday']);
    expect(bad.code).toBe(2);
  });
});

describe('authorization', () => {
  it('needs a signed-in admin: no credentials, an operator, or a wrong password are refused', async () => {
    const none = await cli(['clusters', 'list'], {
      SWITCHYARD_USER: undefined,
      SWITCHYARD_PASSWORD: undefined,
      SWITCHYARD_TOKEN: readToken,
    });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/SWITCHYARD_USER/);

    const operator = await cli(['audit', 'list'], {
      SWITCHYARD_USER: 'olive',
      SWITCHYARD_PASSWORD: 'operator-password',
    });
    expect(operator.code).toBe(4);
    expect(operator.stderr).toMatch(/admin role/);

    const wrong = await cli(['clusters', 'list', '--json'], { SWITCHYARD_PASSWORD: 'not-the-password' });
    expect(wrong.code).toBe(4);
    expect(JSON.parse(wrong.stdout).error.message).toMatch(/signing in as admin/);
  });

  it('signs out after each command', async () => {
    const before = await server.database.db.session.count();
    expect((await cli(['clusters', 'list'])).code).toBe(0);
    expect(await server.database.db.session.count()).toBe(before);
  });
});
