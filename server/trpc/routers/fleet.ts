import { z } from 'zod';
import { setGpuCordon, setNodeCordon } from '../../services/fleet/cordon';
import {
  getDeployment,
  getGpu,
  getNode,
  gpuHistory,
  HISTORY_WINDOWS,
  idleAllocatedGpus,
  latencyHistory,
  listDeployments,
  listGpus,
  listNodes,
} from '../../services/fleet/queries';
import { operatorProcedure, router, viewerProcedure } from '../init';

const ZId = z.string().min(1).max(64);
const ZWindow = z.enum(HISTORY_WINDOWS).default('15m');
const ZCordonInput = z.object({
  cordoned: z.boolean(),
  reason: z.string().trim().min(1, 'Say why').max(500),
});

export const fleetRouter = router({
  /** Headline figures and every deployment's current latency, as the live view shows them. */
  overview: viewerProcedure.query(({ ctx }) => {
    const { telemetry } = ctx.runtime;
    const latency = telemetry.latencyPoints();
    return { summary: telemetry.summary(latency), latency };
  }),

  gpus: viewerProcedure.query(({ ctx }) => {
    const { db, catalog, telemetry } = ctx.runtime;
    return listGpus(db, catalog, telemetry);
  }),

  gpu: viewerProcedure.input(z.object({ id: ZId })).query(({ ctx, input }) => {
    const { db, catalog, telemetry } = ctx.runtime;
    return getGpu(db, catalog, telemetry, input.id);
  }),

  gpuHistory: viewerProcedure
    .input(z.object({ gpuId: ZId, window: ZWindow }))
    .query(({ ctx, input }) => gpuHistory(ctx.runtime.db, input.gpuId, input.window)),

  nodes: viewerProcedure.query(({ ctx }) => {
    const { db, catalog, telemetry } = ctx.runtime;
    return listNodes(db, catalog, telemetry);
  }),

  node: viewerProcedure.input(z.object({ id: ZId })).query(({ ctx, input }) => {
    const { db, catalog, telemetry } = ctx.runtime;
    return getNode(db, catalog, telemetry, input.id);
  }),

  deployments: viewerProcedure.query(({ ctx }) => {
    const { db, catalog, telemetry } = ctx.runtime;
    return listDeployments(db, catalog, telemetry);
  }),

  deployment: viewerProcedure.input(z.object({ id: ZId })).query(({ ctx, input }) => {
    const { db, catalog, telemetry } = ctx.runtime;
    return getDeployment(db, catalog, telemetry, input.id);
  }),

  latencyHistory: viewerProcedure
    .input(z.object({ deploymentId: ZId, window: ZWindow }))
    .query(({ ctx, input }) => latencyHistory(ctx.runtime.db, input.deploymentId, input.window)),

  idleGpus: viewerProcedure.query(({ ctx }) => {
    const { db, catalog, telemetry } = ctx.runtime;
    return idleAllocatedGpus(db, catalog, telemetry);
  }),

  cordonGpu: operatorProcedure
    .meta({ scope: 'allocate' })
    .input(ZCordonInput.extend({ gpuId: ZId }))
    .mutation(({ ctx, input }) =>
      setGpuCordon(ctx.runtime.db, ctx.runtime.catalog, { ...input, actor: ctx.principal }),
    ),

  cordonNode: operatorProcedure
    .meta({ scope: 'allocate' })
    .input(ZCordonInput.extend({ nodeId: ZId }))
    .mutation(({ ctx, input }) =>
      setNodeCordon(ctx.runtime.db, ctx.runtime.catalog, { ...input, actor: ctx.principal }),
    ),
});
