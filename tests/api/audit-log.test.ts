import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../server/auth/passwords';
import { createApiToken } from '../../server/auth/sessions';
import { appRouter } from '../../server/trpc/root';
import { signIn, startTestServer, type TestServer } from '../support/server';

let server: TestServer;
let adminCookie: string;
let operatorCookie: string;
let readToken: string;

/** Events of a made-up actor at known times, so filters and pages have exact answers. */
const BASE = Date.parse('2026-01-10T12:00:00.000Z');
const SEEDED = 7;

beforeAll(async () => {
  server = await startTestServer();
  const { db } = server.database;
  await db.user.create({
    data: { username: 'opal', role: 'operator', passwordHash: await hashPassword('operator-password') },
  });
  adminCookie = await signIn(server.url);
  operatorCookie = await signIn(server.url, 'opal', 'operator-password');
  const admin = await db.user.findUniqueOrThrow({ where: { username: 'admin' } });
  readToken = (await createApiToken(db, { name: 'reader', scopes: ['read'], createdById: admin.id })).token;
  const node = await db.node.findFirstOrThrow({ orderBy: { hostname: 'asc' } });
  for (let i = 0; i < SEEDED; i++) {
    await db.auditEvent.create({
      data: {
        at: new Date(BASE + i * 60_000),
        actorType: 'user',
        actorId: 'auditor-id',
        actorName: 'auditor',
        action: i % 2 === 0 ? 'allocation.change' : 'node.cordon',
        targetType: i % 2 === 0 ? 'allocation_change' : 'node',
        targetId: i % 2 === 0 ? `change-${i}` : node.id,
        reason: i === 1 ? 'fan, "noisy", replace, =SUM(A1)' : null,
        outcome: i === 2 ? 'rolled_back' : 'ok',
        details: i === 3 ? { reason: 'from details', note: 'line one\nline two' } : {},
      },
    });
  }
});
afterAll(async () => {
  await server?.close();
});

function get(pathAndQuery: string, auth: { cookie?: string; token?: string } = { cookie: adminCookie }) {
  const headers: Record<string, string> = {};
  if (auth.cookie) headers.cookie = auth.cookie;
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  return fetch(`${server.url}${pathAndQuery}`, { headers });
}

type AuditEvent = {
  id: string;
  at: string;
  actorName: string;
  action: string;
  targetType: string;
  targetId: string | null;
  targetName: string | null;
  reason: string | null;
  outcome: string;
};
type AuditPage = { events: AuditEvent[]; nextCursor: string | null };

async function list(query: Record<string, string>): Promise<AuditPage> {
  const res = await get(`/api/v1/audit?${new URLSearchParams(query)}`);
  expect(res.status).toBe(200);
  return (await res.json()) as AuditPage;
}

describe('audit.list (GET /api/v1/audit)', () => {
  it('filters by actor, action prefix, target and time range, newest first', async () => {
    const mine = await list({ actor: 'auditor' });
    expect(mine.events).toHaveLength(SEEDED);
    expect(mine.events.map((e) => e.at)).toEqual([...mine.events.map((e) => e.at)].sort().reverse());

    const allocation = await list({ actor: 'auditor', action: 'allocation.' });
    expect(allocation.events.map((e) => e.action)).toEqual(Array(4).fill('allocation.change'));

    const node = await server.database.db.node.findFirstOrThrow({ orderBy: { hostname: 'asc' } });
    const onNode = await list({ actor: 'auditor', targetType: 'node', targetId: node.id });
    expect(onNode.events).toHaveLength(3);
    // The target's name comes along: the node's hostname.
    expect(onNode.events.every((e) => e.targetName === node.hostname)).toBe(true);

    const window = await list({
      actor: 'auditor-id',
      from: new Date(BASE + 2 * 60_000).toISOString(),
      to: new Date(BASE + 5 * 60_000).toISOString(),
    });
    expect(window.events.map((e) => e.at)).toEqual(
      [4, 3, 2].map((i) => new Date(BASE + i * 60_000).toISOString()),
    );
  });

  it('shows the reason (also from details.reason) and the outcome', async () => {
    const { events } = await list({ actor: 'auditor' });
    const byMinute = (i: number) => events.find((e) => e.at === new Date(BASE + i * 60_000).toISOString())!;
    expect(byMinute(1).reason).toBe('fan, "noisy", replace, =SUM(A1)');
    expect(byMinute(3).reason).toBe('from details');
    expect(byMinute(2).outcome).toBe('rolled_back');
    expect(byMinute(0).outcome).toBe('ok');
  });

  it('pages on the server with a cursor, without gaps or repeats', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: AuditPage = await list({ actor: 'auditor', limit: '3', ...(cursor ? { cursor } : {}) });
      expect(page.events.length).toBeLessThanOrEqual(3);
      seen.push(...page.events.map((e) => e.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(SEEDED);
    const all = await list({ actor: 'auditor' });
    expect(seen).toEqual(all.events.map((e) => e.id));
  });

  it('bounds the page size and refuses a forged cursor', async () => {
    expect((await get('/api/v1/audit?limit=201')).status).toBe(400);
    const forged = await get('/api/v1/audit?cursor=bm90LWEtY3Vyc29y');
    expect(forged.status).toBe(400);
    expect(((await forged.json()) as { message: string }).message).toMatch(/cursor/);
  });

  it('is for admins: operators, API tokens and strangers are refused', async () => {
    expect((await get('/api/v1/audit', { cookie: operatorCookie })).status).toBe(403);
    expect((await get('/api/v1/audit', { token: readToken })).status).toBe(403);
    expect((await get('/api/v1/audit', {})).status).toBe(401);
  });

  it('lists what the product audits itself, e.g. the sign-ins of this test', async () => {
    const logins = await list({ action: 'auth.login', actor: 'opal' });
    expect(logins.events[0]).toMatchObject({ actorName: 'opal', targetType: 'user', targetName: 'opal' });
  });
});

describe('GET /api/audit/export', () => {
  it('exports CSV with the same filters, quoting what needs it', async () => {
    const res = await get('/api/audit/export?format=csv&actor=auditor&action=node.');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="switchyard-audit-.*\.csv"/);
    const rows = parse(await res.text(), { columns: true, comment: '#' }) as Record<string, string>[];
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.action === 'node.cordon')).toBe(true);
    const fan = rows.find((r) => r.at === new Date(BASE + 60_000).toISOString())!;
    // A formula-looking cell would not start with "=": this one starts with "fan".
    expect(fan.reason).toBe('fan, "noisy", replace, =SUM(A1)');
    const multiLine = rows.find((r) => r.at === new Date(BASE + 3 * 60_000).toISOString())!;
    expect(JSON.parse(multiLine.details!)).toEqual({ reason: 'from details', note: 'line one\nline two' });
  });

  it('exports JSON with every matching event', async () => {
    const res = await get('/api/audit/export?format=json&actor=auditor');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { events: AuditEvent[]; truncated: boolean };
    expect(body.truncated).toBe(false);
    expect(body.events).toHaveLength(SEEDED);
    expect(body.events[0]).toMatchObject({ actorName: 'auditor', action: 'allocation.change' });
  });

  it('is authorized like the page, and names a bad filter', async () => {
    expect((await get('/api/audit/export?format=csv', { cookie: operatorCookie })).status).toBe(403);
    expect((await get('/api/audit/export?format=csv', { token: readToken })).status).toBe(403);
    expect((await get('/api/audit/export?format=csv', {})).status).toBe(401);
    const bad = await get('/api/audit/export?format=xml');
    expect(bad.status).toBe(400);
    const badTime = await get('/api/audit/export?from=yesterday');
    expect(badTime.status).toBe(400);
    expect(((await badTime.json()) as { error: { field: string } }).error.field).toBe('from');
  });
});

describe('append-only', () => {
  it('the database refuses UPDATE, DELETE and TRUNCATE of audit events', async () => {
    const { db } = server.database;
    const before = await db.auditEvent.count();
    await expect(
      db.$executeRawUnsafe(`UPDATE "AuditEvent" SET "actorName" = 'someone else'`),
    ).rejects.toThrow(/AuditEvent is append-only: UPDATE/);
    await expect(db.$executeRawUnsafe(`DELETE FROM "AuditEvent"`)).rejects.toThrow(
      /AuditEvent is append-only: DELETE/,
    );
    await expect(db.$executeRawUnsafe(`TRUNCATE "AuditEvent"`)).rejects.toThrow(/append-only/);
    const first = await db.auditEvent.findFirstOrThrow();
    await expect(db.auditEvent.update({ where: { id: first.id }, data: { reason: 'x' } })).rejects.toThrow();
    await expect(db.auditEvent.deleteMany({ where: { actorName: 'auditor' } })).rejects.toThrow();
    expect(await db.auditEvent.count()).toBe(before);
    expect((await db.auditEvent.findFirstOrThrow({ where: { id: first.id } })).reason).toBe(first.reason);
    // Appending still works.
    await db.auditEvent.create({
      data: { actorType: 'system', actorName: 't', action: 'test', targetType: 't' },
    });
    expect(await db.auditEvent.count()).toBe(before + 1);
  });

  it('no procedure changes an entry: the audit router only reads, and no REST method writes', async () => {
    const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>;
    const audit = Object.entries(procedures).filter(([name]) => name.startsWith('audit.'));
    expect(audit.length).toBeGreaterThan(0);
    expect(audit.every(([, p]) => p._def.type === 'query')).toBe(true);
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const res = await fetch(`${server.url}/api/v1/audit`, {
        method,
        headers: { cookie: adminCookie, origin: server.url, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status, method).toBeGreaterThanOrEqual(400);
    }
  });

  it('no server code updates or deletes audit events', async () => {
    const root = path.resolve(import.meta.dirname, '../../server');
    const files = (await readdir(root, { recursive: true })).filter(
      (f) => f.endsWith('.ts') && !f.startsWith('generated'),
    );
    const offending: string[] = [];
    for (const file of files) {
      const source = await readFile(path.join(root, file), 'utf8');
      if (
        /auditEvent\s*\.\s*(update|updateMany|upsert|delete|deleteMany)\b/.test(source) ||
        /(UPDATE|DELETE\s+FROM|TRUNCATE)\s+"AuditEvent"/i.test(source)
      ) {
        offending.push(file);
      }
    }
    expect(offending).toEqual([]);
  });
});
