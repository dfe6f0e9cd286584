import type { Db } from '../db/client';
import { AppError } from '../errors';
import type { ApiScope } from '../generated/prisma/client';
import { recordAudit } from '../services/audit/audit-log';
import type { Principal } from './principal';

/** API tokens as admins see them: never the secret (only its hash is stored), only its prefix. */
export type ApiTokenView = {
  id: string;
  name: string;
  prefix: string;
  scopes: ApiScope[];
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
};

export async function listApiTokens(db: Db): Promise<ApiTokenView[]> {
  const tokens = await db.apiToken.findMany({
    include: { createdBy: { select: { username: true } } },
    orderBy: { createdAt: 'desc' },
  });
  return tokens.map((t) => ({
    id: t.id,
    name: t.name,
    prefix: t.prefix,
    scopes: t.scopes,
    createdBy: t.createdBy.username,
    createdAt: t.createdAt.toISOString(),
    expiresAt: t.expiresAt?.toISOString() ?? null,
    lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
    revokedAt: t.revokedAt?.toISOString() ?? null,
  }));
}

/**
 * Revokes a token at once: the next request carrying it is refused. Revoking a token that is
 * already revoked changes nothing and answers its first revocation time.
 */
export async function revokeApiToken(
  db: Db,
  input: { id: string; actor: Principal },
): Promise<{ id: string; revokedAt: string }> {
  return db.$transaction(async (tx) => {
    // Only the first of concurrent revocations changes the row and writes the audit record.
    const { count } = await tx.apiToken.updateMany({
      where: { id: input.id, revokedAt: null },
      data: { revokedAt: new Date() },
    });
    const token = await tx.apiToken.findUnique({ where: { id: input.id } });
    if (!token?.revokedAt) throw new AppError('NOT_FOUND', `id: no API token with id ${input.id}`);
    if (count === 1) {
      await recordAudit(tx, {
        actor: input.actor,
        action: 'apiToken.revoke',
        targetType: 'apiToken',
        targetId: token.id,
        details: { name: token.name, prefix: token.prefix },
      });
    }
    return { id: token.id, revokedAt: token.revokedAt.toISOString() };
  });
}
