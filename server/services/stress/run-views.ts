import { LatencyDistribution } from '../../../lib/latency-histogram';
import type { StressThresholdStatus } from '../../../lib/protocol/live';
import {
  type CapacitySearchDefinition,
  describeLoad,
  type RunDefinition,
  type StressRunState,
} from '../../../lib/stress/run-definition';
import type { Db } from '../../db/client';
import { AppError } from '../../errors';
import type { Prisma } from '../../generated/prisma/client';
import { RunAggregator, type RunFigures } from './run-aggregator';
import { storedSeconds } from './run-store';
import { seriesCsv } from './series-csv';
import type { CapacityResults, StressResults, StressRunListItem, StressRunView } from './views';

/** Point count above which `get` merges seconds into groups (the export never does). */
export const MAX_SERIES_POINTS = 1_800;

/** What the process running a run holds beyond the database. */
export type LiveRunState = {
  state: 'starting' | 'running';
  stopping: boolean;
  reason: string | null;
  figures: RunFigures;
  thresholds: StressThresholdStatus[];
  aggregator: RunAggregator;
};
export type LiveStateOf = (id: string) => LiveRunState | null;

const runInclude = {
  deployment: { select: { id: true, name: true, sloP95Ms: true, priority: true } },
} satisfies Prisma.StressRunInclude;
type RunRow = Prisma.StressRunGetPayload<{ include: typeof runInclude }>;

function loadLabel(row: RunRow): string {
  if (row.kind === 'capacity') {
    const d = row.definition as CapacitySearchDefinition;
    return `capacity search, ${d.startRps}–${d.maxRps} req/s, open loop (${d.arrival})`;
  }
  return `${describeLoad((row.definition as RunDefinition).load)}, ${row.durationS} s`;
}

function listItem(row: RunRow, live: LiveRunState | null): StressRunListItem {
  const stored = row.kind === 'capacity' ? null : (row.results as StressResults | null);
  const capacity = row.kind === 'capacity' ? (row.results as CapacityResults | null) : null;
  const figures = live?.figures ?? stored?.figures ?? null;
  const thresholds = live?.thresholds ?? stored?.thresholds ?? [];
  return {
    id: row.id,
    kind: row.kind,
    deployment: row.deployment,
    state: live?.state ?? row.state,
    reason: live?.reason ?? row.reason,
    loadLabel: loadLabel(row),
    startAt: row.startAt.toISOString(),
    durationS: row.durationS,
    createdAt: row.createdAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
    createdByName: row.createdByName,
    p95: figures?.p95 ?? null,
    p99: figures?.p99 ?? null,
    throughputRps: figures?.throughputRps ?? null,
    errorsPct: figures?.errorsPct ?? null,
    thresholdsPassed: thresholds.filter((t) => t.pass === true).length,
    thresholdsFailed: thresholds.filter((t) => t.pass === false).length,
    bestRps: capacity?.bestRps ?? null,
  };
}

export async function listRuns(
  db: Db,
  filter: { deploymentId?: string; limit: number },
  liveStateOf: LiveStateOf,
): Promise<StressRunListItem[]> {
  const rows = await db.stressRun.findMany({
    // A search's steps are shown within the search.
    where: { parentId: null, ...(filter.deploymentId ? { deploymentId: filter.deploymentId } : {}) },
    orderBy: { createdAt: 'desc' },
    take: filter.limit,
    include: runInclude,
  });
  return rows.map((row) => listItem(row, liveStateOf(row.id)));
}

async function loadRun(db: Db, id: string): Promise<RunRow> {
  const row = await db.stressRun.findUnique({ where: { id }, include: runInclude });
  if (!row) throw new AppError('NOT_FOUND', `id: no stress run ${id}`, { field: 'id' });
  return row;
}

export async function getRunView(
  db: Db,
  id: string,
  liveStateOf: LiveStateOf,
  maxPoints = MAX_SERIES_POINTS,
): Promise<StressRunView> {
  const row = await loadRun(db, id);
  const live = liveStateOf(id);
  const base = listItem(row, live);
  const participants = await db.stressParticipant.findMany({
    where: { runId: id },
    orderBy: { hostname: 'asc' },
  });
  const elapsedS = Math.max(0, Math.min(row.durationS, (Date.now() - row.startAt.getTime()) / 1000));

  if (row.kind === 'capacity') {
    const steps = await db.stressRun.findMany({
      where: { parentId: id },
      orderBy: { createdAt: 'asc' },
      select: { id: true, state: true, createdAt: true, definition: true },
    });
    const definition = row.definition as CapacitySearchDefinition;
    return {
      ...base,
      parentId: null,
      stopping: false,
      elapsedS: ((row.finishedAt ?? new Date()).getTime() - row.startAt.getTime()) / 1000,
      warmupS: definition.warmupS,
      definition: null,
      participants: [],
      series: [],
      resolutionS: 1,
      thresholds: [],
      results: null,
      capacity: {
        definition,
        results: row.results as CapacityResults | null,
        steps: steps.map((s) => {
          const stages = (s.definition as RunDefinition).load;
          return {
            id: s.id,
            state: s.state,
            targetRps: stages.kind === 'open' ? (stages.stages[0]?.toRps ?? null) : null,
            createdAt: s.createdAt.toISOString(),
          };
        }),
      },
    };
  }

  let aggregator = live?.aggregator;
  if (!aggregator) {
    aggregator = new RunAggregator(row.startAt.getTime());
    for (const second of await storedSeconds(db, id)) aggregator.addStored(second);
  }
  const series = aggregator.points(maxPoints);
  const stored = row.results as StressResults | null;
  const figures =
    live?.figures ?? stored?.figures ?? (aggregator.secondsCount > 0 ? aggregator.figures() : null);
  const definition = row.definition as RunDefinition;
  return {
    ...base,
    parentId: row.parentId,
    stopping: live?.stopping ?? false,
    elapsedS,
    warmupS: definition.warmupS,
    definition,
    participants: participants.map((p) => ({
      nodeId: p.nodeId,
      hostname: p.hostname,
      endpointUrl: p.endpointUrl,
      replicas: p.replicas,
      share: p.share,
      state: p.state,
      reason: p.reason,
      reports: p.reports,
      lastReportAt: p.lastReportAt?.toISOString() ?? null,
      sent: Number(p.sent),
      completed: Number(p.completed),
      errors: Number(p.errors),
      late: Number(p.late),
      p95: p.latencySketch ? LatencyDistribution.fromBytes(p.latencySketch).quantile(0.95) : null,
    })),
    series,
    resolutionS: Math.max(1, Math.ceil(aggregator.secondsCount / maxPoints)),
    thresholds: live?.thresholds ?? stored?.thresholds ?? [],
    results: figures ? { ...figures, final: isFinal(row.state) && !live } : null,
    capacity: null,
  };
}

function isFinal(state: StressRunState): boolean {
  return state !== 'starting' && state !== 'running';
}

export type StressExport = { filename: string; contentType: string; body: string };

/** The run with every second (never grouped), as JSON or as CSV with a summary. */
export async function exportRun(
  db: Db,
  id: string,
  format: 'json' | 'csv',
  liveStateOf: LiveStateOf,
): Promise<StressExport> {
  const view = await getRunView(db, id, liveStateOf, Number.POSITIVE_INFINITY);
  const base = `stress-${view.deployment.name.replace(/[^\w.-]/g, '_')}-${view.id.slice(0, 8)}`;
  if (format === 'json') {
    return {
      filename: `${base}.json`,
      contentType: 'application/json',
      body: `${JSON.stringify(view, null, 2)}\n`,
    };
  }
  return { filename: `${base}.csv`, contentType: 'text/csv; charset=utf-8', body: seriesCsv(view) };
}
