import type { Principal } from '../../auth/principal';
import type { Prisma } from '../../generated/prisma/client';

type AuditClient = {
  auditEvent: { create: (args: { data: Prisma.AuditEventCreateInput }) => Promise<unknown> };
};

/** Who acted: a person, an API token, or the system itself (e.g. the automatic planner). */
export type AuditActor = { kind: Principal['kind'] | 'system'; id: string | null; name: string };

export type AuditEntry = {
  actor: AuditActor;
  action: string;
  targetType: string;
  targetId?: string;
  reason?: string;
  outcome?: string;
  details?: Prisma.InputJsonValue;
};

/** Appends one audit event: who (a person or an API token), did what, to what, and why. */
export async function recordAudit(db: AuditClient, entry: AuditEntry): Promise<void> {
  await db.auditEvent.create({
    data: {
      actorType: entry.actor.kind,
      actorId: entry.actor.id,
      actorName: entry.actor.name,
      action: entry.action,
      targetType: entry.targetType,
      targetId: entry.targetId,
      reason: entry.reason,
      outcome: entry.outcome ?? 'ok',
      details: entry.details ?? {},
    },
  });
}
