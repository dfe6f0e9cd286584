import { z } from 'zod';
import { listApiTokens, revokeApiToken } from '../../auth/api-tokens';
import { createApiToken } from '../../auth/sessions';
import { AppError } from '../../errors';
import {
  createEnrollmentToken,
  createReplacementToken,
  REPLACEMENT_TOKEN_DEFAULT_MINUTES,
  REPLACEMENT_TOKEN_MAX_MINUTES,
  revokeNodeCredentials,
} from '../../services/agents/enrollment';
import { removeNode } from '../../services/agents/node-removal';
import { adminProcedure, router } from '../init';
import {
  ZApiScope,
  ZApiToken,
  ZCreatedApiToken,
  ZRemovedNode,
  ZReplacementToken,
  ZRevokedApiToken,
  ZRevokedNodeCredentials,
} from '../schemas/admin';

/** API tokens are managed by signed-in admins only: a token cannot mint or revoke tokens. */
const SESSION_ONLY = 'Admins signed in to the console only; API tokens cannot manage tokens.';
/** Node identities likewise: an API token cannot hand out or take away a node's credential. */
const NODE_SESSION_ONLY = 'Admins signed in to the console only; API tokens cannot manage node identities.';

const ZNodeId = z.string().min(1).max(64);
const ZReason = z.string().trim().min(1, 'Say why').max(500);

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
        actor: ctx.principal,
      });
      return { ...created, clusterName: cluster.name };
    }),

  createReplacementToken: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/nodes/{nodeId}/replacement-token',
        tags: ['admin'],
        summary: "Issue a token that replaces a node's agent",
        description:
          'For a reinstalled machine: a single-use enrollment token bound to this node. Enrolling with it ' +
          "(under the node's own hostname) revokes the node's credentials, closes its agent's connections " +
          `and issues a new credential. Earlier unused replacement tokens of the node are revoked. ${NODE_SESSION_ONLY}`,
      },
    })
    .input(
      z.object({
        nodeId: ZNodeId,
        expiresInMinutes: z
          .number()
          .int()
          .min(1)
          .max(REPLACEMENT_TOKEN_MAX_MINUTES)
          .default(REPLACEMENT_TOKEN_DEFAULT_MINUTES),
      }),
    )
    .output(ZReplacementToken)
    .mutation(async ({ ctx, input }) => {
      const created = await createReplacementToken(ctx.runtime.db, { ...input, actor: ctx.principal });
      return { ...created, expiresAt: created.expiresAt.toISOString() };
    }),

  revokeNodeCredentials: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/nodes/{nodeId}/revoke-credentials',
        tags: ['admin'],
        summary: "Revoke a node's credentials",
        description:
          "The node's agent is told `revoked` and disconnected at once, and cannot connect again until it " +
          `is re-enrolled with a replacement token. The node and its history stay. ${NODE_SESSION_ONLY}`,
      },
    })
    .input(z.object({ nodeId: ZNodeId, reason: ZReason }))
    .output(ZRevokedNodeCredentials)
    .mutation(({ ctx, input }) =>
      revokeNodeCredentials(ctx.runtime.db, ctx.runtime.io, { ...input, actor: ctx.principal }),
    ),

  removeNode: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/nodes/{nodeId}/remove',
        tags: ['admin'],
        summary: 'Remove a node from the fleet',
        description:
          'Revokes its credentials, disconnects its agent and deletes the node with its GPUs and their ' +
          'per-GPU history (deployment history stays). Refused with 409 while a deployment or job owns ' +
          `any of its GPUs (the message names them) or an allocation change is being applied on it. ${NODE_SESSION_ONLY}`,
      },
    })
    .input(z.object({ nodeId: ZNodeId, reason: ZReason }))
    .output(ZRemovedNode)
    .mutation(({ ctx, input }) => removeNode(ctx.runtime, { ...input, actor: ctx.principal })),
});
