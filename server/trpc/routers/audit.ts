import { z } from 'zod';
import { AUDIT_PAGE_DEFAULT, AUDIT_PAGE_MAX, listAuditEvents } from '../../services/audit/audit-query';
import { adminProcedure, router } from '../init';

/**
 * The audit log is read by admins only: besides allocation and stress history (which operators
 * see on their own pages) it holds security events — sign-ins and lockouts with client
 * addresses, token and node-credential changes. It is append-only: this router reads, and no
 * procedure anywhere changes or deletes an event (a database trigger refuses it too).
 */
const ADMINS_ONLY = 'Admins signed in to the console only; API tokens cannot read the audit log.';

export const ZAuditFilter = z.object({
  actor: z.string().trim().min(1).max(200).optional().meta({
    description: "The actor's name or id, exactly (a username, an API token's name, a node's hostname)",
  }),
  actorType: z.enum(['user', 'token', 'agent', 'system']).optional(),
  action: z.string().trim().min(1).max(100).optional().meta({
    description: 'A prefix of the action: `allocation.` matches every allocation event',
  }),
  targetType: z.string().trim().min(1).max(64).optional(),
  targetId: z.string().trim().min(1).max(200).optional(),
  from: z.iso.datetime({ offset: true }).optional().meta({ description: 'ISO time, inclusive' }),
  to: z.iso.datetime({ offset: true }).optional().meta({ description: 'ISO time, exclusive' }),
});
export type AuditFilterInput = z.infer<typeof ZAuditFilter>;

export const ZListAuditInput = ZAuditFilter.extend({
  limit: z.number().int().min(1).max(AUDIT_PAGE_MAX).default(AUDIT_PAGE_DEFAULT),
  cursor: z.string().max(200).optional().meta({ description: "The previous page's `nextCursor`" }),
});

export const ZAuditEvent = z
  .object({
    id: z.string(),
    at: z.string(),
    actorType: z.string(),
    actorId: z.string().nullable(),
    actorName: z.string(),
    action: z.string(),
    targetType: z.string(),
    targetId: z.string().nullable(),
    targetName: z
      .string()
      .nullable()
      .meta({ description: 'A hostname, deployment or user name, where known' }),
    reason: z.string().nullable(),
    outcome: z.string(),
    details: z.unknown(),
  })
  .meta({ id: 'AuditEvent' });

export const ZListAuditOutput = z
  .object({
    events: z.array(ZAuditEvent),
    nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next (older) page' }),
  })
  .meta({ id: 'AuditPage' });

/** The service's filter from the API's: times parsed. */
export function auditFilterOf(input: AuditFilterInput) {
  return {
    actor: input.actor,
    actorType: input.actorType,
    action: input.action,
    targetType: input.targetType,
    targetId: input.targetId,
    from: input.from ? new Date(input.from) : undefined,
    to: input.to ? new Date(input.to) : undefined,
  };
}

export const auditRouter = router({
  list: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/audit',
        tags: ['admin'],
        summary: 'Read the audit log, newest first',
        description:
          'Who did what to what, when, why and with which outcome. Paged by `cursor`; filters combine. ' +
          `Export with GET /api/audit/export?format=csv|json and the same filters. ${ADMINS_ONLY}`,
      },
    })
    .input(ZListAuditInput)
    .output(ZListAuditOutput)
    .query(({ ctx, input }) =>
      listAuditEvents(ctx.runtime.db, {
        filter: auditFilterOf(input),
        cursor: input.cursor,
        limit: input.limit,
      }),
    ),
});
