import { z } from 'zod';
import { CHANGE_SOURCES, CHANGE_STATES, NODE_APPLY_STATES } from '../../../lib/allocation/types';

/**
 * Output schemas of the allocation procedures, matching the types in lib/allocation/types.ts
 * and server/services/allocation/board.ts. tRPC validates responses against them and the
 * OpenAPI document is generated from them.
 */

const ZVersions = z
  .record(z.string(), z.number().int())
  .meta({ description: 'Version of each deployment and job, by id' });

export const ZOwnerRefOutput = z
  .union([z.object({ deploymentId: z.string() }), z.object({ jobId: z.string() })])
  .nullable()
  .meta({ id: 'OwnerRef', description: '`{ deploymentId }`, `{ jobId }`, or null for the free pool' });

export const ZChangeMove = z
  .object({
    gpuId: z.string(),
    gpuLabel: z.string().meta({ description: 'hostname/index' }),
    nodeId: z.string(),
    from: ZOwnerRefOutput,
    to: ZOwnerRefOutput,
  })
  .meta({ id: 'ChangeMove' });

export const ZDeploymentEffect = z
  .object({
    deploymentId: z.string(),
    name: z.string(),
    sloP95Ms: z.number(),
    gpusBefore: z.number().int(),
    gpusAfter: z.number().int(),
    replicasBefore: z.number().int(),
    replicasAfter: z.number().int(),
    p95BeforeMs: z.number().nullable(),
    p95PredictedMs: z.number().nullable(),
  })
  .meta({ id: 'DeploymentEffect', description: 'The predicted effect of a change on one deployment' });

export const ZAllocationChange = z
  .object({
    id: z.string(),
    state: z.enum(CHANGE_STATES),
    source: z.enum(CHANGE_SOURCES),
    reason: z.string(),
    actorName: z.string(),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
    outcome: z.string().nullable().meta({ description: 'Why it was rolled back' }),
    moves: z.array(ZChangeMove),
    nodes: z.array(
      z.object({
        nodeId: z.string(),
        hostname: z.string(),
        state: z.enum(NODE_APPLY_STATES),
        error: z.string().nullable(),
      }),
    ),
    versions: ZVersions.meta({
      description: 'Versions of the touched deployments and jobs after the change',
    }),
  })
  .meta({ id: 'AllocationChange' });

export const ZDryRunResult = z
  .object({
    dryRun: z.literal(true),
    moves: z.array(ZChangeMove),
    effects: z.array(ZDeploymentEffect),
    versions: ZVersions,
  })
  .meta({ id: 'DryRunResult' });

export const ZSubmitResult = z.union([ZDryRunResult, ZAllocationChange]);

export const ZChangePage = z.object({
  items: z.array(ZAllocationChange),
  nextBefore: z.string().nullable().meta({ description: 'Pass as `before` for the next page' }),
});

export const ZAllocationBoard = z
  .object({
    deployments: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        version: z.number().int(),
        priority: z.number().int(),
        minGpus: z.number().int(),
        maxGpus: z.number().int(),
        gpusPerReplica: z.number().int(),
        sloP95Ms: z.number(),
        p95Ms: z.number().nullable(),
        requestsPerSecond: z.number(),
      }),
    ),
    jobs: z.array(
      z.object({ id: z.string(), name: z.string(), version: z.number().int(), state: z.string() }),
    ),
    gpus: z.array(
      z.object({
        id: z.string(),
        label: z.string(),
        nodeId: z.string(),
        hostname: z.string(),
        clusterName: z.string(),
        health: z.enum(['ok', 'degraded', 'failed']),
        cordoned: z.boolean(),
        eligible: z.boolean().meta({ description: 'May receive a new owner' }),
        deploymentId: z.string().nullable(),
        jobId: z.string().nullable(),
        utilizationPct: z.number().nullable(),
        busyChangeId: z.string().nullable().meta({ description: 'A change being applied holds it' }),
      }),
    ),
    changes: z.array(ZAllocationChange),
  })
  .meta({ id: 'AllocationBoard' });

export const ZPlan = z
  .object({
    steps: z.array(
      z.object({
        id: z.string().meta({ description: 'step-1, step-2, …' }),
        kind: z.enum(['grow', 'reclaim']),
        deploymentId: z.string(),
        reason: z.string(),
        moves: z.array(ZChangeMove),
      }),
    ),
    baseVersions: ZVersions.meta({ description: 'The versions the plan was computed against' }),
    effects: z.array(ZDeploymentEffect),
    computedMs: z.number(),
  })
  .meta({ id: 'Plan' });

export const ZAutoStatus = z
  .object({
    enabled: z.boolean(),
    maxMovesPerInterval: z.number().int(),
    intervalS: z.number().int(),
    cooldownS: z.number().int(),
    lastRunAt: z.string().nullable(),
    lastResult: z.string().meta({ description: 'What the last round did, in words' }),
  })
  .meta({ id: 'AutoStatus', description: 'The automatic planner: its switch, guardrails and last round' });
