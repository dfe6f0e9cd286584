import type { Server as SocketServer } from 'socket.io';
import type { Db } from './db/client';
import type { Env } from './env';
import type { FleetCatalog } from './services/fleet/catalog';
import type { LiveTelemetry } from './services/telemetry/live-telemetry';
import type { NodeHealthMonitor } from './services/telemetry/node-health';
import type { RollupWriter } from './services/telemetry/rollup-writer';
import type { SequenceTracker } from './services/telemetry/sequence-tracker';

/** The process-wide parts every request handler and socket handler works with. */
export type Runtime = {
  env: Env;
  databaseUrl: string;
  db: Db;
  catalog: FleetCatalog;
  telemetry: LiveTelemetry;
  rollups: RollupWriter;
  sequences: SequenceTracker;
  health: NodeHealthMonitor;
  io: SocketServer;
  startedAt: Date;
};
