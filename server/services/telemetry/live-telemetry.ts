import { LatencyDistribution } from '../../../lib/latency-histogram';
import type { DeploymentSample, TelemetryFrame } from '../../../lib/protocol/agent';
import type { FleetSummary, GpuLivePoint, LatencyPoint } from '../../../lib/protocol/live';
import type { FleetCatalog } from '../fleet/catalog';

/** A GPU under this utilization counts as idle in the headline figures. */
export const IDLE_UTILIZATION_PCT = 5;
/** A sample older than this no longer counts as "now". */
const STALE_AFTER_MS = 5_000;

type DeploymentNodeSample = { at: number; intervalMs: number; sample: DeploymentSample };

/**
 * How far back planning looks: long enough that one noisy second (a burst, a GC pause on a
 * model server) does not move GPUs, short enough to follow a real change in load.
 */
export const RECENT_WINDOW_MS = 30_000;

/** A deployment's load over the recent window, merged over its nodes and intervals. */
export type RecentLoad = { p95Ms: number | null; requestsPerSecond: number };

/**
 * The latest state of every GPU and deployment, kept in memory for the live views
 * (raw 1 s samples are never stored; rollups are, see rollup-writer.ts).
 */
export class LiveTelemetry {
  private gpuPoints = new Map<string, GpuLivePoint & { at: number }>();
  /** When each GPU last went below the idle threshold (absent while it is busy). */
  private idleSince = new Map<string, number>();
  /** deploymentId → nodeId → that node's latest interval. */
  private deploymentSamples = new Map<string, Map<string, DeploymentNodeSample>>();
  /** deploymentId → every node's intervals of the recent window, oldest first. */
  private recentSamples = new Map<string, DeploymentNodeSample[]>();
  /** GPU utilization smoothed over about RECENT_WINDOW_MS (exponential moving average). */
  private smoothedUtil = new Map<string, { at: number; value: number }>();
  readonly nodeLastFrameAt = new Map<string, number>();
  samplesIngested = 0;
  framesIngested = 0;

  constructor(private readonly catalog: FleetCatalog) {}

  /** Applies a validated frame whose GPU uuids and deployments were checked against the node. */
  ingest(nodeId: string, frame: TelemetryFrame, gpuIds: string[], receivedAt = Date.now()): void {
    const at = Math.min(frame.sampledAt, receivedAt);
    frame.gpus.forEach((gpu, i) => {
      const id = gpuIds[i]!;
      this.gpuPoints.set(id, {
        id,
        at,
        util: gpu.utilizationPct,
        memUsedMiB: gpu.memoryUsedMiB,
        memTotalMiB: gpu.memoryTotalMiB,
        powerW: gpu.powerW,
        tempC: gpu.temperatureC,
        smClockMHz: gpu.smClockMHz,
      });
      const previous = this.smoothedUtil.get(id);
      const alpha = previous ? 1 - Math.exp(-Math.max(0, at - previous.at) / RECENT_WINDOW_MS) : 1;
      const value = previous
        ? previous.value + alpha * (gpu.utilizationPct - previous.value)
        : gpu.utilizationPct;
      this.smoothedUtil.set(id, { at, value });
      if (gpu.utilizationPct >= IDLE_UTILIZATION_PCT) this.idleSince.delete(id);
      else if (!this.idleSince.has(id)) this.idleSince.set(id, at);
    });
    for (const sample of frame.deployments) {
      let byNode = this.deploymentSamples.get(sample.deploymentId);
      if (!byNode) {
        byNode = new Map();
        this.deploymentSamples.set(sample.deploymentId, byNode);
      }
      const entry = { at, intervalMs: frame.intervalMs, sample };
      byNode.set(nodeId, entry);
      let recent = this.recentSamples.get(sample.deploymentId);
      if (!recent) {
        recent = [];
        this.recentSamples.set(sample.deploymentId, recent);
      }
      recent.push(entry);
      let expired = 0;
      while (expired < recent.length && at - recent[expired]!.at > RECENT_WINDOW_MS) expired++;
      if (expired > 0) recent.splice(0, expired);
    }
    this.nodeLastFrameAt.set(nodeId, receivedAt);
    this.samplesIngested += frame.gpus.length;
    this.framesIngested += 1;
  }

  /** How long the GPU has been idle (below IDLE_UTILIZATION_PCT) without a break, or null. */
  idleFor(gpuId: string, now = Date.now()): number | null {
    const since = this.idleSince.get(gpuId);
    const point = this.gpuPoints.get(gpuId);
    if (since === undefined || !point || now - point.at >= STALE_AFTER_MS) return null;
    return now - since;
  }

  /** Utilization averaged over about the recent window, or null without a fresh sample. */
  smoothedUtilization(gpuId: string, now = Date.now()): number | null {
    const smoothed = this.smoothedUtil.get(gpuId);
    return smoothed && now - smoothed.at < STALE_AFTER_MS ? smoothed.value : null;
  }

  /**
   * A deployment's p95 and request rate over the recent window: every interval of every
   * node merged, so planning is not steered by one noisy second.
   */
  recentLoad(deploymentId: string, now = Date.now()): RecentLoad {
    const merged = new LatencyDistribution();
    let requests = 0;
    let oldest = now;
    for (const entry of this.recentSamples.get(deploymentId) ?? []) {
      if (now - entry.at > RECENT_WINDOW_MS) continue;
      merged.addWire(entry.sample.latencyMs);
      requests += entry.sample.requests;
      oldest = Math.min(oldest, entry.at - entry.intervalMs);
    }
    const seconds = (now - oldest) / 1000;
    return { p95Ms: merged.quantile(0.95), requestsPerSecond: seconds > 0 ? requests / seconds : 0 };
  }

  gpuPoint(gpuId: string): (GpuLivePoint & { at: number }) | undefined {
    return this.gpuPoints.get(gpuId);
  }

  /** Fresh GPU points, optionally only those of one node. */
  gpuLivePoints(now = Date.now(), nodeId?: string): GpuLivePoint[] {
    const ids = nodeId ? (this.catalog.gpuIdsByNode.get(nodeId) ?? []) : this.gpuPoints.keys();
    const points: GpuLivePoint[] = [];
    for (const id of ids) {
      const p = this.gpuPoints.get(id);
      if (p && now - p.at < STALE_AFTER_MS) {
        const { at: _at, ...point } = p;
        points.push(point);
      }
    }
    return points;
  }

  /**
   * Current latency of a deployment: the latest interval of every node that serves it,
   * merged into one distribution, so p95 is over all its traffic (never an average of p95s).
   */
  latencyPoint(deploymentId: string, now = Date.now()): LatencyPoint {
    const merged = new LatencyDistribution();
    let requestsPerSecond = 0;
    let errorsPerSecond = 0;
    let queueDepth = 0;
    for (const entry of this.deploymentSamples.get(deploymentId)?.values() ?? []) {
      if (now - entry.at > STALE_AFTER_MS) continue;
      merged.addWire(entry.sample.latencyMs);
      const seconds = entry.intervalMs / 1000;
      requestsPerSecond += entry.sample.requests / seconds;
      errorsPerSecond += entry.sample.errors / seconds;
      queueDepth += entry.sample.queueDepth;
    }
    return {
      deploymentId,
      at: now,
      p50: merged.quantile(0.5),
      p95: merged.quantile(0.95),
      p99: merged.quantile(0.99),
      requestsPerSecond,
      errorsPerSecond,
      queueDepth,
    };
  }

  latencyPoints(now = Date.now()): LatencyPoint[] {
    return [...this.catalog.deployments.keys()].map((id) => this.latencyPoint(id, now));
  }

  summary(latency: LatencyPoint[], now = Date.now()): FleetSummary {
    const { catalog } = this;
    let utilSum = 0;
    let utilCount = 0;
    let idle = 0;
    for (const gpuId of catalog.gpus.keys()) {
      const p = this.gpuPoints.get(gpuId);
      if (!p || now - p.at >= STALE_AFTER_MS) continue;
      utilSum += p.util;
      utilCount += 1;
      if (p.util < IDLE_UTILIZATION_PCT) idle += 1;
    }
    let online = 0;
    let degraded = 0;
    let offline = 0;
    for (const node of catalog.nodes.values()) {
      if (node.status === 'online') online += 1;
      else if (node.status === 'degraded') degraded += 1;
      else offline += 1;
    }
    const withinSlo = latency.filter((point) => {
      const slo = catalog.deployments.get(point.deploymentId)?.sloP95Ms;
      return slo !== undefined && point.p95 !== null && point.p95 <= slo;
    }).length;
    return {
      at: now,
      gpusTotal: catalog.gpus.size,
      gpusAllocated: catalog.owners.size,
      gpusIdle: idle,
      meanUtilizationPct: utilCount > 0 ? utilSum / utilCount : null,
      nodesOnline: online,
      nodesDegraded: degraded,
      nodesOffline: offline,
      deploymentsTotal: catalog.deployments.size,
      deploymentsWithinSlo: withinSlo,
    };
  }
}
