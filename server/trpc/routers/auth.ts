import { z } from 'zod';
import {
  clearedSessionCookie,
  login,
  logout,
  readCookie,
  SESSION_COOKIE,
  sessionCookie,
} from '../../auth/sessions';
import { AppError } from '../../errors';
import { publicProcedure, router, viewerProcedure } from '../init';
import { throttledPasswordCheck } from '../password-attempt';

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
    const session = await throttledPasswordCheck(
      ctx,
      input.username,
      () =>
        login(runtime.db, {
          ...input,
          ttlHours: runtime.env.SWITCHYARD_SESSION_TTL_HOURS,
          userAgent: ctx.req.headers['user-agent'],
          address: ctx.clientAddress,
        }),
      (error) => error instanceof AppError && error.code === 'UNAUTHORIZED',
    );
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
