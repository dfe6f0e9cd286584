import type pg from 'pg';
import type { Server as SocketServer } from 'socket.io';
import type { Db } from './db/client';
import type { Env } from './env';
import type { AllocationService } from './services/allocation/allocation-service';
import type { AutoPlanner } from './services/allocation/auto-planner';
import type { FleetCatalog } from './services/fleet/catalog';
import type { StressService } from './services/stress/stress-service';
import type { GpuHealthMonitor } from './services/telemetry/gpu-health';
import type { LiveTelemetry } from './services/telemetry/live-telemetry';
import type { MinuteRollups } from './services/telemetry/minute-rollups';
import type { NodeHealthMonitor } from './services/telemetry/node-health';
import type { RollupWriter } from './services/telemetry/rollup-writer';
import type { SequenceTracker } from './services/telemetry/sequence-tracker';
import type { TelemetryIngest } from './services/telemetry/telemetry-ingest';

/** The process-wide parts every request handler and socket handler works with. */
export type Runtime = {
  env: Env;
  databaseUrl: string;
  /** Prisma for the domain; the pool for the telemetry hot path's batched SQL. */
  db: Db;
  pool: pg.Pool;
  catalog: FleetCatalog;
  telemetry: LiveTelemetry;
  ingest: TelemetryIngest;
  rollups: RollupWriter;
  minuteRollups: MinuteRollups;
  sequences: SequenceTracker;
  health: NodeHealthMonitor;
  gpuHealth: GpuHealthMonitor;
  io: SocketServer;
  allocation: AllocationService;
  autoPlanner: AutoPlanner;
  stress: StressService;
  startedAt: Date;
};
