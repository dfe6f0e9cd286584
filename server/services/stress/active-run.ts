import { LatencyDistribution } from '../../../lib/latency-histogram';
import type { ProtocolError } from '../../../lib/protocol/agent';
import type { StressThresholdStatus } from '../../../lib/protocol/live';
import type { StressReport } from '../../../lib/protocol/stress';
import type { RunDefinition, StressRunState } from '../../../lib/stress/run-definition';
import type { Threshold } from '../../../lib/stress/thresholds';
import type { Principal } from '../../auth/principal';
import type { StressRunKind } from '../../generated/prisma/client';
import { logger } from '../../log';
import type { RunAggregator, RunFigures } from './run-aggregator';
import type { ParticipantTotals } from './run-store';

/**
 * A run in progress as the server holds it: its agents' parts, the merged seconds, and
 * the bookkeeping of their reports; and how a run's end is decided.
 */

const log = logger('stress');

/** A final report this much before the planned end (without a stop) means a share was cut short. */
const EARLY_END_TOLERANCE_MS = 1_500;

export type ActiveParticipant = ParticipantTotals & {
  hostname: string;
  share: number;
  seqs: Set<number>;
  /** Measured-phase latency of this agent alone. */
  latency: LatencyDistribution;
};

export type StopRequest = { reason: string; outcome: 'aborted' | 'failed' | 'error'; at: number };

export type RunOutcome = {
  runId: string;
  state: StressRunState;
  reason: string | null;
  figures: RunFigures;
  halvesP95: { first: number | null; second: number | null };
};

export type ActiveRun = {
  id: string;
  kind: Exclude<StressRunKind, 'capacity'>;
  parentId: string | null;
  deployment: { id: string; name: string };
  definition: RunDefinition;
  thresholds: Threshold[];
  startAt: number;
  durationS: number;
  actor: Principal;
  state: 'starting' | 'running';
  participants: Map<string, ActiveParticipant>;
  aggregator: RunAggregator;
  breaches: Map<number, number>;
  stop: StopRequest | null;
  /** Writes of reports, one after another (each rewrites its merged second whole). */
  writes: Promise<void>;
  finishing: Promise<RunOutcome> | null;
  finished: Promise<RunOutcome>;
  resolveFinished: (outcome: RunOutcome) => void;
};

export function newParticipant(host: { nodeId: string; hostname: string; share: number }): ActiveParticipant {
  return {
    nodeId: host.nodeId,
    hostname: host.hostname,
    share: host.share,
    state: 'assigned',
    reason: null,
    reports: 0,
    lastSeq: 0,
    lastReportAt: null,
    sent: 0,
    completed: 0,
    errors: 0,
    late: 0,
    latencySketch: null,
    seqs: new Set<number>(),
    latency: new LatencyDistribution(),
  };
}

/** Takes a new (validated, not repeated) report into the run; returns the second it went into. */
export function recordReport(run: ActiveRun, p: ActiveParticipant, report: StressReport): number {
  p.seqs.add(report.seq);
  p.reports += 1;
  p.lastSeq = Math.max(p.lastSeq, report.seq);
  p.lastReportAt = new Date();
  if (p.state === 'assigned') p.state = 'running';
  if (report.done && p.state === 'running') {
    // Done long before the planned end, unasked: its share of the load is missing.
    const plannedEnd = run.startAt + run.durationS * 1000;
    if (!run.stop && report.intervalEnd < plannedEnd - EARLY_END_TOLERANCE_MS) {
      p.state = 'lost';
      p.reason = `the agent on ${p.hostname} ended its share ${Math.round((plannedEnd - report.intervalEnd) / 1000)} s early`;
      log.warn(`stress run ${run.id}: ${p.reason}`);
    } else {
      p.state = 'done';
    }
  }
  const second = run.aggregator.addReport(p.nodeId, report);
  if (run.aggregator.phaseOf(second) === 'measure') {
    p.sent += report.sent;
    p.completed += report.completed;
    p.errors += report.errors;
    p.late += report.late;
    p.latency.addWire(report.histogram);
  }
  return second;
}

/** How a run ended, from what it measured, its thresholds and what stopped it. */
export function decideEnd(
  run: ActiveRun,
  figures: RunFigures,
  thresholds: readonly StressThresholdStatus[],
  interruption?: string,
): { state: StressRunState; reason: string | null } {
  const lost = [...run.participants.values()].filter((p) => p.state === 'lost');
  const hasData = run.aggregator.secondsCount > 0;
  const failed = thresholds.filter((t) => t.pass === false);

  let state: StressRunState;
  let reason: string | null = null;
  if (interruption) {
    state = hasData ? 'partial' : 'error';
    reason = interruption;
  } else if (run.stop) {
    state = run.stop.outcome;
    reason = run.stop.reason;
  } else if (lost.length > 0) {
    state = 'partial';
    reason = lost.map((p) => p.reason).join('; ');
  } else if (figures.sent === 0) {
    state = 'error';
    reason = 'the agents reported no measured requests';
  } else if (failed.length > 0) {
    state = 'failed';
    reason = failed.map((t) => `threshold ${failedText(t)}`).join('; ');
  } else {
    state = 'passed';
  }
  return { state, reason };
}

export function refuse(error: ProtocolError): { ok: false; error: ProtocolError } {
  return { ok: false, error };
}

export function failedText(status: StressThresholdStatus): string {
  const measured =
    status.measured === null
      ? 'nothing measured'
      : `${+status.measured.toFixed(status.unit === '%' ? 2 : 1)} ${status.unit}`;
  return `"${status.text}" failed: measured ${measured}`;
}

export function totalsOf(p: ActiveParticipant): ParticipantTotals {
  return {
    nodeId: p.nodeId,
    state: p.state,
    reason: p.reason,
    reports: p.reports,
    lastSeq: p.lastSeq,
    lastReportAt: p.lastReportAt,
    sent: p.sent,
    completed: p.completed,
    errors: p.errors,
    late: p.late,
    latencySketch: p.latency.count > 0 ? p.latency.toBytes() : null,
  };
}

/** A report that cannot belong to the run: its interval is reversed or outside the run. */
export function implausible(run: ActiveRun, report: StressReport): ProtocolError | null {
  if (report.intervalEnd < report.intervalStart) {
    return { code: 'BAD_FRAME', field: 'intervalEnd', message: 'intervalEnd: before intervalStart' };
  }
  const earliest = run.startAt - 5_000;
  const latest = run.startAt + (run.durationS + 60) * 1000;
  if (report.intervalStart < earliest || report.intervalStart > latest) {
    return { code: 'BAD_FRAME', field: 'intervalStart', message: 'intervalStart: outside the run' };
  }
  const binned = report.histogram.bins.reduce((sum, [, count]) => sum + count, report.histogram.zeroCount);
  if (binned !== report.histogram.count) {
    return {
      code: 'BAD_FRAME',
      field: 'histogram.count',
      message: 'histogram.count: does not match its bins',
    };
  }
  return null;
}
