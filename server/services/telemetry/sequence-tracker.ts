import type pg from 'pg';
import { MAX_SEQ } from '../../../lib/protocol/agent';

/**
 * How far a node's sequence may run ahead of its last accepted frame: one frame per 100 ms
 * (the shortest interval) since that frame, plus this slack for agent restarts, so a seq
 * near the top of the range cannot lock the node out of every later number.
 */
export const SEQ_SLACK = 100_000;
const MIN_INTERVAL_MS = 100;
/** Gaps remembered per node; past this the oldest gaps count as seen (the old behaviour). */
const MAX_RANGES = 32;

/** What a frame's sequence number means for its node. */
export type SeqVerdict =
  | { kind: 'new' }
  | { kind: 'duplicate' }
  /** Below the node's newest frame, in a gap the agent skipped: it can never be placed. */
  | { kind: 'gap'; newest: number }
  /** Further ahead of the newest frame than time allows. */
  | { kind: 'too-far'; limit: number };

type NodeSeqs = {
  /** Accepted sequence numbers as sorted, disjoint [from, to] ranges (pending ones included). */
  ranges: [number, number][];
  /** Highest seq durably stored. Frames commit in seq order per node, so all above it are pending. */
  committed: number;
  /** When the newest frame was accepted (server clock), for the jump bound. */
  acceptedAt: number;
};

/**
 * Telemetry sequence numbers per node. A frame is new, a duplicate (its seq was accepted
 * before), a gap (below the newest accepted seq but never seen: the agent skipped it, so
 * taking it as a duplicate would drop it unseen) or too far ahead. `committed` is what is
 * durable; accepted-but-uncommitted sequences are forgotten when their commit fails.
 */
export class SequenceTracker {
  private nodes = new Map<string, NodeSeqs>();

  /**
   * Durable sequences: what the nodes' rollups include plus what the journal holds. Gaps
   * before a restart are not known, so everything up to the last stored seq counts as seen.
   */
  async load(pool: pg.Pool): Promise<void> {
    const { rows } = await pool.query<{ id: string; seq: string; at: Date | null }>(`
      SELECT n.id, GREATEST(n."lastSeq", COALESCE(j.seq, 0))::text AS seq, n."lastHeartbeatAt" AS at
      FROM "Node" n LEFT JOIN (SELECT "nodeId", max(seq) AS seq FROM "TelemetryJournal" GROUP BY "nodeId") j
        ON j."nodeId" = n.id`);
    for (const row of rows) {
      const seq = Number(row.seq);
      this.nodes.set(row.id, {
        ranges: seq > 0 ? [[1, seq]] : [],
        committed: seq,
        acceptedAt: row.at?.getTime() ?? Date.now(),
      });
    }
  }

  /** The highest sequence stored durably for the node (what an agent may forget). */
  lastCommitted(nodeId: string): number {
    return this.nodes.get(nodeId)?.committed ?? 0;
  }

  /** Judges `seq` for the node without taking it. */
  check(nodeId: string, seq: number, now = Date.now()): SeqVerdict {
    const state = this.nodes.get(nodeId);
    const newest = state?.ranges.at(-1)?.[1] ?? 0;
    if (seq > newest) {
      const since = state ? Math.max(0, now - state.acceptedAt) : 0;
      const limit = Math.min(MAX_SEQ, newest + SEQ_SLACK + Math.floor(since / MIN_INTERVAL_MS));
      return seq > limit ? { kind: 'too-far', limit } : { kind: 'new' };
    }
    for (let i = state!.ranges.length - 1; i >= 0; i--) {
      const [from, to] = state!.ranges[i]!;
      if (seq > to) break;
      if (seq >= from) return { kind: 'duplicate' };
    }
    return { kind: 'gap', newest };
  }

  /** Takes a seq that `check` called new; it counts as seen until committed or rolled back. */
  accept(nodeId: string, seq: number, now = Date.now()): void {
    let state = this.nodes.get(nodeId);
    if (!state) {
      state = { ranges: [], committed: 0, acceptedAt: now };
      this.nodes.set(nodeId, state);
    }
    const last = state.ranges.at(-1);
    if (last && last[1] === seq - 1) last[1] = seq;
    else {
      state.ranges.push([seq, seq]);
      if (state.ranges.length > MAX_RANGES) {
        // Forget the oldest gap: its sequences count as seen from now on.
        const [first, second] = state.ranges.splice(0, 2) as [[number, number], [number, number]];
        state.ranges.unshift([first[0], second[1]]);
      }
    }
    state.acceptedAt = now;
  }

  commit(nodeId: string, seq: number): void {
    const state = this.nodes.get(nodeId);
    if (state && seq > state.committed) state.committed = seq;
  }

  /** Forgets accepted-but-uncommitted sequences, so their frames are taken when resent. */
  rollback(nodeId: string): void {
    const state = this.nodes.get(nodeId);
    if (!state) return;
    const keep = state.committed;
    state.ranges = state.ranges
      .filter(([from]) => from <= keep)
      .map(([from, to]) => [from, Math.min(to, keep)]);
  }
}
