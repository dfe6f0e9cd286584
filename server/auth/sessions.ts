import type { Db } from '../db/client';
import { AppError } from '../errors';
import { recordAudit } from '../services/audit/audit-log';
import { burnPasswordCheck, verifyPassword } from './passwords';
import type { Principal } from './principal';
import { hashSecret, newSecret, secretPrefix } from './secrets';

export const SESSION_COOKIE = 'sy_session';

/** Refused sign-ins are audited with the name that was tried; nobody is signed in to act. */
const SIGN_IN_ACTOR = { kind: 'system', id: null, name: 'sign-in' } as const;

/** How often a session's lastUsedAt is written: "last used" to the minute is enough. */
const LAST_USED_RESOLUTION_MS = 60_000;

export async function login(
  db: Db,
  input: { username: string; password: string; ttlHours: number; userAgent?: string; address?: string },
): Promise<StartedSession> {
  const user = await db.user.findUnique({ where: { username: input.username } });
  const refuse = async (reason: string, error: AppError): Promise<never> => {
    await recordAudit(db, {
      actor: SIGN_IN_ACTOR,
      action: 'auth.login.failed',
      targetType: 'user',
      targetId: user?.id,
      outcome: 'refused',
      reason,
      details: { username: input.username, address: input.address },
    });
    throw error;
  };
  const wrong = new AppError('UNAUTHORIZED', 'Wrong username or password');
  if (!user?.passwordHash) {
    await burnPasswordCheck(input.password);
    return refuse(user ? 'no password set yet' : 'unknown user', wrong);
  }
  if (!(await verifyPassword(user.passwordHash, input.password))) return refuse('wrong password', wrong);
  // Said only to someone who knows the password, so it reveals nothing to a guesser.
  if (user.disabledAt) {
    return refuse(
      'account disabled',
      new AppError('FORBIDDEN', 'This account is disabled; ask an admin to enable it'),
    );
  }
  return startSession(db, user, { ...input, method: 'password' });
}

export type StartedSession = {
  sessionToken: string;
  expiresAt: Date;
  user: { id: string; username: string; role: string };
};

/**
 * Signs someone in whose identity is already proven (a password, or an OpenID provider's ID
 * token): one session, the last-sign-in time and an `auth.login` audit event naming the method.
 */
export async function startSession(
  db: Db,
  user: { id: string; username: string; role: string },
  input: { ttlHours: number; userAgent?: string; address?: string; method: 'password' | 'oidc' },
): Promise<StartedSession> {
  const sessionToken = newSecret('sess');
  const now = new Date();
  const expiresAt = new Date(now.getTime() + input.ttlHours * 3600_000);
  await db.$transaction([
    db.session.create({
      data: {
        tokenHash: hashSecret(sessionToken),
        userId: user.id,
        expiresAt,
        lastUsedAt: now,
        userAgent: input.userAgent?.slice(0, 256),
        address: input.address,
      },
    }),
    db.user.update({ where: { id: user.id }, data: { lastLoginAt: now } }),
    db.auditEvent.create({
      data: {
        actorType: 'user',
        actorId: user.id,
        actorName: user.username,
        action: 'auth.login',
        targetType: 'user',
        targetId: user.id,
        details: { address: input.address, method: input.method },
      },
    }),
  ]);
  return { sessionToken, expiresAt, user: { id: user.id, username: user.username, role: user.role } };
}

export async function logout(db: Db, sessionToken: string): Promise<void> {
  await db.session.deleteMany({ where: { tokenHash: hashSecret(sessionToken) } });
}

/**
 * The person behind a session cookie, read afresh on every request: a role change applies to
 * their next request, and a disabled person's sessions stop working at once.
 */
export async function principalFromSession(db: Db, sessionToken: string): Promise<Principal | null> {
  const session = await db.session.findUnique({
    where: { tokenHash: hashSecret(sessionToken) },
    include: { user: true },
  });
  const now = Date.now();
  if (!session || session.expiresAt.getTime() < now || session.user.disabledAt) return null;
  if (!session.lastUsedAt || now - session.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
    // Informative only; do not make the request wait for it.
    void db.session
      .updateMany({ where: { id: session.id }, data: { lastUsedAt: new Date(now) } })
      .catch(() => undefined);
  }
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
