/**
 * Server → browser live updates on the socket.io namespace `/live`. Browsers join rooms
 * (`fleet`, `node:<id>`, `deployment:<id>`); the server sends at most a few updates per
 * second per room, whatever the agents' rate.
 */
export const LIVE_NAMESPACE = '/live';

export type LiveRoom = 'fleet' | `node:${string}` | `deployment:${string}`;

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
}

export interface BrowserToServerEvents {
  subscribe: (room: LiveRoom, ack: (reply: { ok: boolean; error?: string }) => void) => void;
  unsubscribe: (room: LiveRoom) => void;
}
