import { z } from 'zod';
import type { LockStarted, ThrottleRefusal } from '../../auth/login-throttle';
import {
  clearedSessionCookie,
  login,
  logout,
  readCookie,
  SESSION_COOKIE,
  sessionCookie,
} from '../../auth/sessions';
import type { Db } from '../../db/client';
import { AppError } from '../../errors';
import { logger } from '../../log';
import { recordAudit } from '../../services/audit/audit-log';
import { publicProcedure, router, viewerProcedure } from '../init';

const log = logger('auth');

export const ZLoginInput = z.object({
  username: z.string().trim().min(1, 'Enter a username').max(64),
  password: z.string().min(1, 'Enter a password').max(256),
});

export const authRouter = router({
  /** Throttled per account and per client address (server/auth/login-throttle.ts). */
  login: publicProcedure.input(ZLoginInput).mutation(async ({ ctx, input }) => {
    const { runtime } = ctx;
    if (runtime.env.SWITCHYARD_PASSWORD_LOGIN === 'off') {
      throw new AppError(
        'FORBIDDEN',
        'Password sign-in is switched off on this server; sign in with single sign-on instead',
      );
    }
    const decision = ctx.loginThrottle.begin({ account: input.username, address: ctx.clientAddress });
    if (!decision.admitted) {
      ctx.res.setHeader('Retry-After', String(decision.refusal.retryAfterSeconds));
      throw throttled(decision.refusal);
    }
    const { attempt } = decision;
    let session: Awaited<ReturnType<typeof login>>;
    try {
      session = await login(runtime.db, {
        ...input,
        ttlHours: runtime.env.SWITCHYARD_SESSION_TTL_HOURS,
        userAgent: ctx.req.headers['user-agent'],
        address: ctx.clientAddress,
      });
    } catch (error) {
      if (error instanceof AppError && error.code === 'UNAUTHORIZED') {
        await auditLocks(runtime.db, attempt.failed(), input.username, ctx.clientAddress);
      } else attempt.abandoned();
      throw error;
    }
    attempt.succeeded();
    ctx.res.setHeader(
      'Set-Cookie',
      sessionCookie(
        session.sessionToken,
        session.expiresAt,
        runtime.env.SWITCHYARD_SECURE_COOKIES === 'true',
      ),
    );
    return { user: session.user };
  }),

  logout: viewerProcedure.mutation(async ({ ctx }) => {
    const token = readCookie(ctx.req.headers.cookie, SESSION_COOKIE);
    if (token) await logout(ctx.runtime.db, token);
    ctx.res.setHeader('Set-Cookie', clearedSessionCookie());
    return { ok: true };
  }),

  me: viewerProcedure.query(({ ctx }) => {
    const p = ctx.principal;
    return p.kind === 'user'
      ? { kind: p.kind, name: p.name, role: p.role }
      : { kind: p.kind, name: p.name, role: p.ownerRole, scopes: p.scopes };
  }),
});

function throttled(refusal: ThrottleRefusal): AppError {
  const who = refusal.scope === 'account' ? 'this account' : 'this address';
  const wait = refusal.retryAfterSeconds;
  const when = wait >= 120 ? `${Math.ceil(wait / 60)} minutes` : `${wait} s`;
  const message = refusal.locked
    ? `Too many failed sign-ins: ${who} is locked; try again in ${when} (at ${refusal.retryAt.toISOString()})`
    : `Too many failed sign-ins for ${who}; try again in ${when}`;
  return new AppError('TOO_MANY_REQUESTS', message, {
    retryAfterSeconds: wait,
    retryAt: refusal.retryAt.toISOString(),
    locked: refusal.locked,
  });
}

/** Each lock a failure started goes to the audit log (the attempts themselves do not). */
async function auditLocks(db: Db, locks: LockStarted[], username: string, address: string): Promise<void> {
  for (const lock of locks) {
    const user =
      lock.scope === 'account'
        ? await db.user.findUnique({ where: { username }, select: { id: true } })
        : null;
    log.warn(`sign-in locked for ${lock.scope} ${lock.key} until ${lock.until.toISOString()}`);
    await recordAudit(db, {
      actor: { kind: 'system', id: null, name: 'login-throttle' },
      action: 'auth.login.locked',
      targetType: lock.scope === 'account' ? 'user' : 'address',
      targetId: lock.scope === 'account' ? user?.id : lock.key,
      reason: `${lock.failures} failed sign-ins`,
      outcome: 'locked',
      details: {
        scope: lock.scope,
        username: lock.scope === 'account' ? username : undefined,
        address,
        failures: lock.failures,
        until: lock.until.toISOString(),
      },
    });
  }
}
