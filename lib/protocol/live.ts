import type { AllocationChangeView } from '../allocation/types';
import type { StressRunState } from '../stress/run-definition';
import type { ThresholdVerdict } from '../stress/thresholds';

/**
 * Server → browser live updates on the socket.io namespace `/live`. Browsers join rooms
 * (`fleet`, `node:<id>`, `deployment:<id>`, `stress:<runId>`); the server sends at most a
 * few updates per second per room, whatever the agents' rate.
 */
export const LIVE_NAMESPACE = '/live';

export type LiveRoom =
  | 'fleet'
  | 'allocations'
  | `node:${string}`
  | `deployment:${string}`
  | `stress:${string}`;

/** Latest sample per GPU, compact: the fleet view draws thousands of these per second. */
export type GpuLivePoint = {
  id: string;
  util: number;
  memUsedMiB: number;
  memTotalMiB: number;
  powerW: number | null;
  tempC: number | null;
  smClockMHz: number | null;
};

export type FleetSummary = {
  at: number;
  gpusTotal: number;
  gpusAllocated: number;
  gpusIdle: number;
  meanUtilizationPct: number | null;
  nodesOnline: number;
  nodesDegraded: number;
  nodesOffline: number;
  deploymentsTotal: number;
  deploymentsWithinSlo: number;
};

export type LatencyPoint = {
  deploymentId: string;
  at: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  requestsPerSecond: number;
  errorsPerSecond: number;
  queueDepth: number;
};

/** One second of a stress run, merged over every agent that reported it. */
export type StressSeriesPoint = {
  /** Seconds since the run's start. */
  second: number;
  /** Start of the second, ms since the epoch. */
  at: number;
  phase: 'warmup' | 'measure';
  /** Agents whose reports are in this second. */
  agents: number;
  /** Open loop: the rate asked for, req/s (0 for a closed loop). */
  targetRps: number;
  /** Requests sent per second. */
  achievedRps: number;
  /** Responses received per second. */
  throughputRps: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  errors: number;
  late: number;
};

/** A threshold judged on every measured request so far. */
export type StressThresholdStatus = ThresholdVerdict & {
  /** First second at which the cumulative figure broke the threshold; null if it never did. */
  breachedSecond: number | null;
};

export type StressLiveUpdate = {
  runId: string;
  at: number;
  state: StressRunState;
  /** A stop was sent; the final reports are awaited. */
  stopping: boolean;
  elapsedS: number;
  durationS: number;
  warmupS: number;
  /** The seconds that changed since the previous update (all of them after a join). */
  points: StressSeriesPoint[];
  thresholds: StressThresholdStatus[];
  reason: string | null;
};

export type NodeStatusChange = { nodeId: string; status: 'online' | 'degraded' | 'offline'; at: number };

export interface ServerToBrowserEvents {
  'fleet:summary': (summary: FleetSummary) => void;
  /**
   * Latest GPU points: once a second for the fleet room; for a node room, as soon as each of
   * the node's frames arrives, with the agent's `sampledAt` (so a client can measure delay).
   */
  'fleet:gpus': (update: { at: number; sampledAt?: number; gpus: GpuLivePoint[] }) => void;
  'deployment:latency': (points: LatencyPoint[]) => void;
  'node:status': (change: NodeStatusChange) => void;
  /** Room `allocations`: an allocation change was created or changed state. */
  'allocation:change': (change: AllocationChangeView) => void;
  /** Room `stress:<runId>`: once a second while a run is in progress, and once when it ends. */
  'stress:update': (update: StressLiveUpdate) => void;
}

export interface BrowserToServerEvents {
  subscribe: (room: LiveRoom, ack: (reply: { ok: boolean; error?: string }) => void) => void;
  unsubscribe: (room: LiveRoom) => void;
}
