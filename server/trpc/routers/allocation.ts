import { z } from 'zod';
import { planAllocations } from '../../../lib/allocation/planner';
import { CHANGE_STATES, ZChangeInput } from '../../../lib/allocation/types';
import type { AutoPlannerStatus } from '../../services/allocation/auto-planner';
import { allocationBoard } from '../../services/allocation/board';
import { getChange, listChanges } from '../../services/allocation/changes';
import { buildPlannerInput } from '../../services/allocation/planner-input';
import { operatorProcedure, router, viewerProcedure } from '../init';
import {
  ZAllocationBoard,
  ZAllocationChange,
  ZAutoStatus,
  ZChangePage,
  ZPlan,
  ZSubmitResult,
} from '../schemas/allocation';

const ZId = z.string().min(1).max(64);

/** The automatic planner's switch, guardrails and last round, flat for the UI and scripts. */
function autoView(status: AutoPlannerStatus) {
  const { settings } = status;
  return {
    enabled: status.enabled,
    maxMovesPerInterval: settings.maxMovesPerInterval,
    intervalS: settings.intervalS,
    cooldownS: settings.cooldownS,
    lastRunAt: status.lastRunAt?.toISOString() ?? null,
    lastResult: status.lastResult,
  };
}

export const allocationRouter = router({
  /** Deployments, jobs and GPUs with their owners and versions, and the recent changes. */
  board: viewerProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/allocation/board',
        tags: ['allocation'],
        summary: 'Deployments, jobs and GPUs with their owners and versions',
      },
    })
    .output(ZAllocationBoard)
    .query(({ ctx }) => {
      const { db, catalog, telemetry } = ctx.runtime;
      return allocationBoard(db, catalog, telemetry);
    }),

  /**
   * Moves, assigns or releases GPUs in one change. Answers at once with the change
   * `applying` (or, with `dryRun`, what would change and its predicted effect); follow it
   * with `change` or the live room `allocations`.
   */
  submit: operatorProcedure
    .meta({
      scope: 'allocate',
      openapi: {
        method: 'POST',
        path: '/allocation/changes',
        tags: ['allocation'],
        summary: 'Move, assign or release GPUs in one change',
        description:
          'Answers at once with the change `applying` (or, with `dryRun`, the predicted effect); follow it with ' +
          'GET /allocation/changes/{id}. Stale `baseVersions` answer 409 with the current versions in ' +
          '`data.details.current`.',
        errorResponses: {
          400: 'Invalid input',
          401: 'Not signed in',
          403: 'Missing role or scope',
          404: 'Unknown GPU, deployment or job',
          409: 'Stale versions: data.details.current has the current ones',
        },
      },
    })
    .input(ZChangeInput)
    .output(ZSubmitResult)
    .mutation(({ ctx, input }) => {
      const { principal } = ctx;
      return ctx.runtime.allocation.submit(
        { kind: principal.kind, id: principal.id, name: principal.name },
        input,
      );
    }),

  change: viewerProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/allocation/changes/{id}',
        tags: ['allocation'],
        summary: 'One change',
      },
    })
    .input(z.object({ id: ZId }))
    .output(ZAllocationChange)
    .query(({ ctx, input }) => getChange(ctx.runtime.db, ctx.runtime.catalog, input.id)),

  changes: viewerProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/allocation/changes',
        tags: ['allocation'],
        summary: 'Changes, newest first',
      },
    })
    .input(
      z.object({
        limit: z.number().int().min(1).max(200).default(50),
        /** ISO time: changes created before it (the previous page's `nextBefore`). */
        before: z.iso.datetime().optional(),
        state: z.enum(CHANGE_STATES).optional(),
      }),
    )
    .output(ZChangePage)
    .query(({ ctx, input }) => listChanges(ctx.runtime.db, ctx.runtime.catalog, input)),

  /**
   * The planner's proposal from live telemetry: steps (whole replicas) with their reasons,
   * the versions they are based on, and the predicted effect. Nothing changes until the
   * chosen steps' moves are submitted (source `plan`) with the plan's `baseVersions`.
   */
  plan: viewerProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/allocation/plan',
        tags: ['allocation'],
        summary: 'The rebalancing plan proposed now, step by step',
        description:
          "Apply chosen steps by submitting their moves with the plan's baseVersions and source `plan`.",
      },
    })
    .output(ZPlan)
    .query(async ({ ctx }) => planAllocations(await buildPlannerInput(ctx.runtime))),

  autoStatus: viewerProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/allocation/auto',
        tags: ['allocation'],
        summary: 'Automatic rebalancing: status',
      },
    })
    .output(ZAutoStatus)
    .query(({ ctx }) => autoView(ctx.runtime.autoPlanner.status())),

  /** Switches the automatic planner on or off (at once) and sets its guardrails. */
  setAuto: operatorProcedure
    .meta({
      scope: 'allocate',
      openapi: {
        method: 'PUT',
        path: '/allocation/auto',
        tags: ['allocation'],
        summary: 'Switch automatic rebalancing on or off, and set its guardrails',
      },
    })
    .input(
      z.object({
        enabled: z.boolean().optional(),
        maxMovesPerInterval: z.number().int().min(1).max(1024).optional(),
        intervalS: z.number().int().min(5).max(86_400).optional(),
        cooldownS: z.number().int().min(0).max(604_800).optional(),
      }),
    )
    .output(ZAutoStatus)
    .mutation(async ({ ctx, input }) => {
      const { principal } = ctx;
      const status = await ctx.runtime.autoPlanner.updateSettings(input, {
        kind: principal.kind,
        id: principal.id,
        name: principal.name,
      });
      return autoView(status);
    }),
});
