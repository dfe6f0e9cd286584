import type { RunDefinition } from '../../../lib/stress/run-definition';
import { parsedThresholds } from '../../../lib/stress/run-definition';
import { judgeThreshold } from '../../../lib/stress/thresholds';
import type { Db } from '../../db/client';
import { logger } from '../../log';
import { recordAudit } from '../audit/audit-log';
import { RunAggregator } from './run-aggregator';
import { finishRun, starterOf, storedSeconds } from './run-store';
import type { StressResults } from './views';

const log = logger('stress');

/**
 * Runs a previous process left in progress cannot be finished: their agents reported to
 * it. They end as `partial` (what was stored is kept, and judged) or `error` (nothing was).
 */
export async function recoverInterruptedRuns(db: Db): Promise<number> {
  const stale = await db.stressRun.findMany({
    where: { state: { in: ['starting', 'running'] } },
    orderBy: { createdAt: 'asc' },
  });
  const reason = 'the server restarted while the run was in progress';
  for (const row of stale) {
    if (row.kind === 'capacity') {
      const points = (row.results as { points?: unknown[] } | null)?.points?.length ?? 0;
      await db.stressRun.update({
        where: { id: row.id },
        data: {
          state: points > 0 ? 'partial' : 'error',
          reason,
          finishedAt: new Date(),
          results: row.results
            ? { ...(row.results as object), currentRps: null, currentStepId: null }
            : undefined,
        },
      });
      await recordAudit(db, {
        actor: starterOf(row),
        action: 'stress.finish',
        targetType: 'deployment',
        targetId: row.deploymentId,
        outcome: points > 0 ? 'partial' : 'error',
        reason,
        details: { runId: row.id, kind: row.kind },
      });
      continue;
    }
    const aggregator = new RunAggregator(row.startAt.getTime());
    for (const second of await storedSeconds(db, row.id)) aggregator.addStored(second);
    const figures = aggregator.figures();
    const definition = row.definition as RunDefinition;
    const thresholds = parsedThresholds(definition.thresholds ?? []).map((t) => ({
      ...judgeThreshold(t, figures),
      breachedSecond: null,
    }));
    const participants = await db.stressParticipant.findMany({ where: { runId: row.id } });
    const state = aggregator.secondsCount > 0 ? 'partial' : 'error';
    await finishRun(db, {
      runId: row.id,
      state,
      reason,
      results: { figures, thresholds } satisfies StressResults,
      participants: participants.map((p) => ({
        nodeId: p.nodeId,
        state: p.state === 'assigned' || p.state === 'running' ? 'lost' : p.state,
        reason: p.state === 'assigned' || p.state === 'running' ? reason : p.reason,
        reports: p.reports,
        lastSeq: p.lastSeq,
        lastReportAt: p.lastReportAt,
        sent: Number(p.sent),
        completed: Number(p.completed),
        errors: Number(p.errors),
        late: Number(p.late),
        latencySketch: p.latencySketch,
      })),
      audit:
        row.kind === 'load'
          ? { actor: starterOf(row), deploymentId: row.deploymentId, kind: row.kind }
          : null,
    });
  }
  if (stale.length > 0) log.warn(`marked ${stale.length} stress runs interrupted by a restart`);
  return stale.length;
}
