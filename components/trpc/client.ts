import type { inferRouterOutputs } from '@trpc/server';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import type { AppRouter } from '@/server/trpc/root';

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type GpuView = RouterOutputs['fleet']['gpus'][number];
export type NodeView = RouterOutputs['fleet']['nodes'][number];
export type NodeDetail = RouterOutputs['fleet']['node'];
export type DeploymentView = RouterOutputs['fleet']['deployments'][number];
export type LatencyHistory = RouterOutputs['fleet']['latencyHistory'];
export type DeploymentDetail = RouterOutputs['fleet']['deployment'];
export type IdleGpus = RouterOutputs['fleet']['idleGpus'];
