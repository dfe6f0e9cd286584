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
import {
  ZCordonResult,
  ZDeployment,
  ZDeploymentDetail,
  ZGpu,
  ZGpuHistory,
  ZIdleGpus,
  ZLatencyHistory,
  ZNode,
  ZOverview,
} from '../schemas/fleet';

const ZId = z.string().min(1).max(64);
const ZWindow = z.enum(HISTORY_WINDOWS).default('15m');
const ZCordonInput = z.object({
  cordoned: z.boolean(),
  reason: z.string().trim().min(1, 'Say why').max(500),
});

export const fleetRouter = router({
  /** Headline figures and every deployment's current latency, as the live view shows them. */
  overview: viewerProcedure
    .meta({
      openapi: { method: 'GET', path: '/overview', tags: ['fleet'], summary: 'Fleet headline figures' },
    })
    .output(ZOverview)
    .query(({ ctx }) => {
      const { telemetry } = ctx.runtime;
      const latency = telemetry.latencyPoints();
      return { summary: telemetry.summary(latency), latency };
    }),

  gpus: viewerProcedure
    .meta({ openapi: { method: 'GET', path: '/gpus', tags: ['fleet'], summary: 'List every GPU' } })
    .output(z.array(ZGpu))
    .query(({ ctx }) => {
      const { db, catalog, telemetry } = ctx.runtime;
      return listGpus(db, catalog, telemetry);
    }),

  gpu: viewerProcedure
    .meta({ openapi: { method: 'GET', path: '/gpus/{id}', tags: ['fleet'], summary: 'One GPU' } })
    .input(z.object({ id: ZId }))
    .output(ZGpu)
    .query(({ ctx, input }) => {
      const { db, catalog, telemetry } = ctx.runtime;
      return getGpu(db, catalog, telemetry, input.id);
    }),

  gpuHistory: viewerProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/gpus/{gpuId}/history',
        tags: ['fleet'],
        summary: "A GPU's metrics over a window",
      },
    })
    .input(z.object({ gpuId: ZId, window: ZWindow }))
    .output(ZGpuHistory)
    .query(({ ctx, input }) => gpuHistory(ctx.runtime.db, input.gpuId, input.window)),

  nodes: viewerProcedure
    .meta({
      openapi: { method: 'GET', path: '/nodes', tags: ['fleet'], summary: 'List nodes with their GPUs' },
    })
    .output(z.array(ZNode))
    .query(({ ctx }) => {
      const { db, catalog, telemetry } = ctx.runtime;
      return listNodes(db, catalog, telemetry);
    }),

  node: viewerProcedure
    .meta({ openapi: { method: 'GET', path: '/nodes/{id}', tags: ['fleet'], summary: 'One node' } })
    .input(z.object({ id: ZId }))
    .output(ZNode)
    .query(({ ctx, input }) => {
      const { db, catalog, telemetry } = ctx.runtime;
      return getNode(db, catalog, telemetry, input.id);
    }),

  deployments: viewerProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/deployments',
        tags: ['fleet'],
        summary: 'List deployments with live latency',
      },
    })
    .output(z.array(ZDeployment))
    .query(({ ctx }) => {
      const { db, catalog, telemetry } = ctx.runtime;
      return listDeployments(db, catalog, telemetry);
    }),

  deployment: viewerProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/deployments/{id}',
        tags: ['fleet'],
        summary: 'One deployment and its GPUs',
      },
    })
    .input(z.object({ id: ZId }))
    .output(ZDeploymentDetail)
    .query(({ ctx, input }) => {
      const { db, catalog, telemetry } = ctx.runtime;
      return getDeployment(db, catalog, telemetry, input.id);
    }),

  latencyHistory: viewerProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/deployments/{deploymentId}/latency',
        tags: ['fleet'],
        summary: "A deployment's latency over a window, from merged histograms",
      },
    })
    .input(z.object({ deploymentId: ZId, window: ZWindow }))
    .output(ZLatencyHistory)
    .query(({ ctx, input }) => latencyHistory(ctx.runtime.db, input.deploymentId, input.window)),

  idleGpus: viewerProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/idle-gpus',
        tags: ['fleet'],
        summary: 'Allocated GPUs idle for 5 minutes or more',
      },
    })
    .output(ZIdleGpus)
    .query(({ ctx }) => {
      const { db, catalog, telemetry } = ctx.runtime;
      return idleAllocatedGpus(db, catalog, telemetry);
    }),

  cordonGpu: operatorProcedure
    .meta({
      scope: 'allocate',
      openapi: {
        method: 'POST',
        path: '/gpus/{gpuId}/cordon',
        tags: ['fleet'],
        summary: 'Cordon or uncordon a GPU',
        description: 'A cordoned GPU keeps what it runs but receives no new owner. Audited with the reason.',
      },
    })
    .input(ZCordonInput.extend({ gpuId: ZId }))
    .output(ZCordonResult)
    .mutation(({ ctx, input }) =>
      setGpuCordon(ctx.runtime.db, ctx.runtime.catalog, { ...input, actor: ctx.principal }),
    ),

  cordonNode: operatorProcedure
    .meta({
      scope: 'allocate',
      openapi: {
        method: 'POST',
        path: '/nodes/{nodeId}/cordon',
        tags: ['fleet'],
        summary: 'Cordon or uncordon every GPU of a node',
      },
    })
    .input(ZCordonInput.extend({ nodeId: ZId }))
    .output(ZCordonResult)
    .mutation(({ ctx, input }) =>
      setNodeCordon(ctx.runtime.db, ctx.runtime.catalog, { ...input, actor: ctx.principal }),
    ),
});
