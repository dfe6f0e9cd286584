import {
  type CapacitySearchDefinition,
  type RunDefinition,
  ZRunDefinition,
} from '../../../lib/stress/run-definition';
import type { Principal } from '../../auth/principal';
import type { Db } from '../../db/client';
import type { StressRunState } from '../../generated/prisma/client';
import { logger } from '../../log';
import { recordAudit } from '../audit/audit-log';
import type { RunOutcome } from './active-run';
import type { CapacityResults, CurvePoint, StartOutput } from './views';

const log = logger('stress');

/** A search never runs more steps than this, whatever the tolerance. */
export const MAX_SEARCH_STEPS = 16;
/** A step counts only if the agents sent at least this share of the rate asked for. */
const MIN_ACHIEVED_SHARE = 0.9;

export type Probe = { rps: number; ok: boolean };

/**
 * The next rate to measure, or null when the search is over: double from `startRps` until
 * a step breaks the SLO (or `maxRps` held), then bisect between the highest rate that
 * held and the lowest that broke until they are within `tolerancePct` of each other.
 */
export function nextProbeRps(
  definition: Pick<CapacitySearchDefinition, 'startRps' | 'maxRps' | 'tolerancePct'>,
  probes: readonly Probe[],
): number | null {
  if (probes.length >= MAX_SEARCH_STEPS) return null;
  if (probes.length === 0) return definition.startRps;
  const { held, broke } = bracket(probes);
  if (broke === null) {
    if (held >= definition.maxRps) return null;
    return Math.min(held * 2, definition.maxRps);
  }
  if (broke - held <= (broke * definition.tolerancePct) / 100) return null;
  const next = Math.round(((held + broke) / 2) * 100) / 100;
  return probes.some((p) => p.rps === next) ? null : next;
}

/** The lowest rate that broke the SLO and the highest below it that held (0 if none did). */
export function bracket(probes: readonly Probe[]): { held: number; broke: number | null } {
  const failures = probes.filter((p) => !p.ok).map((p) => p.rps);
  const broke = failures.length > 0 ? Math.min(...failures) : null;
  const passes = probes.filter((p) => p.ok && (broke === null || p.rps < broke)).map((p) => p.rps);
  return { held: passes.length > 0 ? Math.max(...passes) : 0, broke };
}

type SearchOptions = {
  id: string;
  definition: CapacitySearchDefinition & { sloP95Ms: number };
  deployment: { id: string; name: string };
  actor: Principal;
  db: Db;
  runStep: (definition: RunDefinition) => Promise<{ output: StartOutput; finished: Promise<RunOutcome> }>;
  abortStep: (stepId: string, reason: string) => Promise<void>;
};

type Stop = { reason: string; outcome: 'aborted' | 'interrupted' };

/** Runs a capacity search step by step, storing the curve after every step. */
export class CapacitySearch {
  readonly deployment: { id: string; name: string };
  private readonly options: SearchOptions;
  private readonly results: CapacityResults;
  private stopped: Stop | null = null;
  private currentStepId: string | null = null;
  private done: Promise<void> = Promise.resolve();
  private readonly startedAt = Date.now();

  constructor(options: SearchOptions) {
    this.options = options;
    this.deployment = options.deployment;
    this.results = {
      sloP95Ms: options.definition.sloP95Ms,
      errorBudgetPct: options.definition.errorBudgetPct,
      points: [],
      bestRps: null,
      currentRps: null,
      currentStepId: null,
    };
  }

  run(): Promise<void> {
    this.done = this.search().catch((error) => log.error(`capacity search ${this.options.id} failed`, error));
    return this.done;
  }

  async abort(reason: string, outcome: Stop['outcome'] = 'aborted'): Promise<void> {
    this.stopped ??= { reason, outcome };
    if (this.currentStepId) await this.options.abortStep(this.currentStepId, reason);
    await this.done;
  }

  private async search(): Promise<void> {
    const { definition } = this.options;
    const probes: Probe[] = [];
    let ended: { state: StressRunState; reason: string | null } | null = null;
    try {
      for (;;) {
        if (this.stopped) break;
        const rps = nextProbeRps(definition, probes);
        if (rps === null) break;
        let outcome = await this.measure(rps, definition.stepDurationS);
        let extended = false;
        if (outcome && isMeasured(outcome) && !this.stopped && !stable(outcome, definition.stabilityPct)) {
          // Latency still moving: measure this rate once more, for twice as long.
          extended = true;
          outcome = await this.measure(rps, definition.stepDurationS * 2);
        }
        if (this.stopped) break;
        if (!outcome || !isMeasured(outcome)) {
          ended = {
            state: outcome?.state === 'partial' ? 'partial' : 'error',
            reason: `the step at ${rps} req/s ended ${outcome?.state ?? 'without starting'}${outcome?.reason ? `: ${outcome.reason}` : ''}`,
          };
          break;
        }
        const point = curvePoint(rps, outcome, extended, definition.stabilityPct);
        probes.push({ rps, ok: point.ok });
        this.results.points = [...this.results.points, point].sort((a, b) => a.targetRps - b.targetRps);
        const { held, broke } = bracket(probes);
        this.results.bestRps = held > 0 ? held : null;
        log.debug(
          `capacity search ${this.options.id}: ${rps} req/s ${point.ok ? 'held' : 'broke'} (bracket ${held}–${broke})`,
        );
        await this.save();
      }
    } catch (error) {
      ended = { state: 'error', reason: error instanceof Error ? error.message : String(error) };
    }
    this.results.currentRps = null;
    this.results.currentStepId = null;
    const hasPoints = this.results.points.length > 0;
    const final =
      ended ??
      (this.stopped
        ? this.stopped.outcome === 'aborted'
          ? { state: 'aborted' as const, reason: this.stopped.reason }
          : { state: hasPoints ? ('partial' as const) : ('error' as const), reason: this.stopped.reason }
        : this.results.bestRps !== null
          ? { state: 'passed' as const, reason: null }
          : {
              state: 'failed' as const,
              reason: `no rate from ${definition.startRps} req/s up kept p95 within ${definition.sloP95Ms} ms`,
            });
    await this.finish(final.state, final.reason);
  }

  private async measure(rps: number, measureS: number): Promise<RunOutcome | null> {
    const { definition, deployment } = this.options;
    const step = ZRunDefinition.parse({
      deploymentId: deployment.id,
      load: {
        kind: 'open',
        arrival: definition.arrival,
        stages: [{ durationS: definition.warmupS + measureS, fromRps: rps, toRps: rps }],
      },
      warmupS: definition.warmupS,
      request: definition.request,
      thresholds: [`p95 <= ${definition.sloP95Ms}ms`, `errors <= ${definition.errorBudgetPct}%`],
      // A step is judged whole: a bad first second must not end it early.
      abortOnFail: false,
      graceS: 0,
    });
    let started: Awaited<ReturnType<SearchOptions['runStep']>>;
    try {
      started = await this.options.runStep(step);
    } catch (error) {
      log.warn(`capacity search ${this.options.id}: step at ${rps} req/s could not start: ${String(error)}`);
      return null;
    }
    this.currentStepId = started.output.id;
    this.results.currentRps = rps;
    this.results.currentStepId = started.output.id;
    await this.save();
    if (this.stopped) await this.options.abortStep(started.output.id, this.stopped.reason);
    const outcome = await started.finished;
    this.currentStepId = null;
    return outcome;
  }

  private async save(): Promise<void> {
    await this.options.db.stressRun.update({
      where: { id: this.options.id },
      data: { results: this.results },
    });
  }

  private async finish(state: StressRunState, reason: string | null): Promise<void> {
    const { db, id, deployment, actor } = this.options;
    await db.$transaction(async (tx) => {
      await tx.stressRun.update({
        where: { id },
        data: {
          state,
          reason,
          results: this.results,
          finishedAt: new Date(),
          durationS: Math.round((Date.now() - this.startedAt) / 100) / 10,
        },
      });
      await recordAudit(tx, {
        actor,
        action: 'stress.finish',
        targetType: 'deployment',
        targetId: deployment.id,
        outcome: state,
        reason: reason ?? undefined,
        details: { runId: id, kind: 'capacity', bestRps: this.results.bestRps },
      });
    });
    log.info(
      `capacity search ${id} against ${deployment.name}: ${state}, best ${this.results.bestRps ?? 'none'} req/s`,
    );
  }
}

/** A step that ran to its end (its thresholds judged it), as opposed to one cut short. */
function isMeasured(outcome: RunOutcome): boolean {
  return outcome.state === 'passed' || outcome.state === 'failed';
}

function stable(outcome: RunOutcome, stabilityPct: number): boolean {
  const { first, second } = outcome.halvesP95;
  if (first === null || second === null || first === 0) return true;
  return (Math.abs(second - first) / first) * 100 <= stabilityPct;
}

function curvePoint(rps: number, outcome: RunOutcome, extended: boolean, stabilityPct: number): CurvePoint {
  const f = outcome.figures;
  const reached = f.achievedRps !== null && f.achievedRps >= rps * MIN_ACHIEVED_SHARE;
  const ok = outcome.state === 'passed' && reached;
  return {
    stepRunId: outcome.runId,
    targetRps: rps,
    achievedRps: f.achievedRps,
    throughputRps: f.throughputRps,
    p50: f.p50,
    p95: f.p95,
    p99: f.p99,
    errorsPct: f.errorsPct,
    ok,
    stable: stable(outcome, stabilityPct),
    extended,
    why:
      outcome.state !== 'passed'
        ? outcome.reason
        : reached
          ? null
          : `the agents sent ${f.achievedRps?.toFixed(1) ?? 'nothing'} of ${rps} req/s`,
  };
}
