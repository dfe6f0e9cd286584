import type { NodeStatusChange } from '../../../lib/protocol/live';
import type { Db } from '../../db/client';
import type { NodeStatus } from '../../generated/prisma/client';
import { logger } from '../../log';
import type { FleetCatalog } from '../fleet/catalog';
import type { SequenceTracker } from './sequence-tracker';

const log = logger('node-health');

/** Silence after which a node is degraded, then offline. */
export const DEGRADED_AFTER_MS = 5_000;
export const OFFLINE_AFTER_MS = 30_000;

/**
 * Derives node liveness from heartbeats (any accepted message) and writes status,
 * last heartbeat and last sequence back to Postgres in one batch per sweep.
 */
export class NodeHealthMonitor {
  private lastSeen = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly catalog: FleetCatalog,
    private readonly sequences: SequenceTracker,
    private readonly onChange: (change: NodeStatusChange) => void,
  ) {}

  markSeen(nodeId: string, at = Date.now()): void {
    this.lastSeen.set(nodeId, at);
    const node = this.catalog.nodes.get(nodeId);
    if (node && node.status !== 'online') this.setStatus(nodeId, 'online', at);
  }

  /** Called every couple of seconds. */
  async sweep(now = Date.now()): Promise<void> {
    for (const node of this.catalog.nodes.values()) {
      const seen = this.lastSeen.get(node.id);
      const silentFor = seen === undefined ? Number.POSITIVE_INFINITY : now - seen;
      const status: NodeStatus =
        silentFor >= OFFLINE_AFTER_MS ? 'offline' : silentFor >= DEGRADED_AFTER_MS ? 'degraded' : 'online';
      if (status !== node.status && !(seen === undefined && node.status === 'offline')) {
        this.setStatus(node.id, status, now);
      }
    }
    await this.persist();
  }

  private pendingStatus = new Map<string, NodeStatus>();

  private setStatus(nodeId: string, status: NodeStatus, at: number): void {
    const node = this.catalog.nodes.get(nodeId);
    if (!node) return;
    if (node.status !== status) log.info(`${node.hostname}: ${node.status} → ${status}`);
    node.status = status;
    this.pendingStatus.set(nodeId, status);
    this.onChange({ nodeId, status, at });
  }

  async persist(): Promise<void> {
    const sequences = this.sequences.takeDirty();
    const statuses = this.pendingStatus;
    this.pendingStatus = new Map();
    const ids = new Set([...sequences.keys(), ...statuses.keys()]);
    if (ids.size === 0) return;
    const rows = [...ids].map((id) => ({
      id,
      seq: sequences.get(id) ?? this.sequences.lastSeq(id),
      status: statuses.get(id) ?? this.catalog.nodes.get(id)?.status ?? 'offline',
      seen: this.lastSeen.get(id) ?? null,
    }));
    try {
      await this.db.$executeRawUnsafe(
        `UPDATE "Node" AS n SET
           "lastSeq" = GREATEST(n."lastSeq", u.seq),
           "status" = u.status::"NodeStatus",
           "lastHeartbeatAt" = COALESCE(u.seen, n."lastHeartbeatAt"),
           "updatedAt" = now()
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamp(3)[]) AS u(id, seq, status, seen)
         WHERE n.id = u.id`,
        rows.map((r) => r.id),
        rows.map((r) => r.seq),
        rows.map((r) => r.status),
        rows.map((r) => (r.seen === null ? null : new Date(r.seen))),
      );
    } catch (error) {
      log.error('persisting node heartbeats failed; will retry', error);
      for (const r of rows) if (statuses.has(r.id)) this.pendingStatus.set(r.id, r.status);
      this.sequences.markDirty(sequences.keys());
    }
  }
}
