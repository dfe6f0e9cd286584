import { LatencyDistribution } from '../../../lib/latency-histogram';
import type { StressSeriesPoint } from '../../../lib/protocol/live';
import type { StressReport } from '../../../lib/protocol/stress';
import { LATENCY_METRICS, METRIC_QUANTILE, type MeasuredFigures } from '../../../lib/stress/thresholds';

/**
 * The merged view of one run: per second, the counts of every agent added up and their
 * latency histograms merged (never percentiles averaged), plus the running totals of the
 * measured phase that thresholds and results are judged on. Fed by agents' reports while
 * the run lasts, or by the stored seconds when a finished run is read back.
 */

export type Phase = 'warmup' | 'measure';

type Counts = { sent: number; completed: number; errors: number; late: number };

/** Latency figures the sketch's stored form loses: the exact maximum and the sum (ms). */
type Extremes = { maxMs: number; sumMs: number };

export type SecondBucket = Counts &
  Extremes & {
    second: number;
    start: number;
    end: number;
    phase: Phase;
    agents: number;
    targetRps: number;
    latency: LatencyDistribution;
  };

/** A stored second, as the database holds it. */
export type StoredSecond = Counts & {
  second: number;
  intervalStart: Date;
  intervalEnd: Date;
  phase: Phase;
  agents: number;
  targetRps: number;
  latencySketch: Uint8Array;
  latencyMaxMs: number;
  latencySumMs: number;
};

export type RunFigures = MeasuredFigures & {
  requests: number;
  sent: number;
  errors: number;
  late: number;
  mean: number | null;
  /** Responses per second over the measured phase. */
  throughputRps: number | null;
  /** Requests sent per second over the measured phase. */
  achievedRps: number | null;
  /** Mean rate asked for over the measured phase (0 for a closed loop). */
  targetRps: number | null;
  measuredS: number;
};

export class RunAggregator {
  private readonly buckets = new Map<number, SecondBucket>();
  private readonly agentsBySecond = new Map<number, Set<string>>();
  private readonly changed = new Set<number>();
  private readonly measured = {
    sent: 0,
    completed: 0,
    errors: 0,
    late: 0,
    latency: new LatencyDistribution(),
    maxMs: 0,
    sumMs: 0,
    firstStart: Number.POSITIVE_INFINITY,
    lastEnd: 0,
  };

  constructor(readonly startAt: number) {}

  /** Seconds since the start that an interval belongs to (agents align on `startAt`). */
  secondOf(intervalStart: number): number {
    return Math.max(0, Math.round((intervalStart - this.startAt) / 1000));
  }

  /** Merges one agent's report; returns the second it went into. */
  addReport(nodeId: string, report: StressReport): number {
    const second = this.secondOf(report.intervalStart);
    const bucket = this.bucket(second, report.intervalStart, report.intervalEnd, report.phase);
    const agents = this.agentsBySecond.get(second) ?? new Set<string>();
    this.agentsBySecond.set(second, agents);
    if (!agents.has(nodeId)) {
      agents.add(nodeId);
      bucket.agents = agents.size;
      // One agent's target per second: a second report for the same second (the final,
      // short one) adds requests, not rate.
      bucket.targetRps += report.targetRps;
    }
    const latency = LatencyDistribution.fromWire(report.histogram);
    const extremes = {
      maxMs: report.histogram.count > 0 ? report.histogram.max : 0,
      sumMs: report.histogram.sum,
    };
    this.accumulate(bucket, report, latency, extremes, report.intervalStart, report.intervalEnd);
    return second;
  }

  /** Adds a second read back from the database (already merged over agents). */
  addStored(row: StoredSecond): void {
    const start = row.intervalStart.getTime();
    const end = row.intervalEnd.getTime();
    const bucket = this.bucket(row.second, start, end, row.phase);
    bucket.agents = row.agents;
    bucket.targetRps += row.targetRps;
    const extremes = { maxMs: row.latencyMaxMs, sumMs: row.latencySumMs };
    this.accumulate(bucket, row, LatencyDistribution.fromBytes(row.latencySketch), extremes, start, end);
  }

  private bucket(second: number, start: number, end: number, phase: Phase): SecondBucket {
    let bucket = this.buckets.get(second);
    if (!bucket) {
      bucket = {
        second,
        start,
        end,
        phase,
        agents: 0,
        targetRps: 0,
        sent: 0,
        completed: 0,
        errors: 0,
        late: 0,
        maxMs: 0,
        sumMs: 0,
        latency: new LatencyDistribution(),
      };
      this.buckets.set(second, bucket);
    }
    return bucket;
  }

  private accumulate(
    bucket: SecondBucket,
    counts: Counts,
    latency: LatencyDistribution,
    extremes: Extremes,
    start: number,
    end: number,
  ) {
    bucket.start = Math.min(bucket.start, start);
    bucket.end = Math.max(bucket.end, end);
    bucket.sent += counts.sent;
    bucket.completed += counts.completed;
    bucket.errors += counts.errors;
    bucket.late += counts.late;
    bucket.latency.merge(latency);
    bucket.maxMs = Math.max(bucket.maxMs, extremes.maxMs);
    bucket.sumMs += extremes.sumMs;
    this.changed.add(bucket.second);
    if (bucket.phase !== 'measure') return;
    const m = this.measured;
    m.sent += counts.sent;
    m.completed += counts.completed;
    m.errors += counts.errors;
    m.late += counts.late;
    m.latency.merge(latency);
    m.maxMs = Math.max(m.maxMs, extremes.maxMs);
    m.sumMs += extremes.sumMs;
    m.firstStart = Math.min(m.firstStart, start);
    m.lastEnd = Math.max(m.lastEnd, end);
  }

  phaseOf(second: number): Phase | null {
    return this.buckets.get(second)?.phase ?? null;
  }

  get secondsCount(): number {
    return this.buckets.size;
  }

  /** The seconds changed since the last call. */
  takeChanged(): number[] {
    const seconds = [...this.changed].sort((a, b) => a - b);
    this.changed.clear();
    return seconds;
  }

  storedSecond(second: number): StoredSecond | null {
    const b = this.buckets.get(second);
    if (!b) return null;
    return {
      second,
      intervalStart: new Date(b.start),
      intervalEnd: new Date(b.end),
      phase: b.phase,
      agents: b.agents,
      targetRps: b.targetRps,
      sent: b.sent,
      completed: b.completed,
      errors: b.errors,
      late: b.late,
      latencySketch: b.latency.toBytes(),
      latencyMaxMs: b.maxMs,
      latencySumMs: b.sumMs,
    };
  }

  point(second: number): StressSeriesPoint | null {
    const b = this.buckets.get(second);
    return b ? pointOf([b]) : null;
  }

  /**
   * The run's seconds in order; a long run is cut into groups of whole seconds, merged
   * (counts per second averaged, histograms merged) so at most `maxPoints` come back.
   */
  points(maxPoints = Number.POSITIVE_INFINITY): StressSeriesPoint[] {
    const ordered = [...this.buckets.values()].sort((a, b) => a.second - b.second);
    const size = Math.max(1, Math.ceil(ordered.length / maxPoints));
    const points: StressSeriesPoint[] = [];
    for (let i = 0; i < ordered.length; i += size) points.push(pointOf(ordered.slice(i, i + size)));
    return points;
  }

  /** The figures thresholds and results read: every measured request so far. */
  figures(): RunFigures {
    const m = this.measured;
    const latency: Record<string, number | null> = {};
    for (const metric of LATENCY_METRICS) {
      latency[metric] =
        metric === 'max'
          ? m.latency.count > 0
            ? m.maxMs
            : null
          : m.latency.quantile(METRIC_QUANTILE[metric]);
    }
    const spanS = m.lastEnd > m.firstStart ? (m.lastEnd - m.firstStart) / 1000 : 0;
    // The rate asked for, over the seconds that asked for one; the rate sent, over the
    // seconds that sent (not the agents' last moments of waiting for answers).
    let targetSum = 0;
    let targetSeconds = 0;
    let lastSendEnd = 0;
    for (const b of this.buckets.values()) {
      if (b.phase !== 'measure') continue;
      if (b.targetRps > 0) {
        targetSum += b.targetRps;
        targetSeconds += 1;
      }
      if (b.sent > 0) lastSendEnd = Math.max(lastSendEnd, b.end);
    }
    const sendSpanS = lastSendEnd > m.firstStart ? (lastSendEnd - m.firstStart) / 1000 : 0;
    const answered = Math.max(m.completed, m.errors);
    return {
      ...(latency as Record<(typeof LATENCY_METRICS)[number], number | null>),
      errorsPct: answered > 0 ? (100 * m.errors) / answered : null,
      latePct: m.sent > 0 ? (100 * m.late) / m.sent : null,
      requests: m.completed,
      sent: m.sent,
      errors: m.errors,
      late: m.late,
      mean: m.latency.count > 0 ? m.sumMs / m.latency.count : null,
      throughputRps: spanS > 0 ? m.completed / spanS : null,
      achievedRps: sendSpanS > 0 ? m.sent / sendSpanS : null,
      targetRps: targetSeconds > 0 ? targetSum / targetSeconds : null,
      measuredS: spanS,
    };
  }

  /** p95 of the first and the second half of the measured seconds (a step's stability). */
  halvesP95(): { first: number | null; second: number | null } {
    const measured = [...this.buckets.values()]
      .filter((b) => b.phase === 'measure')
      .sort((a, b) => a.second - b.second);
    const half = Math.floor(measured.length / 2);
    const merged = (list: SecondBucket[]) => {
      const d = new LatencyDistribution();
      for (const b of list) d.merge(b.latency);
      return d.quantile(0.95);
    };
    return { first: merged(measured.slice(0, half)), second: merged(measured.slice(half)) };
  }
}

function pointOf(group: readonly SecondBucket[]): StressSeriesPoint {
  const first = group[0]!;
  const latency = new LatencyDistribution();
  let sent = 0;
  let completed = 0;
  let errors = 0;
  let late = 0;
  let targetRps = 0;
  let agents = 0;
  for (const b of group) {
    latency.merge(b.latency);
    sent += b.sent;
    completed += b.completed;
    errors += b.errors;
    late += b.late;
    targetRps += b.targetRps;
    agents = Math.max(agents, b.agents);
  }
  const n = group.length;
  return {
    second: first.second,
    at: first.start,
    phase: group.some((b) => b.phase === 'measure') ? 'measure' : 'warmup',
    agents,
    targetRps: targetRps / n,
    achievedRps: sent / n,
    throughputRps: completed / n,
    p50: latency.quantile(0.5),
    p95: latency.quantile(0.95),
    p99: latency.quantile(0.99),
    errors,
    late,
  };
}
