import { predictDeploymentP95 } from '../../../lib/allocation/latency-model';
import type { AllocationChangeView, ChangeInput, DryRunResult } from '../../../lib/allocation/types';
import type { Db } from '../../db/client';
import { logger } from '../../log';
import type { FleetCatalog } from '../fleet/catalog';
import type { LiveTelemetry } from '../telemetry/live-telemetry';
import { type Actor, commitChange } from './changes';
import { type AgentCommandChannel, AllocationDispatcher } from './dispatcher';
import { predictEffects } from './effects';
import { buildPlannerInput } from './planner-input';

const log = logger('allocation');

type Deps = {
  db: Db;
  catalog: FleetCatalog;
  agents: AgentCommandChannel;
  publish: (change: AllocationChangeView) => void;
  ackTimeoutMs: number;
  /** Live load, for the predicted effect of a dry run. */
  telemetry: LiveTelemetry;
};

/**
 * The one way GPU owners change: validate and commit (changes.ts), then carry the change
 * out on the machines (dispatcher.ts). People, API clients and the automatic planner all
 * come through `submit`.
 */
export class AllocationService {
  readonly dispatcher: AllocationDispatcher;

  constructor(private readonly deps: Deps) {
    this.dispatcher = new AllocationDispatcher(deps);
  }

  async submit(actor: Actor, input: ChangeInput): Promise<AllocationChangeView | DryRunResult> {
    const { db, catalog } = this.deps;
    const result = await commitChange(db, catalog, actor, input);
    if ('dryRun' in result) {
      const { counts, ...rest } = result;
      // Predicted from the same live load the planner plans from.
      const { deployments } = await buildPlannerInput(this.deps);
      const byId = new Map(deployments.map((d) => [d.id, d]));
      return { ...rest, effects: predictEffects(counts, byId, predictDeploymentP95) };
    }
    if (result.replayed) return result.view;
    try {
      await catalog.refresh();
      this.dispatcher.announce(result.view);
      return await this.dispatcher.dispatch(result.view.id);
    } catch (error) {
      // Committed but never sent: undo it now rather than hold its GPUs until a restart.
      log.error(`change ${result.view.id} could not be sent to the nodes`, error);
      return this.dispatcher.abandon(result.view.id, 'it could not be sent to the nodes');
    }
  }

  /** When a deployment's GPUs last changed through a change that stuck (for cooldowns). */
  async lastChangedAt(deploymentId: string): Promise<Date | null> {
    const move = await this.deps.db.allocationMove.findFirst({
      where: {
        OR: [{ fromDeploymentId: deploymentId }, { toDeploymentId: deploymentId }],
        change: { state: { in: ['pending', 'applying', 'applied'] } },
      },
      orderBy: { change: { createdAt: 'desc' } },
      select: { change: { select: { createdAt: true } } },
    });
    return move?.change.createdAt ?? null;
  }
}
