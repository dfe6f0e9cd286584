import { z } from 'zod';
import { createApiToken } from '../../auth/sessions';
import { AppError } from '../../errors';
import { createEnrollmentToken } from '../../services/agents/enrollment';
import { adminProcedure, router } from '../init';

export const adminRouter = router({
  createApiToken: adminProcedure
    .input(
      z.object({
        name: z.string().trim().min(1).max(64),
        scopes: z.array(z.enum(['read', 'allocate', 'stress'])).min(1),
        expiresInDays: z.number().int().positive().max(3650).optional(),
      }),
    )
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
