import { z } from 'zod';
import type {
  AllocationCommand,
  Assignments,
  InventoryAck,
  ProtocolError,
  TelemetryAck,
} from '../../lib/protocol/agent';

/**
 * Schemas for what the server sends the agent. The protocol types in lib/ are enough for
 * the server; the agent still parses replies, so a server bug cannot crash it with a
 * TypeError inside a socket callback.
 */

const ZProtocolError = z.object({
  code: z.enum(['BAD_FRAME', 'FORBIDDEN', 'NOT_READY', 'RATE_LIMITED', 'INTERNAL']),
  field: z.string().optional(),
  message: z.string(),
  retryAfterMs: z.number().nonnegative().optional(),
}) satisfies z.ZodType<ProtocolError>;

export const ZAssignments = z.object({
  gpus: z.array(
    z.object({ uuid: z.string(), deploymentId: z.string().nullable(), jobId: z.string().nullable() }),
  ),
  deployments: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      gpusPerReplica: z.number().int().positive(),
      totalGpus: z.number().int().nonnegative(),
      sloP95Ms: z.number().nonnegative(),
    }),
  ),
}) satisfies z.ZodType<Assignments>;

export const ZAllocationCommand = z.object({
  changeId: z.string().min(1),
  rollback: z.boolean(),
  assignments: ZAssignments,
}) satisfies z.ZodType<AllocationCommand>;

export const ZInventoryAck = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    nodeId: z.string(),
    lastSeq: z.number().int().nonnegative(),
    assignments: ZAssignments,
  }),
  z.object({ ok: z.literal(false), error: ZProtocolError }),
]) satisfies z.ZodType<InventoryAck>;

export const ZTelemetryAck = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), seq: z.number().int(), duplicate: z.boolean().default(false) }),
  z.object({ ok: z.literal(false), error: ZProtocolError }),
]) satisfies z.ZodType<TelemetryAck>;

/** One line naming the first bad field, for logs. */
export function describeZodError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  return `${issue.path.length > 0 ? issue.path.join('.') : 'value'}: ${issue.message}`;
}
