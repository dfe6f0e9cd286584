import type { Db } from '../../db/client';
import { AppError } from '../../errors';
import { Prisma } from '../../generated/prisma/client';
import { type AuditActor, recordAudit } from '../audit/audit-log';
import { createEnrollmentToken } from './enrollment';

export type ClusterSummary = {
  id: string;
  name: string;
  region: string | null;
  createdAt: string;
  nodes: number;
  onlineNodes: number;
};

/** Every cluster with how many nodes it has (and how many are online), by name. */
export async function listClusters(db: Db): Promise<ClusterSummary[]> {
  const [clusters, counts] = await Promise.all([
    db.cluster.findMany({ orderBy: { name: 'asc' } }),
    db.node.groupBy({ by: ['clusterId', 'status'], _count: { _all: true } }),
  ]);
  return clusters.map((c) => {
    const mine = counts.filter((row) => row.clusterId === c.id);
    return {
      id: c.id,
      name: c.name,
      region: c.region,
      createdAt: c.createdAt.toISOString(),
      nodes: mine.reduce((sum, row) => sum + row._count._all, 0),
      onlineNodes: mine
        .filter((row) => row.status === 'online')
        .reduce((sum, row) => sum + row._count._all, 0),
    };
  });
}

/** A new, empty cluster that agents can then enroll into. Names are unique. Audited. */
export async function createCluster(
  db: Db,
  input: { name: string; region?: string; actor: AuditActor },
): Promise<ClusterSummary> {
  try {
    return await db.$transaction(async (tx) => {
      const cluster = await tx.cluster.create({ data: { name: input.name, region: input.region ?? null } });
      await recordAudit(tx, {
        actor: input.actor,
        action: 'cluster.create',
        targetType: 'cluster',
        targetId: cluster.id,
        details: { name: cluster.name, region: cluster.region },
      });
      return {
        id: cluster.id,
        name: cluster.name,
        region: cluster.region,
        createdAt: cluster.createdAt.toISOString(),
        nodes: 0,
        onlineNodes: 0,
      };
    });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
      throw new AppError('CONFLICT', `name: a cluster named ${input.name} exists already`, { field: 'name' });
    }
    throw error;
  }
}

/** A cluster by id or by name. */
export async function findCluster(db: Db, ref: string): Promise<{ id: string; name: string }> {
  const cluster =
    (await db.cluster.findUnique({ where: { name: ref } })) ??
    (await db.cluster.findUnique({ where: { id: ref } }).catch(() => null));
  if (!cluster) throw new AppError('NOT_FOUND', `cluster: no cluster named ${ref}`, { field: 'cluster' });
  return cluster;
}

export type CreatedEnrollmentToken = {
  id: string;
  token: string;
  clusterName: string;
  description: string;
  maxUses: number;
  expiresAt: string | null;
};

/** An enrollment token for new nodes of a cluster (by name or id); its secret is returned once. Audited. */
export async function issueEnrollmentToken(
  db: Db,
  input: {
    cluster: string;
    description: string;
    maxUses: number;
    expiresInHours?: number;
    actor: AuditActor;
  },
): Promise<CreatedEnrollmentToken> {
  const cluster = await findCluster(db, input.cluster);
  const expiresAt = input.expiresInHours ? new Date(Date.now() + input.expiresInHours * 3600_000) : undefined;
  const created = await createEnrollmentToken(db, {
    clusterId: cluster.id,
    description: input.description,
    maxUses: input.maxUses,
    expiresAt,
    actor: input.actor,
  });
  return {
    id: created.id,
    token: created.token,
    clusterName: cluster.name,
    description: input.description,
    maxUses: input.maxUses,
    expiresAt: expiresAt?.toISOString() ?? null,
  };
}

export type EnrollmentTokenState = 'active' | 'used up' | 'expired' | 'revoked';

export type EnrollmentTokenView = {
  id: string;
  description: string;
  clusterName: string;
  /** For a replacement token: the node it replaces. */
  replacesNode: { id: string; hostname: string } | null;
  uses: number;
  maxUses: number;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  state: EnrollmentTokenState;
  /** Nodes that enrolled with it, from the enrollment audit events (a removed node keeps its hostname). */
  enrolled: { nodeId: string; hostname: string; at: string; replaced: boolean; present: boolean }[];
};

/** The tokens, newest first, at most this many. */
export const ENROLLMENT_TOKENS_LISTED = 200;

/** Enrollment and replacement tokens without their secrets (only hashes are stored anyway). */
export async function listEnrollmentTokens(db: Db): Promise<EnrollmentTokenView[]> {
  const tokens = await db.enrollmentToken.findMany({
    orderBy: { createdAt: 'desc' },
    take: ENROLLMENT_TOKENS_LISTED,
    include: { cluster: { select: { name: true } }, node: { select: { id: true, hostname: true } } },
  });
  if (tokens.length === 0) return [];
  // The token a node enrolled with is recorded only in its enrollment event.
  const enrollments = await db.$queryRaw<
    { tokenId: string; nodeId: string; hostname: string; at: Date; action: string }[]
  >`SELECT details->>'enrollmentTokenId' AS "tokenId", "targetId" AS "nodeId", "actorName" AS hostname, at, action
      FROM "AuditEvent"
     WHERE action IN ('node.enroll', 'node.enroll.replace')
       AND details->>'enrollmentTokenId' = ANY(${tokens.map((t) => t.id)}::text[])
     ORDER BY at`;
  const present = new Set(
    (
      await db.node.findMany({
        where: { id: { in: [...new Set(enrollments.map((e) => e.nodeId))] } },
        select: { id: true },
      })
    ).map((n) => n.id),
  );
  const now = Date.now();
  return tokens.map((t) => ({
    id: t.id,
    description: t.description,
    clusterName: t.cluster.name,
    replacesNode: t.node,
    uses: t.uses,
    maxUses: t.maxUses,
    createdAt: t.createdAt.toISOString(),
    expiresAt: t.expiresAt?.toISOString() ?? null,
    revokedAt: t.revokedAt?.toISOString() ?? null,
    state: t.revokedAt
      ? 'revoked'
      : t.expiresAt && t.expiresAt.getTime() <= now
        ? 'expired'
        : t.uses >= t.maxUses
          ? 'used up'
          : 'active',
    enrolled: enrollments
      .filter((e) => e.tokenId === t.id)
      .map((e) => ({
        nodeId: e.nodeId,
        hostname: e.hostname,
        at: e.at.toISOString(),
        replaced: e.action === 'node.enroll.replace',
        present: present.has(e.nodeId),
      })),
  }));
}

/** Revokes a token: no agent can enroll with it any more (nodes that did keep their credentials). Audited. */
export async function revokeEnrollmentToken(
  db: Db,
  input: { id: string; actor: AuditActor },
): Promise<{ id: string; revokedAt: string }> {
  return db.$transaction(async (tx) => {
    const token = await tx.enrollmentToken.findUnique({
      where: { id: input.id },
      include: { cluster: { select: { name: true } } },
    });
    if (!token)
      throw new AppError('NOT_FOUND', `id: no enrollment token with id ${input.id}`, { field: 'id' });
    if (token.revokedAt) return { id: token.id, revokedAt: token.revokedAt.toISOString() };
    const revokedAt = new Date();
    await tx.enrollmentToken.update({ where: { id: token.id }, data: { revokedAt } });
    await recordAudit(tx, {
      actor: input.actor,
      action: 'enrollmentToken.revoke',
      targetType: 'enrollmentToken',
      targetId: token.id,
      details: {
        name: token.description,
        cluster: token.cluster.name,
        uses: token.uses,
        maxUses: token.maxUses,
        ...(token.nodeId ? { nodeId: token.nodeId } : {}),
      },
    });
    return { id: token.id, revokedAt: revokedAt.toISOString() };
  });
}
