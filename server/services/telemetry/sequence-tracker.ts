import type { Db } from '../../db/client';

/**
 * The highest telemetry sequence number accepted per node. A frame at or below it is a
 * replay of one already taken and is acknowledged without being applied again.
 */
export class SequenceTracker {
  private last = new Map<string, number>();
  private dirty = new Set<string>();

  async load(db: Db): Promise<void> {
    const nodes = await db.node.findMany({ select: { id: true, lastSeq: true } });
    for (const n of nodes) this.last.set(n.id, Math.max(this.last.get(n.id) ?? 0, Number(n.lastSeq)));
  }

  lastSeq(nodeId: string): number {
    return this.last.get(nodeId) ?? 0;
  }

  /** True when `seq` is new for the node (and records it). */
  accept(nodeId: string, seq: number): boolean {
    if (seq <= (this.last.get(nodeId) ?? 0)) return false;
    this.last.set(nodeId, seq);
    this.dirty.add(nodeId);
    return true;
  }

  markDirty(nodeIds: Iterable<string>): void {
    for (const id of nodeIds) this.dirty.add(id);
  }

  /** Sequences changed since the last call, for persisting. */
  takeDirty(): Map<string, number> {
    const changed = new Map<string, number>();
    for (const id of this.dirty) changed.set(id, this.last.get(id) ?? 0);
    this.dirty.clear();
    return changed;
  }
}
