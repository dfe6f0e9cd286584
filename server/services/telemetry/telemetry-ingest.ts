import type pg from 'pg';
import type { TelemetryAck, TelemetryFrame } from '../../../lib/protocol/agent';
import { logger } from '../../log';
import type { LiveTelemetry } from './live-telemetry';
import { bucketStartOf, type RollupWriter } from './rollup-writer';
import type { SequenceTracker } from './sequence-tracker';

const log = logger('ingest');

/** Frames wait at most this long to be committed together (group commit). */
const COMMIT_INTERVAL_MS = 25;
/** A batch this large is committed at once. */
const MAX_BATCH = 4_000;
/**
 * Most frames one node may have waiting for their commit. A frame beyond it is refused as
 * RATE_LIMITED (the agent keeps it and resends), so one node's backlog cannot grow the
 * server's memory or the queue every other node waits in.
 */
export const MAX_PENDING_PER_NODE = 256;
/** Each node's share of one batch, taken in turn, so a busy node cannot crowd others out. */
const NODE_SHARE = 16;

type Pending = {
  nodeId: string;
  frame: TelemetryFrame;
  gpuIds: string[];
  resolve: (ack: TelemetryAck) => void;
};

/** One node's frames waiting for the journal, in seq order, and the promise of its newest. */
type NodeQueue = { frames: Pending[]; newest: Promise<TelemetryAck> };

/**
 * The durable path of telemetry: a frame is acknowledged only after it is committed to the
 * journal (TelemetryJournal), in batches so one commit serves thousands of frames. Live
 * views get the frame at once; rollups get it after the commit, so a frame whose commit
 * failed is never counted and can be resent.
 *
 * Frames wait in one queue per node, and a batch takes up to NODE_SHARE frames from each
 * node in turn: a node that sends a flood delays its own acknowledgements, not others'.
 */
export class TelemetryIngest {
  /** Nodes with frames waiting, in the order they are served (a Map keeps insertion order). */
  private queues = new Map<string, NodeQueue>();
  private waiting = 0;
  private timer: NodeJS.Timeout | null = null;
  /**
   * One batch is committed at a time, and the next is taken only after it: if a commit
   * fails, later frames of the same nodes are still waiting here and are refused with it,
   * never stored ahead of the frames their agents must resend.
   */
  private committing = false;
  /** Nodes whose frames are in the batch being committed, with that batch's last promise. */
  private inCommit = new Map<string, Promise<TelemetryAck>>();
  framesCommitted = 0;
  commitFailures = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly sequences: SequenceTracker,
    private readonly live: LiveTelemetry,
    private readonly rollups: RollupWriter,
    /** Called for nodes whose frames could not be stored: their agents must resend. */
    private readonly onNodesFailed: (nodeIds: string[]) => void,
  ) {}

  /** Frames waiting for their commit, over all nodes (for /metrics). */
  get backlog(): number {
    return this.waiting;
  }

  /**
   * Takes a validated frame of `nodeId`; resolves with the acknowledgement to send: stored,
   * a duplicate, or refused (a seq that can never be placed, or a node over its backlog).
   * What is decided at once is returned as is, so the caller sees a refusal before the
   * node's next frame is handled.
   */
  submit(nodeId: string, frame: TelemetryFrame, gpuIds: string[]): TelemetryAck | Promise<TelemetryAck> {
    const verdict = this.sequences.check(nodeId, frame.seq);
    if (verdict.kind === 'duplicate') return { ok: true, seq: frame.seq, duplicate: true };
    if (verdict.kind === 'gap') {
      return badSeq(
        `seq: ${frame.seq} is below this node's newest accepted seq ${verdict.newest} and was never received; sequence numbers must increase`,
      );
    }
    if (verdict.kind === 'too-far') {
      return badSeq(
        `seq: ${frame.seq} runs too far ahead of this node's last frame (at most ${verdict.limit} now)`,
      );
    }
    let queue = this.queues.get(nodeId);
    if (queue && queue.frames.length >= MAX_PENDING_PER_NODE) {
      return {
        ok: false,
        error: {
          code: 'RATE_LIMITED',
          message: `this node has ${MAX_PENDING_PER_NODE} frames waiting to be stored; resend later`,
          retryAfterMs: COMMIT_INTERVAL_MS * 4,
        },
      };
    }
    this.sequences.accept(nodeId, frame.seq);
    this.live.ingest(nodeId, frame, gpuIds);
    const acknowledged = new Promise<TelemetryAck>((resolve) => {
      const pending = { nodeId, frame, gpuIds, resolve };
      if (queue) queue.frames.push(pending);
      else {
        queue = { frames: [pending], newest: Promise.resolve({ ok: true, seq: 0, duplicate: true }) };
        this.queues.set(nodeId, queue);
      }
    });
    queue!.newest = acknowledged;
    this.waiting += 1;
    this.commitSoon(this.waiting >= MAX_BATCH ? 0 : COMMIT_INTERVAL_MS);
    return acknowledged;
  }

  /**
   * Resolves once every frame submitted so far (of `nodeId`, or of every node) has been
   * committed or refused; later ones are not waited for. Each node's frames commit in
   * order, so its newest frame settles last.
   */
  async settled(nodeId?: string): Promise<void> {
    const newest: Promise<TelemetryAck>[] = [];
    const ids = nodeId ? [nodeId] : [...new Set([...this.queues.keys(), ...this.inCommit.keys()])];
    for (const id of ids) {
      const waiting = this.queues.get(id)?.newest ?? this.inCommit.get(id);
      if (waiting) newest.push(waiting);
    }
    if (newest.length === 0) return;
    this.commitSoon(0);
    await Promise.all(newest);
  }

  /** Rebuilds the rollup buckets of frames journaled before a restart. */
  async recover(): Promise<number> {
    const { rows } = await this.pool.query<{
      id: string;
      nodeId: string;
      frame: TelemetryFrame & { gpuIds: string[] };
    }>('SELECT id::text, "nodeId", frame FROM "TelemetryJournal" ORDER BY id');
    for (const row of rows) {
      const { gpuIds, ...frame } = row.frame;
      this.rollups.add(row.nodeId, row.id, frame, gpuIds);
    }
    if (rows.length > 0) log.info(`recovered ${rows.length} journaled frames into rollups`);
    return rows.length;
  }

  private commitSoon(delayMs: number): void {
    if (this.committing) return; // the running commit takes the next batch when it ends
    if (delayMs === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      void this.commitNext();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.commitNext();
    }, delayMs);
  }

  private async commitNext(): Promise<void> {
    if (this.committing || this.waiting === 0) return;
    this.committing = true;
    const batch = this.takeBatch();
    try {
      await this.commit(batch);
    } finally {
      this.inCommit.clear();
      this.committing = false;
      if (this.waiting > 0) this.commitSoon(this.waiting >= MAX_BATCH ? 0 : COMMIT_INTERVAL_MS);
    }
  }

  /** Up to MAX_BATCH frames, NODE_SHARE per node per turn, each node's in seq order. */
  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    while (batch.length < MAX_BATCH && this.queues.size > 0) {
      for (const [nodeId, queue] of this.queues) {
        const taken = queue.frames.splice(0, Math.min(NODE_SHARE, MAX_BATCH - batch.length));
        for (const p of taken) batch.push(p);
        this.inCommit.set(nodeId, queue.newest);
        // A node served moves to the back of the line; an empty one leaves it.
        this.queues.delete(nodeId);
        if (queue.frames.length > 0) this.queues.set(nodeId, queue);
        if (batch.length >= MAX_BATCH) break;
      }
    }
    this.waiting -= batch.length;
    return batch;
  }

  private async commit(batch: Pending[]): Promise<void> {
    const idByFrame = new Map<string, string>();
    try {
      const result = await this.pool.query<{ id: string; nodeId: string; seq: string }>(
        `INSERT INTO "TelemetryJournal" ("nodeId", "seq", "bucketStart", "frame")
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamp(3)[], $4::jsonb[])
         RETURNING id::text, "nodeId", seq::text`,
        [
          batch.map((p) => p.nodeId),
          batch.map((p) => p.frame.seq),
          batch.map((p) => new Date(bucketStartOf(p.frame.sampledAt))),
          batch.map((p) => JSON.stringify({ ...p.frame, gpuIds: p.gpuIds })),
        ],
      );
      for (const row of result.rows) idByFrame.set(`${row.nodeId}|${row.seq}`, row.id);
    } catch (error) {
      this.commitFailures += 1;
      log.error(`committing ${batch.length} telemetry frames failed; their agents will resend`, error);
      const nodes = new Set(batch.map((p) => p.nodeId));
      // Later frames of those nodes must not be taken before the failed ones are resent.
      const later: Pending[] = [];
      for (const node of nodes) {
        const queue = this.queues.get(node);
        if (queue) {
          later.push(...queue.frames);
          this.waiting -= queue.frames.length;
          this.queues.delete(node);
        }
        this.sequences.rollback(node);
      }
      for (const p of [...batch, ...later]) {
        p.resolve({
          ok: false,
          error: { code: 'INTERNAL', message: 'telemetry could not be stored; resend it' },
        });
      }
      this.onNodesFailed([...nodes]);
      return;
    }
    for (const p of batch) {
      this.sequences.commit(p.nodeId, p.frame.seq);
      this.rollups.add(p.nodeId, idByFrame.get(`${p.nodeId}|${p.frame.seq}`)!, p.frame, p.gpuIds);
      p.resolve({ ok: true, seq: p.frame.seq, duplicate: false });
    }
    this.framesCommitted += batch.length;
  }
}

function badSeq(message: string): TelemetryAck {
  return { ok: false, error: { code: 'BAD_FRAME', field: 'seq', message } };
}
