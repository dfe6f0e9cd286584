// Types of cluster.mjs, for the TypeScript tests that use it.
import type { ChildProcess } from 'node:child_process';
import type { Address, ClusterServer } from './haproxy.mjs';

export type ClusterOptions = {
  servers?: number;
  port?: number;
  statsPort?: number;
  host?: string;
  demo?: 'on' | 'off';
  redisUrl?: string;
  databaseUrl?: string;
  dataDir?: string;
  haproxy?: string;
  maxconn?: number;
  /** argv that starts one server (default: node --import tsx server/main.ts). */
  serverCommand?: string[];
  env?: Record<string, string | undefined>;
  startTimeoutMs?: number;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
};

export type ClusterPlan = {
  servers: ClusterServer[];
  bind: Address;
  stats: Address;
  simulatorHost: string;
  localUrl: string;
  statsUrl: string;
};

export type RunningClusterServer = ClusterServer & {
  url: string;
  child: ChildProcess;
  runsSimulator: boolean;
};

export const DEFAULTS: Required<
  Pick<
    ClusterOptions,
    'servers' | 'port' | 'statsPort' | 'host' | 'demo' | 'redisUrl' | 'databaseUrl' | 'dataDir' | 'haproxy'
  >
>;

export function planCluster(options: {
  servers: number;
  port: number;
  statsPort: number;
  host: string;
}): ClusterPlan;

export function serverEnvironment(options: {
  base: Record<string, string | undefined>;
  plan: ClusterPlan;
  server: ClusterServer;
  redisUrl: string;
  databaseUrl: string;
  dataDir: string;
  demo: 'on' | 'off';
}): Record<string, string | undefined>;

export class Cluster {
  constructor(options?: ClusterOptions);
  readonly plan: ClusterPlan;
  readonly configFile: string;
  readonly servers: Map<string, RunningClusterServer>;
  readonly haproxy: ChildProcess | null;
  /** Resolves with the exit code once the cluster has ended. */
  readonly exited: Promise<number>;
  start(): Promise<void>;
  stop(code?: number): Promise<void>;
  alive(): RunningClusterServer[];
  say(line: string): void;
  label(name: string): string;
}
