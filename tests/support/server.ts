import type { LoginThrottle } from '../../server/auth/login-throttle';
import { parseEnv } from '../../server/env';
import { type RunningServer, startServer } from '../../server/main';
import { createEnrollmentToken, createReplacementToken } from '../../server/services/agents/enrollment';
import { createTestDatabase, type TestDatabase } from './database';

export const ADMIN_PASSWORD = 'correct-horse-battery';

export type TestServer = RunningServer & { database: TestDatabase; close: () => Promise<void> };

/**
 * The real server (tRPC, socket.io, HTTP routes) on a random port against a fresh
 * database, seeded with the demo fleet but without its simulated agents: tests bring
 * their own agents. Pages are not served (the Playwright suite covers them).
 */
export async function startTestServer(
  envOverrides: Record<string, string> = {},
  options: { loginThrottle?: LoginThrottle } = {},
): Promise<TestServer> {
  const database = await createTestDatabase();
  const env = parseEnv({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: database.url,
    SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD,
    SWITCHYARD_DEMO: 'on',
    SWITCHYARD_LOG_LEVEL: 'warn',
    ...envOverrides,
  });
  const server = await startServer({ env, pages: false, simulator: false, ...options });
  return {
    ...server,
    database,
    close: async () => {
      await server.close();
      await database.drop();
    },
  };
}

/**
 * Signs in over HTTP like a browser and returns the session cookie. A change made with
 * that cookie must also send `origin: url`, as browsers do (server/http/request-guards.ts).
 */
export async function signIn(url: string, username = 'admin', password = ADMIN_PASSWORD): Promise<string> {
  const res = await fetch(`${url}/api/trpc/auth.login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: url },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const cookie = res.headers.get('set-cookie');
  if (!cookie) throw new Error('login set no cookie');
  return cookie.split(';')[0]!;
}

export async function enrollmentTokenFor(
  server: TestServer,
  clusterName = 'us-east-1',
  maxUses = 10,
): Promise<string> {
  const cluster = await server.database.db.cluster.findUniqueOrThrow({ where: { name: clusterName } });
  const { token } = await createEnrollmentToken(server.database.db, {
    clusterId: cluster.id,
    description: 'test',
    maxUses,
    actor: { kind: 'system', id: null, name: 'test' },
  });
  return token;
}

/**
 * A token an agent can enroll `hostname` with: an ordinary enrollment token while no node of
 * that name exists in the cluster, else a replacement token for that node (an ordinary token
 * is refused for an existing hostname). Enrolling with it replaces the node's agent: earlier
 * credentials are revoked and their sockets closed.
 */
export async function enrollmentTokenForHost(
  server: TestServer,
  hostname: string,
  clusterName = 'us-east-1',
): Promise<string> {
  const { db } = server.database;
  const cluster = await db.cluster.findUniqueOrThrow({ where: { name: clusterName } });
  const node = await db.node.findUnique({
    where: { clusterId_hostname: { clusterId: cluster.id, hostname } },
  });
  if (!node) return enrollmentTokenFor(server, clusterName);
  const { token } = await createReplacementToken(db, {
    nodeId: node.id,
    actor: { kind: 'system', id: null, name: 'test' },
  });
  return token;
}
