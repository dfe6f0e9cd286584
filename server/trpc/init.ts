import { initTRPC, TRPCError } from '@trpc/server';
import { ZodError, z } from 'zod';
import { roleAtLeast } from '../auth/principal';
import { AppError, TRPC_CODE } from '../errors';
import type { ApiScope, Role } from '../generated/prisma/client';
import type { Context } from './context';

/** Declared per procedure: the API-token scope that may call it (tokens need `read` otherwise). */
export type ProcedureMeta = { scope?: ApiScope };

const t = initTRPC
  .context<Context>()
  .meta<ProcedureMeta>()
  .create({
    // Stack traces stay in the server log, never in a response.
    isDev: process.env.NODE_ENV === 'development',
    errorFormatter({ shape, error }) {
      const cause = error.cause;
      const zodError = cause instanceof ZodError ? cause : null;
      return {
        ...shape,
        // "username: Enter a username" rather than a JSON dump of zod's issues.
        message: zodError
          ? zodError.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ')
          : shape.message,
        data: {
          ...shape.data,
          // Names the bad fields, e.g. { fieldErrors: { username: ['Required'] } }.
          zodError: zodError ? z.flattenError(zodError) : null,
          details: cause instanceof AppError ? (cause.details ?? null) : null,
        },
      };
    },
  });

/** Turns a service's AppError into the matching tRPC error, keeping the message. */
const appErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof AppError) {
    const appError = result.error.cause;
    result.error = new TRPCError({
      code: TRPC_CODE[appError.code],
      message: appError.message,
      cause: appError,
    });
  }
  return result;
});

export const router = t.router;
export const publicProcedure = t.procedure.use(appErrors);

/** Any signed-in operator, or an API token with the `read` scope (or the procedure's scope). */
export const viewerProcedure = publicProcedure.use(({ ctx, meta, next }) => {
  const { principal } = ctx;
  if (!principal) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Sign in or send an API token' });
  if (principal.kind === 'token') {
    const needed = meta?.scope ?? 'read';
    if (!principal.scopes.includes(needed)) {
      throw new TRPCError({ code: 'FORBIDDEN', message: `This API token lacks the "${needed}" scope` });
    }
  }
  return next({ ctx: { principal } });
});

function requireRole(role: Role) {
  return viewerProcedure.use(({ ctx, meta, next }) => {
    const { principal } = ctx;
    const effectiveRole = principal.kind === 'user' ? principal.role : principal.ownerRole;
    if (principal.kind === 'token' && !meta?.scope) {
      throw new TRPCError({ code: 'FORBIDDEN', message: 'This action is not available to API tokens' });
    }
    if (!roleAtLeast(effectiveRole, role)) {
      throw new TRPCError({ code: 'FORBIDDEN', message: `This action needs the ${role} role` });
    }
    return next();
  });
}

export const operatorProcedure = requireRole('operator');
export const adminProcedure = requireRole('admin');
