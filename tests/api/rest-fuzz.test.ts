import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../server/auth/sessions';
import { startTestServer, type TestServer } from '../support/server';

/**
 * Property-based fuzzing of /api/v1: whatever JSON body or query value a client sends to
 * a representative set of routes, the answer is a 2xx or a 4xx naming its error, never a
 * 500, and a refused request leaves nothing behind in the database.
 */

let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer();
  const { db } = server.database;
  const admin = await db.user.findUniqueOrThrow({ where: { username: 'admin' } });
  ({ token } = await createApiToken(db, {
    name: 'fuzz',
    scopes: ['read', 'allocate', 'stress'],
    createdById: admin.id,
  }));
});
afterAll(async () => {
  await server?.close();
});

type Answer = { status: number; body: unknown; text: string };

async function rest(
  method: string,
  path: string,
  body?: string,
  contentType = 'application/json',
): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = contentType;
  const res = await fetch(`${server.url}/api/v1${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}

/** What a request could leave behind. */
async function stored() {
  const { db } = server.database;
  const [changes, runs, tokens, audit] = await Promise.all([
    db.allocationChange.count(),
    db.stressRun.count(),
    db.apiToken.count(),
    db.auditEvent.count({ where: { action: { startsWith: 'allocation.' } } }),
  ]);
  return {
    changes,
    runs,
    tokens,
    audit,
    stressAudit: await db.auditEvent.count({ where: { action: 'stress.start' } }),
  };
}

/** 2xx, or a 4xx with a message and a code; never a 5xx. */
function expectNamedAnswer(answer: Answer, what: string): void {
  expect(answer.status, `${what} → ${answer.status} ${answer.text.slice(0, 300)}`).toBeLessThan(500);
  if (answer.status < 400) {
    expect(answer.status, what).toBeGreaterThanOrEqual(200);
    return;
  }
  const body = answer.body as { message?: unknown; code?: unknown } | undefined;
  expect(typeof body?.message, `${what}: ${answer.text.slice(0, 300)}`).toBe('string');
  expect(String(body?.message ?? '').length, what).toBeGreaterThan(0);
  expect(typeof body?.code, what).toBe('string');
  expect(answer.text, what).not.toMatch(/prisma|invocation|violates|syntax error/i);
}

/** Strings with the characters that have broken things: NUL and other controls, quotes, unicode. */
const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary-ascii', maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.constantFrom(
    '',
    '\u0000',
    'a\u0000b',
    'idem-\u0000-key-0001',
    'reason\u0007',
    '%00',
    '../../etc',
    "'; DROP TABLE x;--",
    '9'.repeat(400),
  ),
);

/** JSON text nested `depth` levels: past the limit, and past what a recursive walk survives. */
const nested = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

/** Any JSON, sometimes nested far past the depth limit. */
const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.nat({ max: 60 }).map(nested),
  fc.constantFrom(5_000, 100_000).map(nested),
);

/** Bodies shaped like an allocation change, with each field sometimes wrong. */
const changeLike = fc.record(
  {
    moves: fc.oneof(
      fc.array(
        fc.record(
          {
            gpuId: fc.oneof(text, fc.jsonValue({ maxDepth: 2 })),
            to: fc.oneof(
              fc.constant(null),
              fc.record({ deploymentId: text }),
              fc.record({ jobId: text }),
              anyJson,
            ),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 4 },
      ),
      anyJson,
    ),
    baseVersions: fc.oneof(
      fc.dictionary(text, fc.oneof(fc.integer(), fc.double(), text), { maxKeys: 3 }),
      anyJson,
    ),
    reason: fc.oneof(text, anyJson),
    dryRun: fc.oneof(fc.boolean(), anyJson),
    idempotencyKey: fc.oneof(text, anyJson),
    source: fc.oneof(fc.constantFrom('manual', 'plan', 'auto'), text),
  },
  { requiredKeys: [] },
);

/** Bodies shaped like a stress run definition. */
const runLike = fc.record(
  {
    deploymentId: fc.oneof(text, anyJson),
    durationS: fc.oneof(fc.integer({ min: -5, max: 5000 }), anyJson),
    load: fc.oneof(
      fc.record(
        { kind: fc.constantFrom('open', 'closed', 'x'), rps: fc.double(), stages: anyJson },
        { requiredKeys: [] },
      ),
      anyJson,
    ),
    thresholds: fc.oneof(fc.array(text, { maxLength: 3 }), anyJson),
  },
  { requiredKeys: [] },
);

/** JSON text of a value, with the deeply nested strings of anyJson spliced in raw. */
function toJsonText(value: unknown): string {
  const raw: string[] = [];
  const text = JSON.stringify(value, (_key, v) => {
    if (typeof v === 'string' && v.startsWith('[[')) {
      raw.push(v);
      return `@@raw${raw.length - 1}@@`;
    }
    return v;
  });
  return text.replace(/"@@raw(\d+)@@"/g, (_m, i) => raw[Number(i)]!);
}

/** A body as sent: JSON text of a value, or text that may not be JSON at all. */
const bodyText = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(changeLike, runLike).map(toJsonText) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: anyJson.map(toJsonText) },
);

const RUNS = 40;

describe('REST fuzzing', () => {
  it('POST bodies: a 2xx or a named 4xx, and nothing stored when refused', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/allocation/changes', '/stress/runs', '/stress/capacity-searches'),
        bodyText,
        async (path, body) => {
          const before = await stored();
          const answer = await rest('POST', path, body);
          expectNamedAnswer(answer, `POST ${path} ${body.slice(0, 200)}`);
          if (answer.status >= 400) expect(await stored()).toEqual(before);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('content types other than JSON are refused by name', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/xml',
          '',
        ),
        bodyText,
        async (contentType, body) => {
          const before = await stored();
          const answer = await rest('POST', '/allocation/changes', body, contentType);
          expectNamedAnswer(answer, `${contentType} ${body.slice(0, 100)}`);
          expect(answer.status).toBe(415);
          expect(await stored()).toEqual(before);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('query values and path segments: a 2xx or a named 4xx', async () => {
    const value = fc.oneof(
      text,
      fc.integer().map(String),
      fc.constantFrom('-1', '1e309', 'NaN', 'true', 'null', '[]', '{}', '2026-01-01T00:00:00Z'),
    );
    /** Each route with the query fields it reads (and sometimes one it does not). */
    const routes: [(id: string) => string, string[]][] = [
      [(id) => `/gpus/${id}`, []],
      [(id) => `/gpus/${id}/history`, ['window']],
      [(id) => `/nodes/${id}`, []],
      [(id) => `/stress/runs/${id}`, []],
      [(id) => `/allocation/changes/${id}`, []],
      [() => '/stress/runs', ['deploymentId', 'limit']],
      [() => '/allocation/changes', ['limit', 'before', 'state']],
      [() => '/nodes', []],
    ];
    const request = fc
      .constantFrom(...routes)
      .chain(([route, fields]) =>
        fc.tuple(
          fc.constant(route),
          text,
          fc.dictionary(fc.oneof(fc.constantFrom(...fields, 'unknown'), text), value, { maxKeys: 3 }),
        ),
      );
    await fc.assert(
      fc.asyncProperty(request, async ([route, id, params]) => {
        const search = new URLSearchParams(params).toString();
        const path = `${route(encodeURIComponent(id) || 'x')}${search ? `?${search}` : ''}`;
        expectNamedAnswer(await rest('GET', path), `GET ${path}`);
      }),
      { numRuns: 60 },
    );
  });

  it('POST with path values: a 2xx or a named 4xx, nothing stored when refused', async () => {
    await fc.assert(
      fc.asyncProperty(
        text,
        fc.oneof(fc.record({ reason: text }, { requiredKeys: [] }), anyJson),
        async (id, body) => {
          const before = await stored();
          const path = `/stress/runs/${encodeURIComponent(id) || 'x'}/abort`;
          const answer = await rest('POST', path, JSON.stringify(body));
          expectNamedAnswer(answer, `POST ${path} ${JSON.stringify(body).slice(0, 100)}`);
          if (answer.status >= 400) expect(await stored()).toEqual(before);
        },
      ),
      { numRuns: 20 },
    );
  });
});
