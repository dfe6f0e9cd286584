import { initTRPC, TRPCError } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { ZodError, z } from 'zod';
import { findJsonFault } from '../../lib/json-guards';
import { roleAtLeast } from '../auth/principal';
import { AppError, TRPC_CODE } from '../errors';
import type { ApiScope, Role } from '../generated/prisma/client';
import type { Context } from './context';

/**
 * Declared per procedure: the API-token scope that may call it (tokens need `read` otherwise),
 * and `openapi` (method, path, summary, tags) for the procedures also served as REST under /api/v1.
 */
export type ProcedureMeta = OpenApiMeta<{ scope?: ApiScope }>;

/** "username: Enter a username; password: Enter a password", naming every bad field. */
export function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `${i.path.map(String).join('.') || 'input'}: ${i.message}`).join('; ');
}

const t = initTRPC
  .context<Context>()
  .meta<ProcedureMeta>()
  .create({
    // Stack traces stay in the server log, never in a response.
    isDev: process.env.NODE_ENV === 'development',
    errorFormatter({ shape, error }) {
      const cause = error.cause;
      if (error.code === 'INTERNAL_SERVER_ERROR' && !(cause instanceof AppError)) {
        // A database or programming error: its text (table names, SQL, values) stays in
        // the server log (onError), the client learns only that it failed.
        const { stack: _stack, ...data } = shape.data;
        return { ...shape, message: 'internal error', data: { ...data, zodError: null, details: null } };
      }
      const zodError = cause instanceof ZodError ? cause : null;
      return {
        ...shape,
        // "username: Enter a username" rather than a JSON dump of zod's issues.
        message: zodError ? describeIssues(zodError.issues) : shape.message,
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

/**
 * Every input from outside (tRPC bodies and query strings, REST bodies, query and path
 * values) is refused before any schema or database sees it when it nests deeper than
 * MAX_JSON_DEPTH or holds a control character such as NUL: a 400 naming the field.
 */
const boundedInputs = t.middleware(async ({ getRawInput, next }) => {
  let raw: unknown;
  try {
    raw = await getRawInput();
  } catch {
    // A body that is not JSON: the procedure's input parser reports it (or has no input).
    return next();
  }
  const fault = findJsonFault(raw);
  if (fault) throw new AppError('BAD_REQUEST', fault.message, { field: fault.field });
  return next();
});

export const router = t.router;
export const publicProcedure = t.procedure.use(appErrors).use(boundedInputs);

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

/** Who may call a procedure: the least role, and the API-token scope that may (null: tokens may not). */
export type ProcedureAccess = { role: Role | null; tokenScope: ApiScope | null };

type BuiltProcedure = { _def: { middlewares: readonly unknown[]; meta?: ProcedureMeta } };

const ROLE_CHECKS = new Map<unknown, Role>(
  (
    [
      [viewerProcedure, 'viewer'],
      [operatorProcedure, 'operator'],
      [adminProcedure, 'admin'],
    ] as const
  ).map(([builder, role]) => [(builder as unknown as BuiltProcedure)._def.middlewares.at(-1), role]),
);

/**
 * Reads a procedure's access rule from the builder it was made with (the same middlewares
 * that enforce it), so the API reference cannot drift from what the server does.
 */
export function procedureAccess(procedure: unknown): ProcedureAccess {
  const { middlewares, meta } = (procedure as BuiltProcedure)._def;
  let role: Role | null = null;
  for (const middleware of middlewares) {
    const checked = ROLE_CHECKS.get(middleware);
    if (checked && (role === null || roleAtLeast(checked, role))) role = checked;
  }
  if (role === null) return { role, tokenScope: null };
  // Viewer procedures take `read` tokens; operator and admin ones only a scope they declare.
  return { role, tokenScope: meta?.scope ?? (role === 'viewer' ? 'read' : null) };
}
