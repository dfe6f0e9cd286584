import { z } from 'zod';

export const API_SCOPES = ['read', 'allocate', 'stress'] as const;
export const ZApiScope = z.enum(API_SCOPES);

export const ZCreatedApiToken = z
  .object({
    id: z.string(),
    token: z.string().meta({ description: 'The secret: shown this once, only its hash is stored' }),
    prefix: z.string(),
  })
  .meta({ id: 'CreatedApiToken' });

export const ZApiToken = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string().meta({ description: 'The first characters of the secret, to recognise it' }),
    scopes: z.array(ZApiScope),
    createdBy: z.string(),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    lastUsedAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .meta({ id: 'ApiToken' });

export const ZRevokedApiToken = z.object({ id: z.string(), revokedAt: z.string() });

export const ZReplacementToken = z
  .object({
    id: z.string(),
    token: z.string().meta({
      description: 'The secret: shown this once. Single use; enroll the node under its own hostname with it',
    }),
    nodeId: z.string(),
    hostname: z.string().meta({ description: 'The hostname the replacement agent must enroll with' }),
    clusterName: z.string(),
    expiresAt: z.string(),
  })
  .meta({ id: 'ReplacementToken' });

export const ZRevokedNodeCredentials = z
  .object({
    nodeId: z.string(),
    hostname: z.string(),
    credentialsRevoked: z.number().int().meta({ description: 'Credentials that were live until now' }),
  })
  .meta({ id: 'RevokedNodeCredentials' });

export const ZRemovedNode = z
  .object({
    id: z.string(),
    hostname: z.string(),
    clusterName: z.string(),
    gpusRemoved: z.number().int(),
  })
  .meta({ id: 'RemovedNode' });
