import type { Namespace, Server as SocketServer } from 'socket.io';
import {
  AGENT_NAMESPACE,
  type AgentToServerEvents,
  type EnrollRequest,
  type EnrollResponse,
  type ServerToAgentEvents,
} from '../../../lib/protocol/agent';
import { hashSecret, newSecret } from '../../auth/secrets';
import type { Db } from '../../db/client';
import { AppError } from '../../errors';
import { Prisma } from '../../generated/prisma/client';
import { logger } from '../../log';
import { type AuditActor, recordAudit } from '../audit/audit-log';

const log = logger('agents');

type Tx = Prisma.TransactionClient;

/** A replacement token lives an hour unless the admin says otherwise, and a week at most. */
export const REPLACEMENT_TOKEN_DEFAULT_MINUTES = 60;
export const REPLACEMENT_TOKEN_MAX_MINUTES = 7 * 24 * 60;

/**
 * A socket that authenticated a moment before its credential was revoked may still be on its
 * way into the node's room; a second sweep this much later closes it too.
 */
const LATE_SOCKET_SWEEP_MS = 1_000;

/** What the agent side of the process is reached through (the socket.io server). */
export type AgentSockets = Pick<SocketServer, 'of'>;

type Refusal = { error: AppError; nodeId: string | null; tokenId: string; cluster: string };

/**
 * Trades an enrollment token for a node credential (docs/agent-protocol.md §1).
 *
 * An ordinary token only enrolls new nodes: a hostname that already exists in the cluster is
 * refused (409), without using up the token or touching the node, so holding a token is not
 * enough to take over a running node. Replacing a node's agent is explicit: a replacement
 * token bound to that node (createReplacementToken) re-enrolls it under its own hostname,
 * revokes its earlier credentials and closes the sockets that used them (when `agents` is
 * given). Refusals are audited.
 */
export async function enrollNode(
  db: Db,
  request: EnrollRequest,
  agents?: AgentSockets,
): Promise<EnrollResponse> {
  const nodeCredential = newSecret('node');
  const credentialHash = hashSecret(nodeCredential);
  let outcome:
    | { kind: 'enrolled'; response: EnrollResponse; replaced: boolean }
    | (Refusal & { kind: 'refused' });
  try {
    outcome = await db.$transaction(async (tx) => {
      const token = await tx.enrollmentToken.findUnique({
        where: { tokenHash: hashSecret(request.enrollmentToken) },
        include: { cluster: true, node: { select: { id: true, hostname: true } } },
      });
      const now = new Date();
      if (!token || token.revokedAt || (token.expiresAt && token.expiresAt < now)) {
        throw new AppError('UNAUTHORIZED', 'enrollmentToken: unknown, expired or revoked');
      }
      if (token.uses >= token.maxUses)
        throw new AppError('UNAUTHORIZED', 'enrollmentToken: has no uses left');
      const refuse = (error: AppError, nodeId: string | null) => ({
        kind: 'refused' as const,
        error,
        nodeId,
        tokenId: token.id,
        cluster: token.cluster.name,
      });

      const replacing = token.node;
      if (replacing && replacing.hostname !== request.hostname) {
        return refuse(
          new AppError(
            'FORBIDDEN',
            `hostname: this replacement token is for node ${replacing.hostname} only; enroll with that hostname`,
            { field: 'hostname' },
          ),
          replacing.id,
        );
      }
      if (!replacing) {
        const existing = await tx.node.findUnique({
          where: { clusterId_hostname: { clusterId: token.clusterId, hostname: request.hostname } },
          select: { id: true },
        });
        if (existing) return refuse(hostnameTaken(request.hostname, token.cluster.name), existing.id);
      }

      // Count the use atomically, so two agents racing for the last use cannot both win.
      const counted = await tx.enrollmentToken.updateMany({
        where: { id: token.id, uses: { lt: token.maxUses } },
        data: { uses: { increment: 1 } },
      });
      if (counted.count === 0) throw new AppError('UNAUTHORIZED', 'enrollmentToken: has no uses left');

      let nodeId: string;
      let revoked = 0;
      if (replacing) {
        nodeId = replacing.id;
        await lockNode(tx, nodeId);
        await tx.node.update({
          where: { id: nodeId },
          data: { agentVersion: request.agentVersion, labels: request.labels },
        });
        revoked = (
          await tx.nodeCredential.updateMany({ where: { nodeId, revokedAt: null }, data: { revokedAt: now } })
        ).count;
      } else {
        // A concurrent enrollment of the same new hostname loses on the unique index (below).
        const created = await tx.node.create({
          data: {
            clusterId: token.clusterId,
            hostname: request.hostname,
            agentVersion: request.agentVersion,
            labels: request.labels,
          },
        });
        nodeId = created.id;
      }
      await tx.nodeCredential.create({ data: { nodeId, tokenHash: credentialHash } });
      await tx.auditEvent.create({
        data: {
          actorType: 'agent',
          actorId: nodeId,
          actorName: request.hostname,
          action: replacing ? 'node.enroll.replace' : 'node.enroll',
          targetType: 'node',
          targetId: nodeId,
          details: {
            cluster: token.cluster.name,
            enrollmentTokenId: token.id,
            agentVersion: request.agentVersion,
            ...(replacing ? { credentialsRevoked: revoked } : {}),
          },
        },
      });
      return {
        kind: 'enrolled' as const,
        replaced: Boolean(replacing),
        response: { nodeId, clusterId: token.clusterId, clusterName: token.cluster.name, nodeCredential },
      };
    });
  } catch (error) {
    if (!isHostnameRace(error)) throw error;
    // Another enrollment created this hostname between our check and our insert.
    const token = await db.enrollmentToken.findUniqueOrThrow({
      where: { tokenHash: hashSecret(request.enrollmentToken) },
      include: { cluster: true },
    });
    outcome = {
      kind: 'refused',
      error: hostnameTaken(request.hostname, token.cluster.name),
      nodeId: null,
      tokenId: token.id,
      cluster: token.cluster.name,
    };
  }

  if (outcome.kind === 'refused') {
    // The caller is not a node (yet): recorded as an anonymous agent naming the hostname it asked for.
    await db.auditEvent.create({
      data: {
        actorType: 'agent',
        actorName: request.hostname,
        action: 'node.enroll.refused',
        targetType: 'node',
        targetId: outcome.nodeId,
        outcome: 'refused',
        reason: outcome.error.message,
        details: {
          cluster: outcome.cluster,
          enrollmentTokenId: outcome.tokenId,
          hostname: request.hostname,
          agentVersion: request.agentVersion,
        },
      },
    });
    log.warn(`refused to enroll ${request.hostname} into ${outcome.cluster}: ${outcome.error.message}`);
    throw outcome.error;
  }
  if (outcome.replaced && agents) {
    await closeRevokedSockets(db, agents, outcome.response.nodeId, 'replaced by a new enrollment');
  }
  return outcome.response;
}

function hostnameTaken(hostname: string, cluster: string): AppError {
  return new AppError(
    'CONFLICT',
    `hostname: a node named ${hostname} is already enrolled in ${cluster}. To replace its agent ` +
      '(a reinstalled machine), ask an admin for a replacement token for that node; to renew the ' +
      'credential of the running agent, rotate it from that agent (POST /api/agent/rotate-credential)',
    { field: 'hostname' },
  );
}

function isHostnameRace(error: unknown): boolean {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError) || error.code !== 'P2002') return false;
  return error.meta?.modelName === 'Node' || JSON.stringify(error.meta ?? {}).includes('hostname');
}

/**
 * Serialises the changes of one node's credentials (enrollment, rotation, revocation), so no
 * two can each leave a live credential behind. NO KEY UPDATE leaves the telemetry journal's
 * foreign-key checks (KEY SHARE) unblocked.
 */
async function lockNode(tx: Tx, nodeId: string): Promise<void> {
  await tx.$queryRaw`SELECT id FROM "Node" WHERE id = ${nodeId} FOR NO KEY UPDATE`;
}

/** An ordinary enrollment token for new nodes of a cluster; its secret is returned once. Audited. */
export async function createEnrollmentToken(
  db: Db,
  input: { clusterId: string; description: string; maxUses: number; expiresAt?: Date; actor: AuditActor },
): Promise<{ id: string; token: string }> {
  const { actor, ...fields } = input;
  const token = newSecret('enr');
  return db.$transaction(async (tx) => {
    const row = await tx.enrollmentToken.create({
      data: { ...fields, tokenHash: hashSecret(token) },
      include: { cluster: { select: { name: true } } },
    });
    await recordAudit(tx, {
      actor,
      action: 'enrollmentToken.create',
      targetType: 'enrollmentToken',
      targetId: row.id,
      details: {
        name: row.description,
        cluster: row.cluster.name,
        maxUses: row.maxUses,
        expiresAt: row.expiresAt?.toISOString() ?? null,
      },
    });
    return { id: row.id, token };
  });
}

export type ReplacementToken = {
  id: string;
  token: string;
  nodeId: string;
  hostname: string;
  clusterName: string;
  expiresAt: Date;
};

/**
 * A single-use enrollment token bound to one existing node, for replacing its agent (a
 * reinstalled machine): enrolling with it must present the node's hostname, and revokes the
 * node's credentials. Earlier replacement tokens of the node that were not used are revoked,
 * so at most one is outstanding. Audited.
 */
export async function createReplacementToken(
  db: Db,
  input: { nodeId: string; expiresInMinutes?: number; actor: AuditActor },
): Promise<ReplacementToken> {
  const minutes = input.expiresInMinutes ?? REPLACEMENT_TOKEN_DEFAULT_MINUTES;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > REPLACEMENT_TOKEN_MAX_MINUTES) {
    throw new AppError(
      'BAD_REQUEST',
      `expiresInMinutes: must be a whole number from 1 to ${REPLACEMENT_TOKEN_MAX_MINUTES}`,
      { field: 'expiresInMinutes' },
    );
  }
  const token = newSecret('enr');
  const expiresAt = new Date(Date.now() + minutes * 60_000);
  return db.$transaction(async (tx) => {
    const node = await tx.node.findUnique({ where: { id: input.nodeId }, include: { cluster: true } });
    if (!node)
      throw new AppError('NOT_FOUND', `nodeId: no node with id ${input.nodeId}`, { field: 'nodeId' });
    const superseded = await tx.enrollmentToken.updateMany({
      where: { nodeId: node.id, revokedAt: null },
      data: { revokedAt: new Date() },
    });
    const row = await tx.enrollmentToken.create({
      data: {
        clusterId: node.clusterId,
        nodeId: node.id,
        description: `replacement agent for ${node.hostname}`,
        tokenHash: hashSecret(token),
        maxUses: 1,
        expiresAt,
      },
    });
    await recordAudit(tx, {
      actor: input.actor,
      action: 'node.replacementToken.create',
      targetType: 'node',
      targetId: node.id,
      details: {
        hostname: node.hostname,
        enrollmentTokenId: row.id,
        expiresAt: expiresAt.toISOString(),
        supersededTokens: superseded.count,
      },
    });
    return {
      id: row.id,
      token,
      nodeId: node.id,
      hostname: node.hostname,
      clusterName: node.cluster.name,
      expiresAt,
    };
  });
}

/**
 * The running agent renews its own credential: the one it presents is revoked at once (with
 * any other of the node's), a new one is returned, and the sockets that used the old one are
 * told `revoked` and closed, so the agent reconnects with the new one. Audited.
 */
export async function rotateNodeCredential(
  db: Db,
  agents: AgentSockets | undefined,
  credential: string,
): Promise<EnrollResponse> {
  const unauthorized = () => new AppError('UNAUTHORIZED', 'node credential: unknown or revoked');
  const current = await db.nodeCredential.findUnique({
    where: { tokenHash: hashSecret(credential) },
    include: { node: { include: { cluster: true } } },
  });
  if (!current || current.revokedAt) throw unauthorized();
  const { node } = current;
  const nodeCredential = newSecret('node');
  const credentialHash = hashSecret(nodeCredential);
  await db.$transaction(async (tx) => {
    await lockNode(tx, node.id);
    const now = new Date();
    // Conditional on the presented credential still being live: of two concurrent rotations
    // with the same credential only one succeeds.
    const presented = await tx.nodeCredential.updateMany({
      where: { id: current.id, revokedAt: null },
      data: { revokedAt: now },
    });
    if (presented.count === 0) throw unauthorized();
    const others = await tx.nodeCredential.updateMany({
      where: { nodeId: node.id, revokedAt: null },
      data: { revokedAt: now },
    });
    await tx.nodeCredential.create({ data: { nodeId: node.id, tokenHash: credentialHash } });
    await tx.auditEvent.create({
      data: {
        actorType: 'agent',
        actorId: node.id,
        actorName: node.hostname,
        action: 'node.credential.rotate',
        targetType: 'node',
        targetId: node.id,
        details: { revokedCredentialId: current.id, otherCredentialsRevoked: others.count },
      },
    });
  });
  if (agents) await closeRevokedSockets(db, agents, node.id, 'credential rotated');
  return { nodeId: node.id, clusterId: node.clusterId, clusterName: node.cluster.name, nodeCredential };
}

/**
 * Revokes every credential of a node without removing it (a stolen credential, a machine
 * taken out of service): its agent is told `revoked` and disconnected, and cannot connect
 * again until it is re-enrolled with a replacement token. Audited with the reason.
 */
export async function revokeNodeCredentials(
  db: Db,
  agents: AgentSockets | undefined,
  input: { nodeId: string; reason: string; actor: AuditActor },
): Promise<{ nodeId: string; hostname: string; credentialsRevoked: number }> {
  const result = await db.$transaction(async (tx) => {
    const node = await tx.node.findUnique({
      where: { id: input.nodeId },
      select: { id: true, hostname: true },
    });
    if (!node)
      throw new AppError('NOT_FOUND', `nodeId: no node with id ${input.nodeId}`, { field: 'nodeId' });
    await lockNode(tx, node.id);
    const revoked = await tx.nodeCredential.updateMany({
      where: { nodeId: node.id, revokedAt: null },
      data: { revokedAt: new Date() },
    });
    await recordAudit(tx, {
      actor: input.actor,
      action: 'node.credentials.revoke',
      targetType: 'node',
      targetId: node.id,
      reason: input.reason,
      details: { hostname: node.hostname, credentialsRevoked: revoked.count },
    });
    return { nodeId: node.id, hostname: node.hostname, credentialsRevoked: revoked.count };
  });
  if (agents) await closeRevokedSockets(db, agents, result.nodeId, 'credentials revoked by an admin');
  return result;
}

/**
 * Closes every socket of a node whose credential is no longer live (revoked, or gone with the
 * node), each told `revoked` `{ reason }` first. Once now, and once more a moment later for a
 * socket whose authentication was under way during the revocation. Liveness is read from the
 * database at each sweep, so a credential issued meanwhile (a rotation) keeps its socket.
 */
export function closeRevokedSockets(
  db: Db,
  agents: AgentSockets,
  nodeId: string,
  reason: string,
): Promise<number> {
  const sweep = async () => {
    const live = await db.nodeCredential.findMany({
      where: { nodeId, revokedAt: null },
      select: { tokenHash: true },
    });
    const liveHashes = new Set(live.map((credential) => credential.tokenHash));
    // One Server hosts differently typed namespaces; this one speaks the agent protocol.
    const namespace = agents.of(AGENT_NAMESPACE) as unknown as Namespace<
      AgentToServerEvents,
      ServerToAgentEvents
    >;
    const sockets = await namespace.in(`node:${nodeId}`).fetchSockets();
    let closed = 0;
    for (const socket of sockets) {
      const token = (socket.handshake.auth as { token?: unknown }).token;
      if (typeof token === 'string' && liveHashes.has(hashSecret(token))) continue;
      socket.emit('revoked', { reason });
      socket.disconnect(true);
      closed++;
    }
    if (closed > 0) log.info(`closed ${closed} agent socket(s) of node ${nodeId}: ${reason}`);
    return closed;
  };
  const late = setTimeout(() => {
    // Best effort: the server may be shutting down by now.
    sweep().catch((error) => log.debug(`closing late agent sockets of node ${nodeId} failed`, error));
  }, LATE_SOCKET_SWEEP_MS);
  late.unref();
  return sweep().catch((error) => {
    log.error(`closing the agent sockets of node ${nodeId} failed`, error);
    return 0;
  });
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
