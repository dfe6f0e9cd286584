import { z } from 'zod';
import {
  createCluster,
  issueEnrollmentToken,
  listClusters,
  listEnrollmentTokens,
  revokeEnrollmentToken,
} from '../../services/agents/clusters';
import { adminProcedure, router } from '../init';

/** Like every node-identity action: a token that can enroll machines is handed out by a person. */
const SESSION_ONLY = 'Admins signed in to the console (or the CLI signed in as one) only; not API tokens.';

export const ZCluster = z
  .object({
    id: z.string(),
    name: z.string(),
    region: z.string().nullable(),
    createdAt: z.string(),
    nodes: z.number().int(),
    onlineNodes: z.number().int(),
  })
  .meta({ id: 'Cluster' });

export const ZCreateClusterInput = z.object({
  name: z
    .string()
    .trim()
    .min(1, 'Name the cluster')
    .max(64)
    .regex(/^[A-Za-z0-9][\w.-]*$/, 'Use letters, digits, ".", "_" and "-"'),
  region: z.string().trim().min(1).max(64).optional().meta({ description: 'A label, e.g. us-east' }),
});

export const ZCreateEnrollmentTokenInput = z.object({
  cluster: z.string().trim().min(1, 'Choose a cluster').max(64).meta({ description: 'Name or id' }),
  description: z.string().trim().min(1).max(200).default('agent enrollment'),
  maxUses: z.number().int().min(1).max(10_000).default(1),
  expiresInHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 365)
    .default(24),
});

export const ZCreatedEnrollmentToken = z
  .object({
    id: z.string(),
    token: z.string().meta({ description: 'The secret: shown this once, only its hash is stored' }),
    clusterName: z.string(),
    description: z.string(),
    maxUses: z.number().int(),
    expiresAt: z.string().nullable(),
  })
  .meta({ id: 'CreatedEnrollmentToken' });

export const ZEnrollmentToken = z
  .object({
    id: z.string(),
    description: z.string(),
    clusterName: z.string(),
    replacesNode: z.object({ id: z.string(), hostname: z.string() }).nullable(),
    uses: z.number().int(),
    maxUses: z.number().int(),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
    state: z.enum(['active', 'used up', 'expired', 'revoked']),
    enrolled: z.array(
      z.object({
        nodeId: z.string(),
        hostname: z.string(),
        at: z.string(),
        replaced: z.boolean().meta({ description: 'A replacement enrollment of an existing node' }),
        present: z.boolean().meta({ description: 'False once the node has been removed' }),
      }),
    ),
  })
  .meta({ id: 'EnrollmentToken' });

export const clustersRouter = router({
  list: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/clusters',
        tags: ['admin'],
        summary: 'List clusters with their node counts',
        description: SESSION_ONLY,
      },
    })
    .output(z.array(ZCluster))
    .query(({ ctx }) => listClusters(ctx.runtime.db)),

  create: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/clusters',
        tags: ['admin'],
        summary: 'Create a cluster',
        description: `Agents then enroll into it with an enrollment token. Audited. ${SESSION_ONLY}`,
      },
    })
    .input(ZCreateClusterInput)
    .output(ZCluster)
    .mutation(({ ctx, input }) => createCluster(ctx.runtime.db, { ...input, actor: ctx.principal })),

  enrollmentTokens: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/enrollment-tokens',
        tags: ['admin'],
        summary: 'List enrollment and replacement tokens, newest first (never their secrets)',
        description: `With the nodes that enrolled with each. At most 200. ${SESSION_ONLY}`,
      },
    })
    .output(z.array(ZEnrollmentToken))
    .query(({ ctx }) => listEnrollmentTokens(ctx.runtime.db)),

  createEnrollmentToken: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/enrollment-tokens',
        tags: ['admin'],
        summary: 'Create an enrollment token for new nodes of a cluster',
        description:
          'Start an agent with it: `npm run agent -- --server <url> --token <token>`. The secret is in this ' +
          `answer only. Audited. ${SESSION_ONLY}`,
      },
    })
    .input(ZCreateEnrollmentTokenInput)
    .output(ZCreatedEnrollmentToken)
    .mutation(({ ctx, input }) => issueEnrollmentToken(ctx.runtime.db, { ...input, actor: ctx.principal })),

  revokeEnrollmentToken: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/enrollment-tokens/{id}/revoke',
        tags: ['admin'],
        summary: 'Revoke an enrollment token',
        description: `No agent can enroll with it afterwards; nodes that did keep their credentials. Audited. ${SESSION_ONLY}`,
      },
    })
    .input(z.object({ id: z.string().min(1).max(64) }))
    .output(z.object({ id: z.string(), revokedAt: z.string() }))
    .mutation(({ ctx, input }) =>
      revokeEnrollmentToken(ctx.runtime.db, { id: input.id, actor: ctx.principal }),
    ),
});
