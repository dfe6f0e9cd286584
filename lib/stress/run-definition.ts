import { z } from 'zod';
import { type LoadModel, ZLoadModel, ZRequestShape } from '../protocol/stress';
import { parseThreshold, type Threshold } from './thresholds';

/**
 * What an operator or API client asks for when starting a stress run, and the capacity
 * search built from such runs. The server adds what depends on it (the rate limit, the
 * deployment's priority); everything checkable without it is checked here, so the start
 * form and the API refuse the same inputs with the same words.
 */

/** A run lasts at most a day, warm-up included. */
export const MAX_RUN_S = 24 * 3600;
export const MAX_THRESHOLDS = 16;
/** Deployments at or above this priority are loaded only when the caller types their name. */
export const CONFIRM_PRIORITY = 90;

const ZDeploymentId = z.string().trim().min(1, 'Choose a deployment').max(64);

/** Threshold strings, each parsed; a bad one is refused by its index and quoted. */
export const ZThresholdList = z
  .array(z.string().max(64, 'at most 64 characters'))
  .max(MAX_THRESHOLDS, `at most ${MAX_THRESHOLDS} thresholds`)
  .superRefine((list, ctx) => {
    for (const [i, text] of list.entries()) {
      const parsed = parseThreshold(text);
      if (!parsed.ok) ctx.addIssue({ code: 'custom', path: [i], message: parsed.error });
    }
  });

/** Load model, request and gates of one run. `durationS` follows from the load model. */
export const ZRunDefinition = z
  .object({
    deploymentId: ZDeploymentId.meta({ description: 'The deployment to load (GET /deployments).' }),
    load: ZLoadModel.meta({
      description:
        'Open loop: {"kind":"open","arrival":"poisson"|"constant","stages":[{"durationS","fromRps","toRps"}]}; closed loop: {"kind":"closed","concurrency","durationS"}. The run lasts as long as the load.',
    }),
    /** Seconds at the start of the run whose requests are sent but not judged. */
    warmupS: z
      .number()
      .nonnegative()
      .max(3600)
      .default(5)
      .meta({ description: 'Seconds at the start whose requests are sent but not judged.' }),
    request: ZRequestShape.prefault({}).meta({
      description: 'Method, path, body, headers and timeout of each request.',
    }),
    thresholds: ZThresholdList.default([]).meta({
      description:
        'Gates such as "p95 < 250ms", "p99 <= 600ms", "errors < 1%", "late < 5%" (p50, p90, p95, p99, p99.9, max, errors, late).',
    }),
    /** Stop the run as soon as a threshold fails (after warm-up and `graceS`). */
    abortOnFail: z
      .boolean()
      .default(true)
      .meta({ description: 'Stop the run as soon as a threshold fails, after warm-up and graceS.' }),
    graceS: z
      .number()
      .nonnegative()
      .max(3600)
      .default(10)
      .meta({ description: 'Seconds after warm-up before a failing threshold aborts the run.' }),
    /** The deployment's name, typed to confirm loading a high-priority deployment. */
    confirm: z
      .string()
      .trim()
      .max(128)
      .optional()
      .meta({
        description: `The deployment's name, required to load a deployment of priority ${CONFIRM_PRIORITY} or more.`,
      }),
  })
  .superRefine((definition, ctx) => {
    const durationS = loadDurationS(definition.load);
    if (durationS > MAX_RUN_S) {
      ctx.addIssue({
        code: 'custom',
        path: ['load'],
        message: `the run would last ${durationS} s; at most ${MAX_RUN_S} s`,
      });
    }
    if (definition.warmupS >= durationS) {
      ctx.addIssue({
        code: 'custom',
        path: ['warmupS'],
        message: `warm-up must be shorter than the run (${durationS} s)`,
      });
    }
    if (definition.load.kind === 'open' && peakRps(definition.load) === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['load', 'stages'],
        message: 'every stage has a rate of 0 req/s',
      });
    }
  });
export type RunDefinition = z.infer<typeof ZRunDefinition>;
export type RunDefinitionInput = z.input<typeof ZRunDefinition>;

/**
 * A capacity search: open-loop steps at increasing rates (doubling until the SLO breaks or
 * `maxRps`), then bisection to `tolerancePct`. Each step warms up, then measures for
 * `stepDurationS`; a step whose p95 drifts by more than `stabilityPct` between its halves
 * is run once more, twice as long.
 */
export const ZCapacitySearchDefinition = z
  .object({
    mode: z.literal('capacity').default('capacity'),
    deploymentId: ZDeploymentId,
    /** The p95 each step must keep; the deployment's SLO when absent. */
    sloP95Ms: z.number().positive().max(600_000).optional(),
    startRps: z.number().positive().max(1_000_000),
    maxRps: z.number().positive().max(1_000_000),
    stepDurationS: z.number().int().min(2).max(3600).default(30),
    warmupS: z.number().nonnegative().max(600).default(5),
    /** Errors a step may have and still count as keeping the SLO, % of its requests. */
    errorBudgetPct: z.number().min(0).max(100).default(1),
    /** Bisection stops once the bracket is narrower than this share of its upper end. */
    tolerancePct: z.number().min(0.5).max(50).default(5),
    stabilityPct: z.number().positive().max(500).default(25),
    arrival: z.enum(['constant', 'poisson']).default('poisson'),
    request: ZRequestShape.prefault({}),
    confirm: z.string().trim().max(128).optional(),
  })
  .superRefine((definition, ctx) => {
    if (definition.maxRps < definition.startRps) {
      ctx.addIssue({ code: 'custom', path: ['maxRps'], message: 'must be at least startRps' });
    }
  });
export type CapacitySearchDefinition = z.infer<typeof ZCapacitySearchDefinition>;
export type CapacitySearchInput = z.input<typeof ZCapacitySearchDefinition>;

/** Length of the run in seconds, warm-up included. */
export function loadDurationS(load: LoadModel): number {
  if (load.kind === 'closed') return load.durationS;
  return load.stages.reduce((sum, stage) => sum + stage.durationS, 0);
}

/** Highest rate an open-loop run asks for, req/s; null for a closed loop (no set rate). */
export function peakRps(load: LoadModel): number | null {
  if (load.kind === 'closed') return null;
  return Math.max(...load.stages.map((s) => Math.max(s.fromRps, s.toRps)));
}

/** The stage (and its field) asking for the peak rate, to name it in a refusal. */
export function peakRpsField(load: LoadModel): string | null {
  if (load.kind === 'closed') return null;
  const peak = peakRps(load);
  const index = load.stages.findIndex((s) => Math.max(s.fromRps, s.toRps) === peak);
  const stage = load.stages[index]!;
  return `load.stages.${index}.${stage.toRps >= stage.fromRps ? 'toRps' : 'fromRps'}`;
}

/** The open-loop target rate at `t` seconds into the run (linear within a stage). */
export function targetRpsAt(load: LoadModel, t: number): number | null {
  if (load.kind === 'closed') return null;
  let start = 0;
  for (const stage of load.stages) {
    if (t < start + stage.durationS) {
      return stage.fromRps + ((stage.toRps - stage.fromRps) * (t - start)) / stage.durationS;
    }
    start += stage.durationS;
  }
  return load.stages[load.stages.length - 1]!.toRps;
}

/** "open loop, Poisson, 10 → 200 req/s in 3 stages" or "closed loop, 32 workers". */
export function describeLoad(load: LoadModel): string {
  if (load.kind === 'closed') {
    return `closed loop, ${load.concurrency} worker${load.concurrency === 1 ? '' : 's'}`;
  }
  const arrival = load.arrival === 'poisson' ? 'Poisson' : 'constant';
  const rates = load.stages.flatMap((s) => [s.fromRps, s.toRps]);
  const first = rates[0]!;
  const constant = rates.every((r) => r === first);
  const stages = load.stages.length === 1 ? '' : ` in ${load.stages.length} stages`;
  const span = constant
    ? `${first} req/s`
    : `${first} → ${rates[rates.length - 1]} req/s (peak ${peakRps(load)})`;
  return `open loop, ${arrival}, ${span}${stages}`;
}

export function parsedThresholds(texts: readonly string[]): Threshold[] {
  return texts.flatMap((text) => {
    const parsed = parseThreshold(text);
    return parsed.ok ? [parsed.threshold] : [];
  });
}

/**
 * starting → running → passed | failed | aborted | partial | error. `partial`: an agent
 * went away or stopped reporting mid-run (what it sent is kept); `error`: the run could
 * not run as defined (an agent refused it, the server restarted).
 */
export const STRESS_RUN_STATES = [
  'starting',
  'running',
  'passed',
  'failed',
  'aborted',
  'partial',
  'error',
] as const;
export type StressRunState = (typeof STRESS_RUN_STATES)[number];
export const FINAL_STRESS_STATES: readonly StressRunState[] = [
  'passed',
  'failed',
  'aborted',
  'partial',
  'error',
];
