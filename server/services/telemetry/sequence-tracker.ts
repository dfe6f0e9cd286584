import type pg from 'pg';

/**
 * Telemetry sequence numbers per node. `accepted` runs ahead while a frame waits for its
 * journal commit; `committed` is what is durable. A frame at or below `accepted` is a
 * replay of one already taken and is acknowledged without being applied again.
 */
export class SequenceTracker {
  private accepted = new Map<string, number>();
  private committed = new Map<string, number>();

  /** Durable sequences: what the nodes' rollups include plus what the journal holds. */
  async load(pool: pg.Pool): Promise<void> {
    const { rows } = await pool.query<{ id: string; seq: string }>(`
      SELECT n.id, GREATEST(n."lastSeq", COALESCE(j.seq, 0))::text AS seq
      FROM "Node" n LEFT JOIN (SELECT "nodeId", max(seq) AS seq FROM "TelemetryJournal" GROUP BY "nodeId") j
        ON j."nodeId" = n.id`);
    for (const row of rows) this.commit(row.id, Number(row.seq));
  }

  /** The highest sequence stored durably for the node (what an agent may forget). */
  lastCommitted(nodeId: string): number {
    return this.committed.get(nodeId) ?? 0;
  }

  /** True when `seq` is new for the node; it then counts as taken until rolled back. */
  accept(nodeId: string, seq: number): boolean {
    if (seq <= (this.accepted.get(nodeId) ?? 0)) return false;
    this.accepted.set(nodeId, seq);
    return true;
  }

  commit(nodeId: string, seq: number): void {
    if (seq > (this.committed.get(nodeId) ?? 0)) this.committed.set(nodeId, seq);
    if (seq > (this.accepted.get(nodeId) ?? 0)) this.accepted.set(nodeId, seq);
  }

  /** Forgets accepted-but-uncommitted sequences, so their frames are taken when resent. */
  rollback(nodeId: string): void {
    this.accepted.set(nodeId, this.committed.get(nodeId) ?? 0);
  }
}
