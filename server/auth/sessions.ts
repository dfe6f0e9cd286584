import type { Db } from '../db/client';
import { AppError } from '../errors';
import { burnPasswordCheck, verifyPassword } from './passwords';
import type { Principal } from './principal';
import { hashSecret, newSecret, secretPrefix } from './secrets';

export const SESSION_COOKIE = 'sy_session';

export async function login(
  db: Db,
  input: { username: string; password: string; ttlHours: number },
): Promise<{ sessionToken: string; expiresAt: Date; user: { id: string; username: string; role: string } }> {
  const user = await db.user.findUnique({ where: { username: input.username } });
  if (!user || user.disabledAt) {
    await burnPasswordCheck(input.password);
    throw new AppError('UNAUTHORIZED', 'Wrong username or password');
  }
  if (!(await verifyPassword(user.passwordHash, input.password))) {
    throw new AppError('UNAUTHORIZED', 'Wrong username or password');
  }
  const sessionToken = newSecret('sess');
  const expiresAt = new Date(Date.now() + input.ttlHours * 3600_000);
  await db.session.create({ data: { tokenHash: hashSecret(sessionToken), userId: user.id, expiresAt } });
  await db.auditEvent.create({
    data: {
      actorType: 'user',
      actorId: user.id,
      actorName: user.username,
      action: 'auth.login',
      targetType: 'user',
      targetId: user.id,
    },
  });
  return { sessionToken, expiresAt, user: { id: user.id, username: user.username, role: user.role } };
}

export async function logout(db: Db, sessionToken: string): Promise<void> {
  await db.session.deleteMany({ where: { tokenHash: hashSecret(sessionToken) } });
}

export async function principalFromSession(db: Db, sessionToken: string): Promise<Principal | null> {
  const session = await db.session.findUnique({
    where: { tokenHash: hashSecret(sessionToken) },
    include: { user: true },
  });
  if (!session || session.expiresAt < new Date() || session.user.disabledAt) return null;
  return { kind: 'user', id: session.user.id, name: session.user.username, role: session.user.role };
}

export async function principalFromApiToken(db: Db, token: string): Promise<Principal | null> {
  const apiToken = await db.apiToken.findUnique({
    where: { tokenHash: hashSecret(token) },
    include: { createdBy: true },
  });
  if (!apiToken || apiToken.revokedAt || (apiToken.expiresAt && apiToken.expiresAt < new Date())) return null;
  if (apiToken.createdBy.disabledAt) return null;
  // lastUsedAt is informative only; do not make the request wait for it.
  void db.apiToken
    .update({ where: { id: apiToken.id }, data: { lastUsedAt: new Date() } })
    .catch(() => undefined);
  return {
    kind: 'token',
    id: apiToken.id,
    name: `token:${apiToken.name}`,
    scopes: apiToken.scopes,
    ownerId: apiToken.createdById,
    ownerRole: apiToken.createdBy.role,
  };
}

export async function createApiToken(
  db: Db,
  input: { name: string; scopes: ('read' | 'allocate' | 'stress')[]; createdById: string; expiresAt?: Date },
): Promise<{ id: string; token: string; prefix: string }> {
  const token = newSecret('syt');
  const row = await db.apiToken.create({
    data: {
      name: input.name,
      scopes: input.scopes,
      createdById: input.createdById,
      expiresAt: input.expiresAt,
      tokenHash: hashSecret(token),
      prefix: secretPrefix(token),
    },
  });
  return { id: row.id, token, prefix: row.prefix };
}

/** Reads a cookie from a raw Cookie header without a dependency for one regex. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

export function sessionCookie(token: string, expiresAt: Date, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${encodeURIComponent(token)}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    `Expires=${expiresAt.toUTCString()}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`;
}
