import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { PASSWORD_RULE } from '../../auth/passwords';
import { hashSecret } from '../../auth/secrets';
import { clearedSessionCookie, readCookie, SESSION_COOKIE } from '../../auth/sessions';
import {
  changeOwnPassword,
  createUser,
  describePasswordLink,
  disconnectLiveSockets,
  endOtherSessions,
  endOwnSession,
  listOwnSessions,
  listUsers,
  resetPassword,
  setPasswordWithLink,
  setUserDisabled,
  setUserRole,
} from '../../auth/users';
import { AppError } from '../../errors';
import type { Context } from '../context';
import { adminProcedure, publicProcedure, router, viewerProcedure } from '../init';
import { throttledPasswordCheck } from '../password-attempt';
import { ZNewPassword, ZRole, ZUser, ZUsername, ZUserWithLink } from '../schemas/users';

/** Users are managed by signed-in admins only: an API token cannot create people or change access. */
const SESSION_ONLY = 'Admins signed in to the console only; API tokens cannot manage users.';

const ZUserId = z.object({ id: z.string().min(1).max(64) });
const ZLinkToken = z.string().min(1, 'The link has no token').max(128);

/** For what only the person themselves may do, signed in with a session (never an API token). */
const personProcedure = viewerProcedure.use(({ ctx, next }) => {
  const { principal } = ctx;
  if (principal.kind !== 'user') {
    throw new TRPCError({ code: 'FORBIDDEN', message: 'Sign in to the console for this; API tokens cannot' });
  }
  return next({ ctx: { principal } });
});

function currentTokenHash(ctx: Pick<Context, 'req'>): string | null {
  const token = readCookie(ctx.req.headers.cookie, SESSION_COOKIE);
  return token ? hashSecret(token) : null;
}

export const usersRouter = router({
  list: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/admin/users',
        tags: ['admin'],
        summary: 'List users',
        description: SESSION_ONLY,
      },
    })
    .output(z.array(ZUser))
    .query(({ ctx }) => listUsers(ctx.runtime.db)),

  create: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/users',
        tags: ['admin'],
        summary: 'Create a user',
        description:
          `With a password (${PASSWORD_RULE}), or without one: then the answer holds a one-time ` +
          `set-password link, valid 24 hours, shown this once. ${SESSION_ONLY}`,
      },
    })
    .input(z.object({ username: ZUsername, role: ZRole, password: ZNewPassword.optional() }))
    .output(ZUserWithLink)
    .mutation(({ ctx, input }) => createUser(ctx.runtime.db, { ...input, actor: ctx.principal })),

  setRole: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/users/{id}/role',
        tags: ['admin'],
        summary: "Set a user's role",
        description:
          'Applies to their sessions and API tokens on the next request. Demoting the last enabled ' +
          `admin is refused with 409. ${SESSION_ONLY}`,
      },
    })
    .input(ZUserId.extend({ role: ZRole }))
    .output(ZUser)
    .mutation(({ ctx, input }) => setUserRole(ctx.runtime.db, { ...input, actor: ctx.principal })),

  disable: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/users/{id}/disable',
        tags: ['admin'],
        summary: 'Disable a user',
        description:
          'Ends their sessions and stops their API tokens at once; they cannot sign in until enabled. ' +
          `Disabling the last enabled admin, or yourself, is refused with 409. ${SESSION_ONLY}`,
      },
    })
    .input(ZUserId)
    .output(ZUser)
    .mutation(async ({ ctx, input }) => {
      const user = await setUserDisabled(ctx.runtime.db, {
        id: input.id,
        disabled: true,
        actor: ctx.principal,
      });
      await disconnectLiveSockets(ctx.runtime.io, user.id);
      return user;
    }),

  enable: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/users/{id}/enable',
        tags: ['admin'],
        summary: 'Enable a disabled user',
        description: SESSION_ONLY,
      },
    })
    .input(ZUserId)
    .output(ZUser)
    .mutation(({ ctx, input }) =>
      setUserDisabled(ctx.runtime.db, { id: input.id, disabled: false, actor: ctx.principal }),
    ),

  resetPassword: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/users/{id}/reset-password',
        tags: ['admin'],
        summary: "Reset a user's password",
        description:
          'Sets the given password, or without one clears the old password and answers a one-time ' +
          `set-password link. Either way their sessions end. ${SESSION_ONLY}`,
      },
    })
    .input(ZUserId.extend({ password: ZNewPassword.optional() }))
    .output(ZUserWithLink)
    .mutation(({ ctx, input }) => resetPassword(ctx.runtime.db, { ...input, actor: ctx.principal })),

  /** The person's own password: needs the current one; their other sessions end. */
  changePassword: personProcedure
    .input(z.object({ currentPassword: z.string().max(256), newPassword: ZNewPassword }))
    .mutation(({ ctx, input }) =>
      throttledPasswordCheck(
        ctx,
        ctx.principal.name,
        () =>
          changeOwnPassword(ctx.runtime.db, {
            userId: ctx.principal.id,
            ...input,
            currentTokenHash: currentTokenHash(ctx),
          }),
        (error) => error instanceof AppError && error.details?.field === 'currentPassword',
      ),
    ),

  sessions: personProcedure.query(({ ctx }) =>
    listOwnSessions(ctx.runtime.db, { userId: ctx.principal.id, currentTokenHash: currentTokenHash(ctx) }),
  ),

  endSession: personProcedure.input(ZUserId).mutation(async ({ ctx, input }) => {
    const current = (
      await listOwnSessions(ctx.runtime.db, {
        userId: ctx.principal.id,
        currentTokenHash: currentTokenHash(ctx),
      })
    ).find((s) => s.current);
    const result = await endOwnSession(ctx.runtime.db, {
      userId: ctx.principal.id,
      userName: ctx.principal.name,
      sessionId: input.id,
    });
    const signedOut = current?.id === input.id;
    if (signedOut) ctx.res.setHeader('Set-Cookie', clearedSessionCookie());
    return { ...result, signedOut };
  }),

  endOtherSessions: personProcedure.mutation(({ ctx }) => {
    const tokenHash = currentTokenHash(ctx);
    if (!tokenHash)
      throw new TRPCError({ code: 'BAD_REQUEST', message: 'No session cookie in this request' });
    return endOtherSessions(ctx.runtime.db, {
      userId: ctx.principal.id,
      userName: ctx.principal.name,
      currentTokenHash: tokenHash,
    });
  }),

  /** Public: whose one-time link this is, for the set-password page. */
  passwordLink: publicProcedure
    .input(z.object({ token: ZLinkToken }))
    .query(({ ctx, input }) => describePasswordLink(ctx.runtime.db, input.token)),

  /** Public: the link is the credential; it works once. */
  setPasswordWithLink: publicProcedure
    .input(z.object({ token: ZLinkToken, password: ZNewPassword }))
    .mutation(({ ctx, input }) => setPasswordWithLink(ctx.runtime.db, input)),
});
