import { z } from 'zod';
import {
  STRESS_RUN_STATES,
  ZCapacitySearchDefinition,
  ZRunDefinition,
} from '../../../lib/stress/run-definition';
import { THRESHOLD_METRICS } from '../../../lib/stress/thresholds';

/**
 * What the stress API returns, as zod schemas: the router declares them as `.output()`, so
 * API clients get exactly these shapes (and their OpenAPI description).
 */

const ms = z.number().nullable();

export const ZStressRunState = z.enum(STRESS_RUN_STATES);
export const ZStressRunKind = z.enum(['load', 'capacity', 'step']);
export const ZParticipantState = z.enum(['assigned', 'running', 'done', 'refused', 'lost']);

export const ZThresholdStatus = z.object({
  text: z.string(),
  metric: z.enum(THRESHOLD_METRICS),
  op: z.enum(['<', '<=']),
  value: z.number(),
  unit: z.enum(['ms', '%']),
  /** null while nothing was measured. */
  pass: z.boolean().nullable(),
  measured: z.number().nullable(),
  /** First second at which the cumulative figure broke the threshold. */
  breachedSecond: z.number().int().nullable(),
});
export type ThresholdStatusView = z.infer<typeof ZThresholdStatus>;

/** Figures over the measured phase (warm-up excluded); latencies in ms. */
export const ZRunFigures = z.object({
  p50: ms,
  p90: ms,
  p95: ms,
  p99: ms,
  'p99.9': ms,
  max: ms,
  mean: ms,
  errorsPct: z.number().nullable(),
  latePct: z.number().nullable(),
  requests: z.number(),
  sent: z.number(),
  errors: z.number(),
  late: z.number(),
  throughputRps: z.number().nullable(),
  achievedRps: z.number().nullable(),
  targetRps: z.number().nullable(),
  measuredS: z.number(),
});

/** A load run's (or a step's) stored `results`. */
export const ZStressResults = z.object({
  figures: ZRunFigures,
  thresholds: z.array(ZThresholdStatus),
});
export type StressResults = z.infer<typeof ZStressResults>;

export const ZSeriesPoint = z.object({
  second: z.number().int(),
  at: z.number(),
  phase: z.enum(['warmup', 'measure']),
  agents: z.number().int(),
  targetRps: z.number(),
  achievedRps: z.number(),
  throughputRps: z.number(),
  p50: ms,
  p95: ms,
  p99: ms,
  errors: z.number(),
  late: z.number(),
});

/** One step of a capacity search: a point of the latency–throughput curve. */
export const ZCurvePoint = z.object({
  stepRunId: z.string(),
  targetRps: z.number(),
  achievedRps: z.number().nullable(),
  throughputRps: z.number().nullable(),
  p50: ms,
  p95: ms,
  p99: ms,
  errorsPct: z.number().nullable(),
  /** Kept the SLO and the error budget at (nearly) the asked rate. */
  ok: z.boolean(),
  /** p95 of the step's halves within the stability bound. */
  stable: z.boolean(),
  /** The step was run a second time, twice as long, because the first was not stable. */
  extended: z.boolean(),
  why: z.string().nullable(),
});
export type CurvePoint = z.infer<typeof ZCurvePoint>;

export const ZCapacityResults = z.object({
  sloP95Ms: z.number(),
  errorBudgetPct: z.number(),
  points: z.array(ZCurvePoint),
  /** The highest rate that kept the SLO; null if none did. */
  bestRps: z.number().nullable(),
  /** The rate being measured now (null once the search has ended). */
  currentRps: z.number().nullable(),
  currentStepId: z.string().nullable(),
});
export type CapacityResults = z.infer<typeof ZCapacityResults>;

export const ZParticipantView = z.object({
  nodeId: z.string(),
  hostname: z.string(),
  endpointUrl: z.string(),
  replicas: z.number().int(),
  share: z.number(),
  state: ZParticipantState,
  reason: z.string().nullable(),
  reports: z.number().int(),
  lastReportAt: z.string().nullable(),
  /** Measured phase only. */
  sent: z.number(),
  completed: z.number(),
  errors: z.number(),
  late: z.number(),
  p95: ms,
});

const ZDeploymentRef = z.object({
  id: z.string(),
  name: z.string(),
  sloP95Ms: z.number(),
  priority: z.number(),
});

export const ZStressRunListItem = z.object({
  id: z.string(),
  kind: ZStressRunKind,
  deployment: ZDeploymentRef,
  state: ZStressRunState,
  reason: z.string().nullable(),
  /** "open loop, Poisson, 100 req/s", "closed loop, 32 workers", "capacity search, 10–400 req/s". */
  loadLabel: z.string(),
  startAt: z.string(),
  durationS: z.number(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  createdByName: z.string(),
  p95: ms,
  p99: ms,
  throughputRps: z.number().nullable(),
  errorsPct: z.number().nullable(),
  thresholdsPassed: z.number().int(),
  thresholdsFailed: z.number().int(),
  /** Capacity searches: the highest rate that kept the SLO. */
  bestRps: z.number().nullable(),
});
export type StressRunListItem = z.infer<typeof ZStressRunListItem>;

export const ZStressRunView = ZStressRunListItem.extend({
  parentId: z.string().nullable(),
  /** A stop was sent and the final reports are awaited. */
  stopping: z.boolean(),
  /** Seconds since the start (capped at the duration once over). */
  elapsedS: z.number(),
  warmupS: z.number(),
  /** Load runs and steps. */
  definition: ZRunDefinition.nullable(),
  participants: z.array(ZParticipantView),
  /** Per second; long runs come in groups of seconds (`resolutionS`). */
  series: z.array(ZSeriesPoint),
  resolutionS: z.number().int(),
  thresholds: z.array(ZThresholdStatus),
  /** Figures so far while running; final once the run has ended (`final`). */
  results: ZRunFigures.extend({ final: z.boolean() }).nullable(),
  capacity: z
    .object({
      definition: ZCapacitySearchDefinition,
      results: ZCapacityResults.nullable(),
      steps: z.array(
        z.object({
          id: z.string(),
          state: ZStressRunState,
          targetRps: z.number().nullable(),
          createdAt: z.string(),
        }),
      ),
    })
    .nullable(),
});
export type StressRunView = z.infer<typeof ZStressRunView>;

export const ZStartOutput = z.object({
  id: z.string(),
  state: ZStressRunState,
  reason: z.string().nullable(),
  startAt: z.string(),
  durationS: z.number(),
  participants: z.array(
    z.object({
      nodeId: z.string(),
      hostname: z.string(),
      share: z.number(),
      replicas: z.number().int(),
      state: ZParticipantState,
      reason: z.string().nullable(),
    }),
  ),
});
export type StartOutput = z.infer<typeof ZStartOutput>;

export const ZAbortOutput = z.object({
  id: z.string(),
  state: ZStressRunState,
  reason: z.string().nullable(),
});
