import type { NodeStatusChange } from '../../../lib/protocol/live';
import type { Db } from '../../db/client';
import type { NodeStatus } from '../../generated/prisma/client';
import { logger } from '../../log';
import type { FleetCatalog } from '../fleet/catalog';

const log = logger('node-health');

/** Silence after which a node is degraded, then offline. */
export const DEGRADED_AFTER_MS = 5_000;
export const OFFLINE_AFTER_MS = 30_000;
/** A node back from silence is online again only after this long of steady heartbeats. */
export const RECOVER_AFTER_MS = 3_000;
/** Heartbeats further apart than this do not count as steady. */
const STEADY_GAP_MS = 2_500;

/**
 * Node liveness from heartbeats (any accepted message), with hysteresis: silence makes a
 * node degraded, then offline; it returns to online only after steady heartbeats, so a
 * single late frame does not flip it back and forth. Status and last heartbeat are written
 * to Postgres in one batch per sweep.
 */
export class NodeHealthMonitor {
  private lastSeen = new Map<string, number>();
  private recoveringSince = new Map<string, number>();
  private pendingStatus = new Map<string, NodeStatus>();

  constructor(
    private readonly db: Db,
    private readonly catalog: FleetCatalog,
    private readonly onChange: (change: NodeStatusChange) => void,
  ) {}

  markSeen(nodeId: string, at = Date.now()): void {
    const previous = this.lastSeen.get(nodeId);
    this.lastSeen.set(nodeId, at);
    if (this.catalog.nodes.get(nodeId)?.status === 'online') return;
    if (previous === undefined || at - previous > STEADY_GAP_MS || !this.recoveringSince.has(nodeId)) {
      this.recoveringSince.set(nodeId, at);
    }
  }

  /** Called every second. */
  async sweep(now = Date.now()): Promise<void> {
    for (const node of this.catalog.nodes.values()) {
      const next = this.nextStatus(node.id, node.status, now);
      if (next !== node.status) this.setStatus(node.id, next, now);
    }
    await this.persist();
  }

  private nextStatus(nodeId: string, current: NodeStatus, now: number): NodeStatus {
    const seen = this.lastSeen.get(nodeId);
    if (seen === undefined) return current; // not heard from since this process started
    const silentFor = now - seen;
    if (current === 'online') return silentFor >= DEGRADED_AFTER_MS ? 'degraded' : 'online';
    const since = this.recoveringSince.get(nodeId);
    if (since !== undefined && silentFor < STEADY_GAP_MS && seen - since >= RECOVER_AFTER_MS) return 'online';
    if (silentFor >= OFFLINE_AFTER_MS) return 'offline';
    return current === 'offline' ? 'offline' : 'degraded';
  }

  private setStatus(nodeId: string, status: NodeStatus, at: number): void {
    const node = this.catalog.nodes.get(nodeId);
    if (!node) return;
    log.info(`${node.hostname}: ${node.status} → ${status}`);
    node.status = status;
    if (status === 'online') this.recoveringSince.delete(nodeId);
    this.pendingStatus.set(nodeId, status);
    this.onChange({ nodeId, status, at });
  }

  private heartbeatsWrittenAt = 0;

  /** Writes status changes at once and last-heartbeat times every 10 s (or when `all`). */
  async persist(all = false): Promise<void> {
    const now = Date.now();
    const withHeartbeats = all || now - this.heartbeatsWrittenAt >= 10_000;
    const statuses = this.pendingStatus;
    this.pendingStatus = new Map();
    const ids = withHeartbeats ? [...this.lastSeen.keys()] : [...statuses.keys()];
    if (ids.length === 0) return;
    if (withHeartbeats) this.heartbeatsWrittenAt = now;
    try {
      // Rows are locked in id order, as the rollup writer does, so the two never deadlock; NO KEY
      // UPDATE leaves the journal inserts' foreign-key checks (KEY SHARE) unblocked.
      await this.db.$executeRawUnsafe(
        `WITH locked AS (SELECT id FROM "Node" WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE)
         UPDATE "Node" AS n SET
           "status" = COALESCE(u.status::"NodeStatus", n."status"),
           "lastHeartbeatAt" = COALESCE(GREATEST(n."lastHeartbeatAt", u.seen), n."lastHeartbeatAt"),
           "updatedAt" = now()
         FROM unnest($1::text[], $2::text[], $3::timestamp(3)[]) AS u(id, status, seen), locked
         WHERE n.id = u.id AND locked.id = u.id`,
        ids,
        ids.map((id) => statuses.get(id) ?? null),
        ids.map((id) => {
          const seen = this.lastSeen.get(id);
          return seen === undefined ? null : new Date(seen);
        }),
      );
    } catch (error) {
      log.error('persisting node heartbeats failed; will retry', error);
      for (const [id, status] of statuses)
        if (!this.pendingStatus.has(id)) this.pendingStatus.set(id, status);
    }
  }
}
