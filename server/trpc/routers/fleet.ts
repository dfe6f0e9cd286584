import { z } from 'zod';
import { getNode, latencyHistory, listDeployments, listGpus, listNodes } from '../../services/fleet/queries';
import { router, viewerProcedure } from '../init';

const WINDOWS_MS = {
  '15m': 15 * 60_000,
  '1h': 3600_000,
  '24h': 24 * 3600_000,
  '7d': 7 * 24 * 3600_000,
} as const;

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

  nodes: viewerProcedure.query(({ ctx }) => {
    const { db, catalog, telemetry } = ctx.runtime;
    return listNodes(db, catalog, telemetry);
  }),

  node: viewerProcedure.input(z.object({ id: z.string().min(1).max(64) })).query(({ ctx, input }) => {
    const { db, catalog, telemetry } = ctx.runtime;
    return getNode(db, catalog, telemetry, input.id);
  }),

  deployments: viewerProcedure.query(({ ctx }) => {
    const { db, catalog, telemetry } = ctx.runtime;
    return listDeployments(db, catalog, telemetry);
  }),

  latencyHistory: viewerProcedure
    .input(
      z.object({
        deploymentId: z.string().min(1).max(64),
        window: z.enum(['15m', '1h', '24h', '7d']).default('15m'),
      }),
    )
    .query(({ ctx, input }) => latencyHistory(ctx.runtime.db, input.deploymentId, WINDOWS_MS[input.window])),
});
