import { z } from 'zod';
import { ZLatencyHistogramWire } from '../latency-histogram';
import { text } from './agent';

/**
 * Stress-test messages between the server and agents, on the agent namespace (see
 * lib/protocol/agent.ts). The server splits a run's load among the agents that host the
 * target deployment; each agent generates its share against its local endpoints and
 * reports one interval per second. Latency is measured from each request's intended send
 * time, so a stalled target cannot hide its worst latencies (no coordinated omission).
 */

/** A ramp stage: the rate moves linearly from `fromRps` to `toRps` over `durationS`. */
export const ZRateStage = z.object({
  durationS: z
    .number()
    .positive()
    .max(24 * 3600),
  fromRps: z.number().nonnegative().max(1_000_000),
  toRps: z.number().nonnegative().max(1_000_000),
});
export type RateStage = z.infer<typeof ZRateStage>;

export const ZLoadModel = z.discriminatedUnion('kind', [
  /** Open loop: requests are sent on schedule whether or not earlier ones have answered. */
  z.object({
    kind: z.literal('open'),
    arrival: z.enum(['constant', 'poisson']),
    stages: z.array(ZRateStage).min(1).max(32),
  }),
  /** Closed loop: a fixed number of workers, each waiting for its answer. Labelled as such. */
  z.object({
    kind: z.literal('closed'),
    concurrency: z.number().int().positive().max(10_000),
    durationS: z
      .number()
      .positive()
      .max(24 * 3600),
  }),
]);
export type LoadModel = z.infer<typeof ZLoadModel>;

export const ZRequestShape = z.object({
  method: z.enum(['GET', 'POST']).default('POST'),
  /** Path on the deployment's endpoint, e.g. `/v1/completions`. */
  path: z.string().startsWith('/').max(512).default('/v1/completions'),
  body: z
    .string()
    .max(64 * 1024)
    .optional(),
  headers: z.record(z.string().max(128), z.string().max(1024)).default({}),
  timeoutMs: z.number().int().positive().max(120_000).default(30_000),
});
export type RequestShape = z.infer<typeof ZRequestShape>;

/** Server → agent `stress:start`: this agent's share of a run. */
export const ZStressAssignment = z.object({
  runId: z.string().min(1).max(64),
  deploymentId: z.string().min(1).max(64),
  load: ZLoadModel,
  /** This agent's fraction of the open-loop rate, or of the closed-loop concurrency (rounded up). */
  share: z.number().positive().max(1),
  warmupS: z.number().nonnegative().max(3600),
  request: ZRequestShape,
  /** Epoch ms at which every agent starts, so their seconds line up. */
  startAt: z.number().int().positive(),
});
export type StressAssignment = z.infer<typeof ZStressAssignment>;

export type StressStartAck = { ok: true } | { ok: false; error: string };

/** Server → agent `stress:stop`: abort (or end early) a run. */
export type StressStop = { runId: string; reason: string };

/** Most requests one agent may report for one interval of a run. */
const MAX_REPORT_COUNT = 10_000_000;

/** Agent → server `stress:report`, once per second of the run and once more at the end. */
export const ZStressReport = z.object({
  runId: text().min(1).max(64),
  /** 1, 2, 3, … per agent per run (at most one a second for a day); the server ignores repeats. */
  seq: z.number().int().positive().max(1_000_000),
  intervalStart: z.number().int().positive(),
  intervalEnd: z.number().int().positive(),
  phase: z.enum(['warmup', 'measure']),
  /** The rate this agent was asked for during the interval (open loop), requests/s. */
  targetRps: z.number().nonnegative().max(10_000_000),
  /** Requests sent during the interval. */
  sent: z.number().int().nonnegative().max(MAX_REPORT_COUNT),
  /** Responses received during the interval (successes and errors). */
  completed: z.number().int().nonnegative().max(MAX_REPORT_COUNT),
  /** Non-2xx answers, connection errors and timeouts. */
  errors: z.number().int().nonnegative().max(MAX_REPORT_COUNT),
  /** Requests that went out later than their intended send time (by more than 1 ms… see agent). */
  late: z.number().int().nonnegative().max(MAX_REPORT_COUNT),
  /** Latency from intended send time to response, ms, of requests completed in the interval. */
  histogram: ZLatencyHistogramWire,
  /** True on the agent's last report for the run. */
  done: z.boolean().default(false),
});
export type StressReport = z.infer<typeof ZStressReport>;

/** Agent → server `endpoints`: the inference endpoints this agent can load, per deployment. */
export const ZAgentEndpoints = z.object({
  endpoints: z
    .array(
      z.object({
        deploymentId: text().min(1).max(64),
        url: z.url().max(512),
        /** Replicas behind the endpoint on this node; the server splits load by it. */
        replicas: z.number().int().positive().max(64),
      }),
    )
    .max(64),
});
export type AgentEndpoints = z.infer<typeof ZAgentEndpoints>;
