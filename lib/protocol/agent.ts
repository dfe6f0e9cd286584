import { z } from 'zod';
import { ZLatencyHistogramWire } from '../latency-histogram';

/**
 * Agent protocol v1 (docs/agent-protocol.md is the prose version of this file).
 * Every message an agent sends is parsed with these schemas before anything is stored.
 */
export const AGENT_PROTOCOL_VERSION = 1;
export const AGENT_NAMESPACE = '/agent';
/** Largest socket.io message the server accepts; larger ones close the connection. */
export const MAX_FRAME_BYTES = 512 * 1024;
export const MAX_GPUS_PER_NODE = 64;
export const MAX_DEPLOYMENTS_PER_NODE = 64;

const hostname = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only');

// --- Enrollment: POST /api/agent/enroll (plain HTTP, JSON) ---------------------------
export const ZEnrollRequest = z.object({
  enrollmentToken: z.string().min(16).max(200),
  hostname,
  agentVersion: z.string().min(1).max(64),
  labels: z.record(z.string().max(63), z.string().max(256)).default({}),
});
export type EnrollRequest = z.infer<typeof ZEnrollRequest>;

export const ZEnrollResponse = z.object({
  nodeId: z.string(),
  clusterId: z.string(),
  clusterName: z.string(),
  nodeCredential: z.string(),
});
export type EnrollResponse = z.infer<typeof ZEnrollResponse>;

// --- Inventory: first message on every connection -----------------------------------
export const ZGpuInventory = z.object({
  index: z
    .number()
    .int()
    .min(0)
    .max(MAX_GPUS_PER_NODE - 1),
  uuid: z.string().min(4).max(128),
  name: z.string().min(1).max(128),
  memoryTotalMiB: z
    .number()
    .int()
    .positive()
    .max(4 * 1024 * 1024),
});
export type GpuInventory = z.infer<typeof ZGpuInventory>;

export const ZInventory = z.object({
  protocolVersion: z.literal(AGENT_PROTOCOL_VERSION),
  hostname,
  agentVersion: z.string().min(1).max(64),
  gpus: z
    .array(ZGpuInventory)
    .max(MAX_GPUS_PER_NODE)
    .refine((gpus) => new Set(gpus.map((g) => g.uuid)).size === gpus.length, 'GPU uuids must be unique'),
});
export type Inventory = z.infer<typeof ZInventory>;

// --- Telemetry: one frame per interval -----------------------------------------------
const percent = z.number().min(0).max(100);
const nonNegative = z.number().min(0);

export const ZGpuSample = z.object({
  uuid: z.string().min(4).max(128),
  utilizationPct: percent,
  memoryUsedMiB: nonNegative,
  memoryTotalMiB: nonNegative,
  powerW: nonNegative.nullable(),
  temperatureC: z.number().min(-50).max(200).nullable(),
  smClockMHz: nonNegative.nullable(),
  /** Count of XID errors seen during the interval. */
  xidErrors: z.number().int().nonnegative().default(0),
  /** Count of uncorrected ECC errors seen during the interval. */
  eccErrors: z.number().int().nonnegative().default(0),
  /** Memory rows are waiting to be remapped (takes effect at the next GPU reset). */
  remappedRowsPending: z.boolean().default(false),
  /** Row remapping failed: the GPU's memory can no longer be trusted. */
  remappedRowsFailed: z.boolean().default(false),
});
export type GpuSample = z.infer<typeof ZGpuSample>;

export const ZDeploymentSample = z.object({
  deploymentId: z.string().min(1).max(64),
  requests: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  queueDepth: nonNegative,
  latencyMs: ZLatencyHistogramWire,
});
export type DeploymentSample = z.infer<typeof ZDeploymentSample>;

export const ZTelemetryFrame = z.object({
  /** Per-node sequence number: 1, 2, 3, ... strictly increasing, never reused. */
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  /** When the sample was taken, ms since the Unix epoch. */
  sampledAt: z.number().int().positive(),
  intervalMs: z.number().int().min(100).max(60_000),
  gpus: z.array(ZGpuSample).max(MAX_GPUS_PER_NODE),
  deployments: z.array(ZDeploymentSample).max(MAX_DEPLOYMENTS_PER_NODE).default([]),
});
export type TelemetryFrame = z.infer<typeof ZTelemetryFrame>;

// --- Replies -------------------------------------------------------------------------
/** A refused message names the field at fault, e.g. `gpus.0.utilizationPct`. */
export type ProtocolError = {
  code: 'BAD_FRAME' | 'FORBIDDEN' | 'NOT_READY' | 'INTERNAL';
  field?: string;
  message: string;
};

export type InventoryAck =
  | { ok: true; nodeId: string; lastSeq: number; assignments: Assignments }
  | { ok: false; error: ProtocolError };

export type TelemetryAck =
  | { ok: true; seq: number; duplicate: boolean }
  | { ok: false; error: ProtocolError };

/** What the node's GPUs serve; the simulator uses it to route simulated traffic. */
export type Assignments = {
  gpus: { uuid: string; deploymentId: string | null; jobId: string | null }[];
  deployments: { id: string; name: string; gpusPerReplica: number; totalGpus: number; sloP95Ms: number }[];
};

/**
 * Server → agent `allocation:apply`: the node's GPU owners after a committed allocation
 * change (or after its rollback). The agent carries it out (runs its apply hook, then
 * re-routes its model servers) and acknowledges; no acknowledgement within the server's
 * timeout, or a failure, rolls the change back.
 */
export type AllocationCommand = { changeId: string; rollback: boolean; assignments: Assignments };
export type AllocationCommandAck = { ok: true } | { ok: false; error: string };

export interface AgentToServerEvents {
  inventory: (inventory: unknown, ack: (reply: InventoryAck) => void) => void;
  telemetry: (frame: unknown, ack: (reply: TelemetryAck) => void) => void;
}

export interface ServerToAgentEvents {
  assignments: (assignments: Assignments) => void;
  'allocation:apply': (command: AllocationCommand, ack: (reply: AllocationCommandAck) => void) => void;
  /** The server is going away on purpose; reconnect with backoff. */
  shutdown: (notice: { reason: string }) => void;
}

/** Turns a zod failure into the protocol's error: the first bad field, by path. */
export function protocolErrorFromZod(error: z.ZodError): ProtocolError {
  const issue = error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : undefined;
  const message = issue ? `${field ?? 'frame'}: ${issue.message}` : 'invalid message';
  return { code: 'BAD_FRAME', field, message };
}
