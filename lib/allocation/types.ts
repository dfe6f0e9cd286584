import { z } from 'zod';

/**
 * Allocation vocabulary shared by the server, the planner, the UI and the CLI.
 *
 * A GPU's owner is a deployment, a job, or nobody (the free pool). Every deployment and
 * job carries a version that each allocation change touching it bumps; a change names the
 * versions it was based on (`baseVersions`, keyed by deployment or job id) and is refused
 * as a conflict when any of them is stale.
 */
export const ZOwnerRef = z
  .union([
    z.object({ deploymentId: z.string().min(1).max(64) }),
    z.object({ jobId: z.string().min(1).max(64) }),
  ])
  .nullable()
  .meta({ description: 'The owner: {"deploymentId": …}, {"jobId": …}, or null for the free pool.' });
/** `{ deploymentId }`, `{ jobId }`, or `null` for the free pool. */
export type OwnerRef = z.infer<typeof ZOwnerRef>;

export const ZMoveInput = z.object({
  gpuId: z.string().min(1).max(64).meta({ description: 'GPU id (GET /gpus or /allocation/board).' }),
  /** The new owner; `null` releases the GPU to the free pool. */
  to: ZOwnerRef,
});
export type MoveInput = z.infer<typeof ZMoveInput>;

export const CHANGE_SOURCES = ['manual', 'plan', 'auto'] as const;
export type ChangeSource = (typeof CHANGE_SOURCES)[number];

export const ZChangeInput = z.object({
  moves: z.array(ZMoveInput).min(1, 'Name at least one GPU to move').max(1024).meta({
    description: 'Every GPU that changes owner, with its new owner; applied all together or not at all.',
  }),
  /** Version of every deployment and job the change touches (old and new owners), as read. */
  baseVersions: z.record(z.string().min(1).max(64), z.number().int().nonnegative()).meta({
    description:
      'Deployment or job id → its version as read (GET /allocation/board), for every owner the change touches, old and new. A stale or missing one answers 409 with the current versions.',
  }),
  reason: z
    .string()
    .trim()
    .min(1, 'Say why')
    .max(500)
    .meta({ description: 'Why, in words; kept in the audit log.' }),
  /** Retrying with the same key returns the first attempt's change instead of applying twice. */
  idempotencyKey: z.string().min(8).max(128).optional().meta({
    description:
      "Send the same key when retrying: the first attempt's change comes back instead of a second change.",
  }),
  /** Validate and predict the effect without changing anything. */
  dryRun: z
    .boolean()
    .default(false)
    .meta({ description: 'Check the change and predict its effect on p95 without making it.' }),
  source: z.enum(CHANGE_SOURCES).default('manual'),
});
export type ChangeInput = z.input<typeof ZChangeInput>;

export const CHANGE_STATES = ['pending', 'applying', 'applied', 'rolled_back'] as const;
export type ChangeState = (typeof CHANGE_STATES)[number];

export const NODE_APPLY_STATES = ['pending', 'applied', 'failed', 'timed_out', 'unreachable'] as const;
export type NodeApplyState = (typeof NODE_APPLY_STATES)[number];

/** A move as recorded: who owned the GPU before and after. */
export type ChangeMove = {
  gpuId: string;
  /** `hostname/index`, for people. */
  gpuLabel: string;
  nodeId: string;
  from: OwnerRef;
  to: OwnerRef;
};

/** The predicted effect of a change (or a plan) on one deployment. */
export type DeploymentEffect = {
  deploymentId: string;
  name: string;
  sloP95Ms: number;
  gpusBefore: number;
  gpusAfter: number;
  replicasBefore: number;
  replicasAfter: number;
  /** Live p95 now; null without recent traffic. */
  p95BeforeMs: number | null;
  /** Predicted p95 with the new replica count; null when it cannot be predicted. */
  p95PredictedMs: number | null;
};

export type AllocationChangeView = {
  id: string;
  state: ChangeState;
  source: ChangeSource;
  reason: string;
  actorName: string;
  createdAt: string;
  finishedAt: string | null;
  /** Why a change was rolled back; null otherwise. */
  outcome: string | null;
  moves: ChangeMove[];
  nodes: { nodeId: string; hostname: string; state: NodeApplyState; error: string | null }[];
  /** Versions of the touched deployments and jobs after this change committed. */
  versions: Record<string, number>;
};

export type DryRunResult = {
  dryRun: true;
  moves: ChangeMove[];
  effects: DeploymentEffect[];
  /** Current versions of the touched deployments and jobs. */
  versions: Record<string, number>;
};

// --- Planner ---------------------------------------------------------------------------

export type PlannerGpu = {
  id: string;
  nodeId: string;
  label: string;
  deploymentId: string | null;
  jobId: string | null;
  /** Healthy, not cordoned, node online and not cordoned: may receive a new owner. */
  eligible: boolean;
  /** Mean utilization over the recent window; null when unknown. */
  utilizationPct: number | null;
};

export type PlannerDeployment = {
  id: string;
  name: string;
  priority: number;
  minGpus: number;
  maxGpus: number;
  gpusPerReplica: number;
  sloP95Ms: number;
  version: number;
  /** Live load: p95 over the recent window, requests/s, mean utilization of its GPUs. */
  p95Ms: number | null;
  requestsPerSecond: number;
  utilizationPct: number | null;
};

export type PlannerInput = {
  gpus: PlannerGpu[];
  deployments: PlannerDeployment[];
  jobs: { id: string; name: string; version: number }[];
};

export type PlanStep = {
  /** Stable within a plan: `step-1`, `step-2`, … */
  id: string;
  kind: 'grow' | 'reclaim';
  /** The deployment the step is for (grows it, or reclaims from it). */
  deploymentId: string;
  /** Plain words, e.g. "chat-70b p95 1,480 ms over its 1,200 ms SLO: +4 GPUs from embed-small, idle 93 %". */
  reason: string;
  moves: { gpuId: string; gpuLabel: string; nodeId: string; from: OwnerRef; to: OwnerRef }[];
};

export type Plan = {
  steps: PlanStep[];
  /** Versions of every deployment and job the plan touches, as planned against. */
  baseVersions: Record<string, number>;
  effects: DeploymentEffect[];
  computedMs: number;
};
