import type { Server as SocketServer } from 'socket.io';
import { LIVE_NAMESPACE } from '../../lib/protocol/live';
import type { Db } from '../db/client';
import { AppError } from '../errors';
import { Prisma, type Role } from '../generated/prisma/client';
import { recordAudit } from '../services/audit/audit-log';
import { hashPassword, passwordProblem, verifyPassword } from './passwords';
import type { Principal } from './principal';
import { hashSecret, newSecret } from './secrets';

/**
 * People and their access: admins create users, set roles, disable and re-enable them and
 * reset passwords; everyone changes their own password and ends their own sessions. Every
 * change is audited, and each one that takes access away applies to the person's sessions
 * at once (their sessions are deleted; a role is read afresh on every request anyway).
 */

/** How long a one-time set-password link works. */
export const PASSWORD_LINK_TTL_HOURS = 24;

type Tx = Prisma.TransactionClient;

export type UserView = {
  id: string;
  username: string;
  role: Role;
  disabled: boolean;
  disabledAt: string | null;
  createdAt: string;
  lastLoginAt: string | null;
  /** False for someone created with a set-password link who has not used it yet. */
  hasPassword: boolean;
  /** Signs in through single sign-on: no password here, and the role follows their groups. */
  singleSignOn: boolean;
  activeSessions: number;
};

export type PasswordLinkView = {
  token: string;
  /** Relative to the console's address: `/set-password?token=…`. */
  path: string;
  expiresAt: string;
};

export type SessionView = {
  id: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string;
  userAgent: string | null;
  address: string | null;
  current: boolean;
};

/** The person an admin action is attributed to: the user behind a session (tokens may not manage users). */
function actorOf(principal: Principal) {
  return { kind: principal.kind, id: principal.id, name: principal.name };
}

function refuseProblem(field: string, password: string, username: string): void {
  const problem = passwordProblem(password, username);
  if (problem) throw new AppError('BAD_REQUEST', `${field}: ${problem}`, { field });
}

export async function listUsers(db: Db): Promise<UserView[]> {
  const now = new Date();
  const users = await db.user.findMany({
    orderBy: { username: 'asc' },
    include: { _count: { select: { sessions: { where: { expiresAt: { gt: now } } } } } },
  });
  return users.map((u) => ({
    id: u.id,
    username: u.username,
    role: u.role,
    disabled: u.disabledAt !== null,
    disabledAt: u.disabledAt?.toISOString() ?? null,
    createdAt: u.createdAt.toISOString(),
    lastLoginAt: u.lastLoginAt?.toISOString() ?? null,
    hasPassword: u.passwordHash !== null,
    singleSignOn: u.externalIssuer !== null,
    activeSessions: u._count.sessions,
  }));
}

async function userView(db: Db, id: string): Promise<UserView> {
  const view = (await listUsers(db)).find((u) => u.id === id);
  if (!view) throw new AppError('NOT_FOUND', `id: no user with id ${id}`);
  return view;
}

/** Replaces the person's unused links with a new one; only its hash is stored. */
async function issuePasswordLink(tx: Tx, userId: string, actor: Principal): Promise<PasswordLinkView> {
  await tx.passwordLink.deleteMany({ where: { userId, usedAt: null } });
  const token = newSecret('pwl');
  const expiresAt = new Date(Date.now() + PASSWORD_LINK_TTL_HOURS * 3600_000);
  await tx.passwordLink.create({
    data: {
      tokenHash: hashSecret(token),
      userId,
      createdById: actor.kind === 'user' ? actor.id : null,
      expiresAt,
    },
  });
  return {
    token,
    path: `/set-password?token=${encodeURIComponent(token)}`,
    expiresAt: expiresAt.toISOString(),
  };
}

export async function createUser(
  db: Db,
  input: { username: string; role: Role; password?: string; actor: Principal },
): Promise<{ user: UserView; passwordLink: PasswordLinkView | null }> {
  if (input.password !== undefined) refuseProblem('password', input.password, input.username);
  const passwordHash = input.password !== undefined ? await hashPassword(input.password) : null;
  let created: { id: string; passwordLink: PasswordLinkView | null };
  try {
    created = await db.$transaction(async (tx) => {
      const taken = await tx.user.findFirst({
        where: { username: { equals: input.username, mode: 'insensitive' } },
        select: { username: true },
      });
      if (taken) throw new AppError('CONFLICT', `username: a user named ${taken.username} already exists`);
      const user = await tx.user.create({
        data: { username: input.username, role: input.role, passwordHash },
      });
      const passwordLink = passwordHash ? null : await issuePasswordLink(tx, user.id, input.actor);
      await recordAudit(tx, {
        actor: actorOf(input.actor),
        action: 'user.create',
        targetType: 'user',
        targetId: user.id,
        details: {
          username: user.username,
          role: user.role,
          password: passwordLink ? 'one-time link' : 'set by admin',
        },
      });
      return { id: user.id, passwordLink };
    });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
      throw new AppError('CONFLICT', `username: a user named ${input.username} already exists`);
    }
    throw error;
  }
  return { user: await userView(db, created.id), passwordLink: created.passwordLink };
}

/**
 * Locks the enabled admins' rows, in one order, before anything else in a transaction that may
 * take the admin role away: concurrent callers queue here rather than deadlock. A demotion or
 * disable that committed while we waited is seen: Postgres re-checks a locked row's WHERE.
 */
async function lockEnabledAdmins(tx: Tx): Promise<Set<string>> {
  const admins = await tx.$queryRaw<{ id: string }[]>`
    SELECT "id" FROM "User" WHERE "role" = 'admin' AND "disabledAt" IS NULL ORDER BY "id" FOR UPDATE`;
  return new Set(admins.map((a) => a.id));
}

function refuseLastAdmin(admins: Set<string>, userId: string, what: string): void {
  if (admins.size <= 1 && admins.has(userId)) {
    throw new AppError('CONFLICT', `Cannot ${what} the last enabled admin: make another user an admin first`);
  }
}

async function lockUser(tx: Tx, id: string) {
  const rows = await tx.$queryRaw<{ id: string }[]>`SELECT "id" FROM "User" WHERE "id" = ${id} FOR UPDATE`;
  if (rows.length === 0) throw new AppError('NOT_FOUND', `id: no user with id ${id}`);
  return tx.user.findUniqueOrThrow({ where: { id } });
}

/** A role is read on every request, so the change applies to the person's sessions and tokens at once. */
export async function setUserRole(
  db: Db,
  input: { id: string; role: Role; actor: Principal },
): Promise<UserView> {
  await db.$transaction(async (tx) => {
    const admins = await lockEnabledAdmins(tx);
    const user = await lockUser(tx, input.id);
    if (user.role === input.role) return;
    if (user.role === 'admin') refuseLastAdmin(admins, user.id, 'demote');
    await tx.user.update({ where: { id: user.id }, data: { role: input.role } });
    await recordAudit(tx, {
      actor: actorOf(input.actor),
      action: 'user.role',
      targetType: 'user',
      targetId: user.id,
      details: { username: user.username, from: user.role, to: input.role },
    });
  });
  return userView(db, input.id);
}

/**
 * Disabling signs the person out everywhere at once (their sessions are deleted) and stops
 * their API tokens (refused while the owner is disabled); enabling lets them sign in again.
 */
export async function setUserDisabled(
  db: Db,
  input: { id: string; disabled: boolean; actor: Principal },
): Promise<UserView> {
  if (input.disabled && input.actor.kind === 'user' && input.actor.id === input.id) {
    throw new AppError('CONFLICT', 'You cannot disable your own account');
  }
  await db.$transaction(async (tx) => {
    const admins = await lockEnabledAdmins(tx);
    const user = await lockUser(tx, input.id);
    if ((user.disabledAt !== null) === input.disabled) return;
    if (input.disabled && user.role === 'admin') refuseLastAdmin(admins, user.id, 'disable');
    await tx.user.update({
      where: { id: user.id },
      data: { disabledAt: input.disabled ? new Date() : null },
    });
    const ended = input.disabled ? (await tx.session.deleteMany({ where: { userId: user.id } })).count : 0;
    await recordAudit(tx, {
      actor: actorOf(input.actor),
      action: input.disabled ? 'user.disable' : 'user.enable',
      targetType: 'user',
      targetId: user.id,
      details: input.disabled
        ? { username: user.username, sessionsEnded: ended }
        : { username: user.username },
    });
  });
  return userView(db, input.id);
}

/**
 * An admin sets someone's password, or (without one) issues a one-time link and clears the
 * old password so it stops working. Either way the person's sessions end and earlier links die.
 */
export async function resetPassword(
  db: Db,
  input: { id: string; password?: string; actor: Principal },
): Promise<{ user: UserView; passwordLink: PasswordLinkView | null }> {
  if (input.actor.kind === 'user' && input.actor.id === input.id) {
    throw new AppError('CONFLICT', 'Change your own password on the account page: it needs your current one');
  }
  const target = await db.user.findUnique({ where: { id: input.id } });
  if (!target) throw new AppError('NOT_FOUND', `id: no user with id ${input.id}`);
  if (target.externalIssuer !== null) {
    // A password would be a second way in that the identity provider does not govern.
    throw new AppError(
      'CONFLICT',
      `${target.username} signs in through single sign-on and has no password here; disable them to keep them out`,
    );
  }
  if (input.password !== undefined) refuseProblem('password', input.password, target.username);
  const passwordHash = input.password !== undefined ? await hashPassword(input.password) : null;
  const passwordLink = await db.$transaction(async (tx) => {
    await lockUser(tx, input.id);
    await tx.user.update({ where: { id: input.id }, data: { passwordHash } });
    const ended = (await tx.session.deleteMany({ where: { userId: input.id } })).count;
    let link: PasswordLinkView | null = null;
    if (passwordHash) await tx.passwordLink.deleteMany({ where: { userId: input.id, usedAt: null } });
    else link = await issuePasswordLink(tx, input.id, input.actor);
    await recordAudit(tx, {
      actor: actorOf(input.actor),
      action: 'user.password.reset',
      targetType: 'user',
      targetId: input.id,
      details: {
        username: target.username,
        method: link ? 'one-time link' : 'set by admin',
        sessionsEnded: ended,
      },
    });
    return link;
  });
  return { user: await userView(db, input.id), passwordLink };
}

/** Needs the current password; ends the person's other sessions, keeps the one they are using. */
export async function changeOwnPassword(
  db: Db,
  input: { userId: string; currentPassword: string; newPassword: string; currentTokenHash: string | null },
): Promise<{ sessionsEnded: number }> {
  const user = await db.user.findUniqueOrThrow({ where: { id: input.userId } });
  if (!user.passwordHash || !(await verifyPassword(user.passwordHash, input.currentPassword))) {
    throw new AppError('BAD_REQUEST', 'currentPassword: That is not your current password', {
      field: 'currentPassword',
    });
  }
  refuseProblem('newPassword', input.newPassword, user.username);
  if (input.newPassword === input.currentPassword) {
    throw new AppError('BAD_REQUEST', 'newPassword: Choose a password different from the current one', {
      field: 'newPassword',
    });
  }
  const passwordHash = await hashPassword(input.newPassword);
  return db.$transaction(async (tx) => {
    await tx.user.update({ where: { id: user.id }, data: { passwordHash } });
    const { count } = await tx.session.deleteMany({
      where: {
        userId: user.id,
        ...(input.currentTokenHash ? { tokenHash: { not: input.currentTokenHash } } : {}),
      },
    });
    await tx.passwordLink.deleteMany({ where: { userId: user.id, usedAt: null } });
    await recordAudit(tx, {
      actor: { kind: 'user', id: user.id, name: user.username },
      action: 'user.password.change',
      targetType: 'user',
      targetId: user.id,
      details: { sessionsEnded: count },
    });
    return { sessionsEnded: count };
  });
}

async function validLink(db: Db, token: string) {
  const link = await db.passwordLink.findUnique({
    where: { tokenHash: hashSecret(token) },
    include: { user: true },
  });
  if (!link || link.usedAt || link.expiresAt <= new Date()) throw linkGone();
  return link;
}

function linkGone(): AppError {
  return new AppError(
    'NOT_FOUND',
    'token: This link has been used, replaced or has expired; ask an admin for a new one',
    { field: 'token' },
  );
}

/** What the set-password page shows before the person chooses: whose link it is, until when. */
export async function describePasswordLink(
  db: Db,
  token: string,
): Promise<{ username: string; expiresAt: string }> {
  const link = await validLink(db, token);
  return { username: link.user.username, expiresAt: link.expiresAt.toISOString() };
}

/** Uses a one-time link: the first valid use sets the password; any later one is refused. */
export async function setPasswordWithLink(
  db: Db,
  input: { token: string; password: string },
): Promise<{ username: string }> {
  const link = await validLink(db, input.token);
  if (link.user.disabledAt) {
    throw new AppError('FORBIDDEN', 'This account is disabled; ask an admin to enable it');
  }
  refuseProblem('password', input.password, link.user.username);
  const passwordHash = await hashPassword(input.password);
  return db.$transaction(async (tx) => {
    // Only one of two concurrent uses marks the link used.
    const { count } = await tx.passwordLink.updateMany({
      where: { id: link.id, usedAt: null, expiresAt: { gt: new Date() } },
      data: { usedAt: new Date() },
    });
    if (count !== 1) throw linkGone();
    await tx.user.update({ where: { id: link.userId }, data: { passwordHash } });
    const ended = (await tx.session.deleteMany({ where: { userId: link.userId } })).count;
    await recordAudit(tx, {
      actor: { kind: 'user', id: link.user.id, name: link.user.username },
      action: 'user.password.set',
      targetType: 'user',
      targetId: link.userId,
      details: { via: 'one-time link', sessionsEnded: ended },
    });
    return { username: link.user.username };
  });
}

export async function listOwnSessions(
  db: Db,
  input: { userId: string; currentTokenHash: string | null },
): Promise<SessionView[]> {
  const sessions = await db.session.findMany({
    where: { userId: input.userId, expiresAt: { gt: new Date() } },
    orderBy: { createdAt: 'desc' },
  });
  return sessions.map((s) => ({
    id: s.id,
    createdAt: s.createdAt.toISOString(),
    lastUsedAt: s.lastUsedAt?.toISOString() ?? null,
    expiresAt: s.expiresAt.toISOString(),
    userAgent: s.userAgent,
    address: s.address,
    current: s.tokenHash === input.currentTokenHash,
  }));
}

/** Ends one of the person's own sessions (the current one too: that is signing out). */
export async function endOwnSession(
  db: Db,
  input: { userId: string; userName: string; sessionId: string },
): Promise<{ ended: number }> {
  return db.$transaction(async (tx) => {
    const { count } = await tx.session.deleteMany({ where: { id: input.sessionId, userId: input.userId } });
    if (count === 0) throw new AppError('NOT_FOUND', `id: you have no session with id ${input.sessionId}`);
    await recordAudit(tx, {
      actor: { kind: 'user', id: input.userId, name: input.userName },
      action: 'session.end',
      targetType: 'session',
      targetId: input.sessionId,
    });
    return { ended: count };
  });
}

/** Ends every session of the person except the one making the request. */
export async function endOtherSessions(
  db: Db,
  input: { userId: string; userName: string; currentTokenHash: string },
): Promise<{ ended: number }> {
  return db.$transaction(async (tx) => {
    const { count } = await tx.session.deleteMany({
      where: { userId: input.userId, tokenHash: { not: input.currentTokenHash } },
    });
    await recordAudit(tx, {
      actor: { kind: 'user', id: input.userId, name: input.userName },
      action: 'session.end',
      targetType: 'user',
      targetId: input.userId,
      details: { scope: 'all other sessions', ended: count },
    });
    return { ended: count };
  });
}

/** Closes the live-update connections a person (or their API tokens) holds open. */
export async function disconnectLiveSockets(io: SocketServer, userId: string): Promise<void> {
  const sockets = await io.of(LIVE_NAMESPACE).fetchSockets();
  for (const socket of sockets) {
    const principal = (socket.data as { principal?: Principal }).principal;
    if (!principal) continue;
    const owner = principal.kind === 'user' ? principal.id : principal.ownerId;
    if (owner === userId) socket.disconnect(true);
  }
}
