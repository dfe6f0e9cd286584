import { z } from 'zod';
import { listApiTokens, revokeApiToken } from '../../auth/api-tokens';
import { createApiToken } from '../../auth/sessions';
import { AppError } from '../../errors';
import { createEnrollmentToken } from '../../services/agents/enrollment';
import { adminProcedure, router } from '../init';
import { ZApiScope, ZApiToken, ZCreatedApiToken, ZRevokedApiToken } from '../schemas/admin';

/** API tokens are managed by signed-in admins only: a token cannot mint or revoke tokens. */
const SESSION_ONLY = 'Admins signed in to the console only; API tokens cannot manage tokens.';

export const adminRouter = router({
  createApiToken: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/tokens',
        tags: ['admin'],
        summary: 'Create an API token',
        description: SESSION_ONLY,
      },
    })
    .input(
      z.object({
        name: z.string().trim().min(1, 'Name the token').max(64),
        scopes: z.array(ZApiScope).min(1, 'Choose at least one scope'),
        expiresInDays: z.number().int().positive().max(3650).optional(),
      }),
    )
    .output(ZCreatedApiToken)
    .mutation(async ({ ctx, input }) => {
      const { principal, runtime } = ctx;
      const created = await createApiToken(runtime.db, {
        name: input.name,
        scopes: input.scopes,
        createdById: principal.kind === 'user' ? principal.id : principal.ownerId,
        expiresAt: input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86400_000) : undefined,
      });
      await runtime.db.auditEvent.create({
        data: {
          actorType: principal.kind,
          actorId: principal.id,
          actorName: principal.name,
          action: 'apiToken.create',
          targetType: 'apiToken',
          targetId: created.id,
          details: { name: input.name, scopes: input.scopes },
        },
      });
      return created;
    }),

  listApiTokens: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/admin/tokens',
        tags: ['admin'],
        summary: 'List API tokens',
        description: SESSION_ONLY,
      },
    })
    .output(z.array(ZApiToken))
    .query(({ ctx }) => listApiTokens(ctx.runtime.db)),

  revokeApiToken: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/tokens/{id}/revoke',
        tags: ['admin'],
        summary: 'Revoke an API token',
        description: `Takes effect on the next request. ${SESSION_ONLY}`,
      },
    })
    .input(z.object({ id: z.string().min(1).max(64) }))
    .output(ZRevokedApiToken)
    .mutation(({ ctx, input }) => revokeApiToken(ctx.runtime.db, { id: input.id, actor: ctx.principal })),

  createEnrollmentToken: adminProcedure
    .input(
      z.object({
        clusterName: z.string().min(1).max(64),
        description: z.string().max(200).default('agent enrollment'),
        maxUses: z.number().int().positive().max(10_000).default(1),
        expiresInHours: z
          .number()
          .positive()
          .max(24 * 365)
          .default(24),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { db } = ctx.runtime;
      const cluster = await db.cluster.findUnique({ where: { name: input.clusterName } });
      if (!cluster) throw new AppError('NOT_FOUND', `clusterName: no cluster named ${input.clusterName}`);
      const created = await createEnrollmentToken(db, {
        clusterId: cluster.id,
        description: input.description,
        maxUses: input.maxUses,
        expiresAt: new Date(Date.now() + input.expiresInHours * 3600_000),
      });
      return { ...created, clusterName: cluster.name };
    }),
});
