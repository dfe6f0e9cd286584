import type { EnrollRequest, EnrollResponse } from '../../../lib/protocol/agent';
import { hashSecret, newSecret } from '../../auth/secrets';
import type { Db } from '../../db/client';
import { AppError } from '../../errors';

/**
 * Trades an enrollment token for a node credential. The node is created on first
 * enrollment (or matched by hostname within the token's cluster, when an operator
 * re-enrolls a machine); its older credentials are revoked.
 */
export async function enrollNode(db: Db, request: EnrollRequest): Promise<EnrollResponse> {
  const nodeCredential = newSecret('node');
  return db.$transaction(async (tx) => {
    const token = await tx.enrollmentToken.findUnique({
      where: { tokenHash: hashSecret(request.enrollmentToken) },
      include: { cluster: true },
    });
    const now = new Date();
    if (!token || token.revokedAt || (token.expiresAt && token.expiresAt < now)) {
      throw new AppError('UNAUTHORIZED', 'enrollmentToken: unknown, expired or revoked');
    }
    // Count the use atomically, so two agents racing for the last use cannot both win.
    const counted = await tx.enrollmentToken.updateMany({
      where: { id: token.id, uses: { lt: token.maxUses } },
      data: { uses: { increment: 1 } },
    });
    if (counted.count === 0) throw new AppError('UNAUTHORIZED', 'enrollmentToken: has no uses left');

    const node = await tx.node.upsert({
      where: { clusterId_hostname: { clusterId: token.clusterId, hostname: request.hostname } },
      create: {
        clusterId: token.clusterId,
        hostname: request.hostname,
        agentVersion: request.agentVersion,
        labels: request.labels,
      },
      update: { agentVersion: request.agentVersion, labels: request.labels },
    });
    await tx.nodeCredential.updateMany({
      where: { nodeId: node.id, revokedAt: null },
      data: { revokedAt: now },
    });
    await tx.nodeCredential.create({ data: { nodeId: node.id, tokenHash: hashSecret(nodeCredential) } });
    await tx.auditEvent.create({
      data: {
        actorType: 'agent',
        actorId: node.id,
        actorName: request.hostname,
        action: 'node.enroll',
        targetType: 'node',
        targetId: node.id,
        details: {
          cluster: token.cluster.name,
          enrollmentTokenId: token.id,
          agentVersion: request.agentVersion,
        },
      },
    });
    return { nodeId: node.id, clusterId: token.clusterId, clusterName: token.cluster.name, nodeCredential };
  });
}

export async function createEnrollmentToken(
  db: Db,
  input: { clusterId: string; description: string; maxUses: number; expiresAt?: Date },
): Promise<{ id: string; token: string }> {
  const token = newSecret('enr');
  const row = await db.enrollmentToken.create({
    data: { ...input, tokenHash: hashSecret(token) },
  });
  return { id: row.id, token };
}

/** The node a credential speaks for, or null when the credential is unknown or revoked. */
export async function nodeForCredential(
  db: Db,
  credential: string,
): Promise<{ id: string; hostname: string; clusterId: string } | null> {
  const row = await db.nodeCredential.findUnique({
    where: { tokenHash: hashSecret(credential) },
    include: { node: { select: { id: true, hostname: true, clusterId: true } } },
  });
  if (!row || row.revokedAt) return null;
  void db.nodeCredential
    .update({ where: { id: row.id }, data: { lastUsedAt: new Date() } })
    .catch(() => undefined);
  return row.node;
}
