import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { planAllocations } from '../../../lib/allocation/planner';
import type { ChangeInput, Plan, PlannerInput, PlanStep } from '../../../lib/allocation/types';
import type { Db } from '../../db/client';
import { AppError } from '../../errors';
import { logger } from '../../log';
import { type AuditActor, recordAudit } from '../audit/audit-log';

const log = logger('auto-planner');

/** The single settings row. */
const SETTINGS_ID = 1;
/** ZChangeInput allows at most this many moves in one change. */
const MAX_MOVES_PER_CHANGE = 1024;
const MAX_REASON_CHARS = 500;

export const ZAutoPlannerSettingsPatch = z
  .object({
    enabled: z.boolean(),
    maxMovesPerInterval: z.number().int().min(1).max(MAX_MOVES_PER_CHANGE),
    intervalS: z
      .number()
      .int()
      .min(5)
      .max(24 * 3600),
    cooldownS: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600),
  })
  .partial()
  .strict();
export type AutoPlannerSettingsPatch = z.infer<typeof ZAutoPlannerSettingsPatch>;

export type AutoPlannerSettings = Required<AutoPlannerSettingsPatch> & {
  updatedAt: Date | null;
  updatedBy: string | null;
};

export type AutoPlannerStatus = {
  enabled: boolean;
  settings: AutoPlannerSettings;
  lastRunAt: Date | null;
  /** What the last run did, in words. */
  lastResult: string;
};

/** Who the automatic planner's changes are recorded as. */
export const AUTO_PLANNER_ACTOR: AuditActor = { kind: 'system', id: null, name: 'auto-planner' };

/** Defaults of a fresh install (and of the database columns): off, a few moves a minute. */
export const DEFAULT_AUTO_PLANNER_SETTINGS: AutoPlannerSettings = {
  enabled: false,
  maxMovesPerInterval: 8,
  intervalS: 60,
  cooldownS: 300,
  updatedAt: null,
  updatedBy: null,
};

type Deps = {
  db: Db;
  /** A fresh planner input (server/services/allocation/planner-input.ts). */
  buildInput: () => Promise<PlannerInput>;
  /** Submits one change (AllocationService.submit, as the system). */
  submit: (input: ChangeInput) => Promise<unknown>;
  /** When a deployment's GPUs last changed, for the cooldown. */
  lastChangedAt: (deploymentId: string) => Promise<Date | null>;
  plan?: (input: PlannerInput) => Plan;
  now?: () => number;
};

/**
 * Runs the planner every `intervalS` while enabled and submits the first steps of its plan,
 * up to `maxMovesPerInterval` GPU moves, as one change (source `auto`). Deployments whose
 * GPUs changed within `cooldownS` are left alone, so a change can take effect and show in
 * telemetry before the next one. Turning it off takes effect at once: no new run starts,
 * and a run in progress does not submit.
 */
export class AutoPlanner {
  private settings: AutoPlannerSettings = { ...DEFAULT_AUTO_PLANNER_SETTINGS };
  private timer: NodeJS.Timeout | null = null;
  /** Bumped by every stop and settings change; a run submits only if it is unchanged. */
  private generation = 0;
  private running: Promise<void> | null = null;
  private started = false;
  private lastRunAt: Date | null = null;
  private lastResult = 'not run yet';

  constructor(private readonly deps: Deps) {}

  /** Loads the settings and, if enabled, schedules the first run one interval from now. */
  async start(): Promise<void> {
    this.settings = await this.loadSettings();
    this.started = true;
    this.schedule();
  }

  /** Stops scheduling; a run in progress finishes without submitting. */
  async stop(): Promise<void> {
    this.started = false;
    this.generation += 1;
    this.clearTimer();
    await this.running;
  }

  status(): AutoPlannerStatus {
    return {
      enabled: this.settings.enabled,
      settings: { ...this.settings },
      lastRunAt: this.lastRunAt,
      lastResult: this.lastResult,
    };
  }

  /** Validates and stores new settings (audited), and applies them at once. */
  async updateSettings(patch: unknown, actor: AuditActor | string): Promise<AutoPlannerStatus> {
    const parsed = ZAutoPlannerSettingsPatch.safeParse(patch);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.join('.') || 'settings';
      throw new AppError('BAD_REQUEST', `${field}: ${issue?.message ?? 'invalid'}`, { field });
    }
    const who: AuditActor = typeof actor === 'string' ? { kind: 'user', id: null, name: actor } : actor;
    const changes = parsed.data;
    const row = await this.deps.db.$transaction(async (tx) => {
      const saved = await tx.autoPlannerSettings.upsert({
        where: { id: SETTINGS_ID },
        create: {
          id: SETTINGS_ID,
          ...withoutMeta(DEFAULT_AUTO_PLANNER_SETTINGS),
          ...changes,
          updatedBy: who.name,
        },
        update: { ...changes, updatedBy: who.name },
      });
      await recordAudit(tx, {
        actor: who,
        action: 'autoplanner.settings',
        targetType: 'autoPlanner',
        details: changes,
      });
      return saved;
    });
    this.settings = fromRow(row);
    // Any run in progress was planned under the old settings: it must not submit.
    this.generation += 1;
    this.clearTimer();
    this.schedule();
    return this.status();
  }

  /**
   * One planning round: plan, pick steps, submit them as one change. Returns what it did
   * in words (also kept as `lastResult`). Exposed so a test or an operator can run it now.
   */
  runOnce(): Promise<string> {
    if (this.running) return this.running.then(() => this.lastResult);
    const generation = this.generation;
    const run = this.iterate(generation)
      .catch((error: unknown) => `failed: ${error instanceof Error ? error.message : String(error)}`)
      .then((result) => {
        this.lastRunAt = new Date(this.now());
        this.lastResult = result;
        if (result.startsWith('failed')) log.warn(`automatic planning ${result}`);
        else log.info(`automatic planning: ${result}`);
      });
    this.running = run.finally(() => {
      this.running = null;
    });
    return this.running.then(() => this.lastResult);
  }

  private async iterate(generation: number): Promise<string> {
    const stale = () => generation !== this.generation || !this.settings.enabled;
    if (stale()) return 'skipped: turned off';
    const input = await this.deps.buildInput();
    const plan = (this.deps.plan ?? planAllocations)(input);
    if (plan.steps.length === 0) return 'nothing to change';

    const { steps, coolingDown } = await this.pickSteps(plan);
    if (steps.length === 0) {
      return coolingDown > 0
        ? `${coolingDown} step(s) wait for deployments changed within the last ${this.settings.cooldownS} s`
        : `no step fits in ${this.settings.maxMovesPerInterval} moves`;
    }
    if (stale()) return 'skipped: turned off while planning';

    const moves = steps.flatMap((step) => step.moves.map(({ gpuId, to }) => ({ gpuId, to })));
    const change: ChangeInput = {
      moves,
      baseVersions: versionsOf(steps, plan),
      reason: reasonFor(steps, plan.steps.length),
      idempotencyKey: `auto-${randomUUID()}`,
      source: 'auto',
    };
    await this.deps.submit(change);
    return `submitted ${moves.length} move(s) in ${steps.length} of ${plan.steps.length} step(s)`;
  }

  /** Steps in plan order that fit the move budget and touch no deployment in its cooldown. */
  private async pickSteps(plan: Plan): Promise<{ steps: PlanStep[]; coolingDown: number }> {
    const { maxMovesPerInterval, cooldownS } = this.settings;
    const cooling = new Map<string, Promise<boolean>>();
    const inCooldown = (deploymentId: string) => {
      let answer = cooling.get(deploymentId);
      if (!answer) {
        answer = this.deps
          .lastChangedAt(deploymentId)
          .then((at) => at !== null && this.now() - at.getTime() < cooldownS * 1000);
        cooling.set(deploymentId, answer);
      }
      return answer;
    };
    const steps: PlanStep[] = [];
    let moves = 0;
    let coolingDown = 0;
    for (const step of plan.steps) {
      if (moves + step.moves.length > maxMovesPerInterval) continue;
      const touched = deploymentsOf(step);
      const waiting = cooldownS > 0 && (await Promise.all([...touched].map(inCooldown))).some(Boolean);
      if (waiting) {
        coolingDown += 1;
        continue;
      }
      steps.push(step);
      moves += step.moves.length;
    }
    return { steps, coolingDown };
  }

  private schedule(): void {
    if (!this.started || !this.settings.enabled || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runOnce().finally(() => this.schedule());
    }, this.settings.intervalS * 1000);
    this.timer.unref?.();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private async loadSettings(): Promise<AutoPlannerSettings> {
    const row = await this.deps.db.autoPlannerSettings.findUnique({ where: { id: SETTINGS_ID } });
    return row ? fromRow(row) : { ...DEFAULT_AUTO_PLANNER_SETTINGS };
  }
}

type SettingsRow = {
  enabled: boolean;
  maxMovesPerInterval: number;
  intervalS: number;
  cooldownS: number;
  updatedAt: Date;
  updatedBy: string | null;
};

function fromRow(row: SettingsRow): AutoPlannerSettings {
  return {
    enabled: row.enabled,
    maxMovesPerInterval: row.maxMovesPerInterval,
    intervalS: row.intervalS,
    cooldownS: row.cooldownS,
    updatedAt: row.updatedAt,
    updatedBy: row.updatedBy,
  };
}

function withoutMeta(settings: AutoPlannerSettings): Required<AutoPlannerSettingsPatch> {
  const { updatedAt: _at, updatedBy: _by, ...rest } = settings;
  return rest;
}

/** Deployments a step changes: the one it is for, and every owner its moves take from or give to. */
function deploymentsOf(step: PlanStep): Set<string> {
  const ids = new Set([step.deploymentId]);
  for (const move of step.moves) {
    for (const owner of [move.from, move.to])
      if (owner && 'deploymentId' in owner) ids.add(owner.deploymentId);
  }
  return ids;
}

/** The plan's versions of just the deployments and jobs these steps touch. */
function versionsOf(steps: PlanStep[], plan: Plan): Record<string, number> {
  const versions: Record<string, number> = {};
  for (const step of steps) {
    for (const id of deploymentsOf(step)) {
      const version = plan.baseVersions[id];
      if (version !== undefined) versions[id] = version;
    }
    for (const move of step.moves) {
      for (const owner of [move.from, move.to]) {
        if (owner && 'jobId' in owner && plan.baseVersions[owner.jobId] !== undefined) {
          versions[owner.jobId] = plan.baseVersions[owner.jobId]!;
        }
      }
    }
  }
  return versions;
}

/** "Automatic rebalance (2 of 5 steps): <first step's reason>; <second's>" within the length limit. */
function reasonFor(steps: PlanStep[], planned: number): string {
  const head = `Automatic rebalance (${steps.length} of ${planned} step${planned === 1 ? '' : 's'}): `;
  let reason = head;
  for (const [i, step] of steps.entries()) {
    const part = `${i === 0 ? '' : '; '}${step.reason}`;
    if (reason.length + part.length > MAX_REASON_CHARS) {
      const more = `; and ${steps.length - i} more`;
      return reason.length + more.length <= MAX_REASON_CHARS
        ? reason + more
        : `${reason.slice(0, MAX_REASON_CHARS - 1)}…`;
    }
    reason += part;
  }
  return reason;
}
