import type { LockStarted, ThrottleRefusal } from '../auth/login-throttle';
import type { Db } from '../db/client';
import { AppError } from '../errors';
import { logger } from '../log';
import { recordAudit } from '../services/audit/audit-log';
import type { Context } from './context';

const log = logger('auth');

/**
 * Runs something that checks a password (a sign-in, or a password change that needs the
 * current one) under the login throttle for that account and the client's address, so a
 * stolen session cannot guess the password through the change form any faster than through
 * the sign-in page. `wrongPassword` tells a wrong password (counted) from other failures
 * (not counted).
 */
export async function throttledPasswordCheck<T>(
  ctx: Pick<Context, 'loginThrottle' | 'clientAddress' | 'res' | 'runtime'>,
  username: string,
  check: () => Promise<T>,
  wrongPassword: (error: unknown) => boolean,
): Promise<T> {
  const decision = ctx.loginThrottle.begin({ account: username, address: ctx.clientAddress });
  if (!decision.admitted) {
    ctx.res.setHeader('Retry-After', String(decision.refusal.retryAfterSeconds));
    throw throttled(decision.refusal);
  }
  const { attempt } = decision;
  let result: T;
  try {
    result = await check();
  } catch (error) {
    if (wrongPassword(error)) await auditLocks(ctx.runtime.db, attempt.failed(), username, ctx.clientAddress);
    else attempt.abandoned();
    throw error;
  }
  attempt.succeeded();
  return result;
}

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
