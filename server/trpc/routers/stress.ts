import { z } from 'zod';
import { ZCapacitySearchDefinition, ZRunDefinition } from '../../../lib/stress/run-definition';
import { ZAbortOutput, ZStartOutput, ZStressRunListItem, ZStressRunView } from '../../services/stress/views';
import { operatorProcedure, router, viewerProcedure } from '../init';

const ZId = z.string().min(1).max(64);

export const ZStressAbortInput = z.object({
  id: ZId,
  reason: z.string().trim().max(500).optional(),
});
export const ZStressListInput = z.object({
  deploymentId: ZId.optional(),
  limit: z.number().int().min(1).max(200).default(50),
});
export const ZStressExportInput = z.object({ id: ZId, format: z.enum(['json', 'csv']).default('json') });
export const ZStressExportOutput = z.object({
  filename: z.string(),
  contentType: z.string(),
  body: z.string(),
});

/** Starting and stopping need an operator (API tokens: the `stress` scope); reading, a viewer. */
export const stressRouter = router({
  /** Starts a load run; resolves once every agent has acknowledged its share. */
  start: operatorProcedure
    .meta({
      scope: 'stress',
      openapi: {
        method: 'POST',
        path: '/stress/runs',
        tags: ['stress'],
        summary: 'Start a stress run',
        description:
          'Answers once every agent has acknowledged its share; follow it with GET /stress/runs/{id}.',
      },
    })
    .input(ZRunDefinition)
    .output(ZStartOutput)
    .mutation(({ ctx, input }) => ctx.runtime.stress.start(input, ctx.principal)),

  /** Starts a capacity search; it runs in the background, step by step. */
  startCapacitySearch: operatorProcedure
    .meta({
      scope: 'stress',
      openapi: {
        method: 'POST',
        path: '/stress/capacity-searches',
        tags: ['stress'],
        summary: 'Start a capacity search (runs in the background, step by step)',
      },
    })
    .input(ZCapacitySearchDefinition)
    .output(ZStartOutput)
    .mutation(({ ctx, input }) => ctx.runtime.stress.startCapacitySearch(input, ctx.principal)),

  /** Stops a run or a search in progress; resolves once it has ended. */
  abort: operatorProcedure
    .meta({
      scope: 'stress',
      openapi: {
        method: 'POST',
        path: '/stress/runs/{id}/abort',
        tags: ['stress'],
        summary: 'Stop a run now',
      },
    })
    .input(ZStressAbortInput)
    .output(ZAbortOutput)
    .mutation(({ ctx, input }) => ctx.runtime.stress.abort(input.id, ctx.principal, input.reason)),

  get: viewerProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/stress/runs/{id}',
        tags: ['stress'],
        summary: 'A run: state, figures, thresholds',
      },
    })
    .input(z.object({ id: ZId }))
    .output(ZStressRunView)
    .query(({ ctx, input }) => ctx.runtime.stress.get(input.id)),

  list: viewerProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/stress/runs',
        tags: ['stress'],
        summary: 'Recent runs, newest first',
      },
    })
    .input(ZStressListInput)
    .output(z.array(ZStressRunListItem))
    .query(({ ctx, input }) => ctx.runtime.stress.list(input)),

  /** Deployments that connected agents can load now (agents report their endpoints). */
  targets: viewerProcedure
    .output(
      z.array(z.object({ deploymentId: z.string(), agents: z.number().int(), replicas: z.number().int() })),
    )
    .query(({ ctx }) => ctx.runtime.stress.endpoints.targets()),

  /** The run with every second, as JSON or CSV (also at GET /api/stress/<id>/export). */
  export: viewerProcedure
    .input(ZStressExportInput)
    .output(ZStressExportOutput)
    .query(({ ctx, input }) => ctx.runtime.stress.export(input.id, input.format)),
});
