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
/** A frame may be dated at most this far ahead of the server's clock (clock skew). */
export const MAX_FUTURE_SKEW_MS = 60_000;
/** A replayed frame may be at most this old: older data has no rollup left to join. */
export const MAX_FRAME_AGE_MS = 7 * 24 * 3600_000;
/** A frame dated within this window of the server's clock is live; older ones are replay. */
export const LIVE_WINDOW_MS = 10_000;

/** Text from an agent: no control characters (a NUL cannot be stored, the rest hide in logs). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
export const text = () => z.string().regex(/^[^\u0000-\u001F\u007F]*$/, 'contains a control character');

const hostname = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only');

// --- Enrollment: POST /api/agent/enroll (plain HTTP, JSON) ---------------------------
export const ZEnrollRequest = z.object({
  enrollmentToken: text().min(16).max(200),
  hostname,
  agentVersion: text().min(1).max(64),
  labels: z
    .record(text().max(63), text().max(256))
    .refine((labels) => Object.keys(labels).length <= 64, 'at most 64 labels')
    .default({}),
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
  uuid: text().min(4).max(128),
  name: text().min(1).max(128),
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
  agentVersion: text().min(1).max(64),
  gpus: z
    .array(ZGpuInventory)
    .max(MAX_GPUS_PER_NODE)
    .refine((gpus) => new Set(gpus.map((g) => g.uuid)).size === gpus.length, 'GPU uuids must be unique'),
});
export type Inventory = z.infer<typeof ZInventory>;

// --- Telemetry: one frame per interval -----------------------------------------------
/** The latest instant a JavaScript Date can hold; a larger sampledAt is no date at all. */
const MAX_DATE_MS = 8_640_000_000_000_000;
/** Highest sequence number ever accepted: 2^48, thousands of years of frames at 10 Hz. */
export const MAX_SEQ = 2 ** 48;
const percent = z.number().min(0).max(100);
/** No reading of a GPU or a model server comes near this; larger is a bug or a lie. */
const MAX_READING = 1e9;
/** Most requests (or errors, or XIDs) one node may report for one interval. */
const MAX_COUNT = 10_000_000;
const nonNegative = z.number().min(0).max(MAX_READING);

export const ZGpuSample = z.object({
  uuid: text().min(4).max(128),
  utilizationPct: percent,
  memoryUsedMiB: nonNegative,
  memoryTotalMiB: nonNegative,
  powerW: nonNegative.nullable(),
  temperatureC: z.number().min(-50).max(200).nullable(),
  smClockMHz: nonNegative.nullable(),
  /** Count of XID errors seen during the interval. */
  xidErrors: z.number().int().nonnegative().max(MAX_COUNT).default(0),
  /** Count of uncorrected ECC errors seen during the interval. */
  eccErrors: z.number().int().nonnegative().max(MAX_COUNT).default(0),
  /** Memory rows are waiting to be remapped (takes effect at the next GPU reset). */
  remappedRowsPending: z.boolean().default(false),
  /** Row remapping failed: the GPU's memory can no longer be trusted. */
  remappedRowsFailed: z.boolean().default(false),
});
export type GpuSample = z.infer<typeof ZGpuSample>;

export const ZDeploymentSample = z.object({
  deploymentId: text().min(1).max(64),
  requests: z.number().int().nonnegative().max(MAX_COUNT),
  errors: z.number().int().nonnegative().max(MAX_COUNT),
  queueDepth: nonNegative,
  latencyMs: ZLatencyHistogramWire,
});
export type DeploymentSample = z.infer<typeof ZDeploymentSample>;

export const ZTelemetryFrame = z.object({
  /**
   * Per-node sequence number: 1, 2, 3, ... strictly increasing, never reused. How far it
   * may run ahead of the last accepted one is bounded by the server (sequence-tracker.ts).
   */
  seq: z.number().int().positive().max(MAX_SEQ),
  /**
   * When the sample was taken, ms since the Unix epoch. Checked against the server's clock
   * when the frame arrives (at most MAX_FUTURE_SKEW_MS ahead, MAX_FRAME_AGE_MS behind).
   */
  sampledAt: z.number().int().positive().max(MAX_DATE_MS, 'not a date'),
  intervalMs: z.number().int().min(100).max(60_000),
  gpus: z.array(ZGpuSample).max(MAX_GPUS_PER_NODE),
  deployments: z.array(ZDeploymentSample).max(MAX_DEPLOYMENTS_PER_NODE).default([]),
});
export type TelemetryFrame = z.infer<typeof ZTelemetryFrame>;

// --- Replies -------------------------------------------------------------------------
/** A refused message names the field at fault, e.g. `gpus.0.utilizationPct`. */
export type ProtocolError = {
  code: 'BAD_FRAME' | 'FORBIDDEN' | 'NOT_READY' | 'RATE_LIMITED' | 'INTERNAL';
  field?: string;
  message: string;
  /** With RATE_LIMITED: wait this long, then resend this message and those after it. */
  retryAfterMs?: number;
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
  /** A newer connection for this node took over; this one is closed. */
  replaced: (notice: { reason: string }) => void;
  /** This connection's credential was revoked (rotated, replaced, removed): never reconnect with it. */
  revoked: (notice: { reason: string }) => void;
}

/** Turns a zod failure into the protocol's error: the first bad field, by path. */
export function protocolErrorFromZod(error: z.ZodError): ProtocolError {
  const issue = error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : undefined;
  const message = issue ? `${field ?? 'frame'}: ${issue.message}` : 'invalid message';
  return { code: 'BAD_FRAME', field, message };
}
