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

type Pending = {
  nodeId: string;
  frame: TelemetryFrame;
  gpuIds: string[];
  resolve: (ack: TelemetryAck) => void;
};

/**
 * The durable path of telemetry: a frame is acknowledged only after it is committed to the
 * journal (TelemetryJournal), in batches so one commit serves thousands of frames. Live
 * views get the frame at once; rollups get it after the commit, so a frame whose commit
 * failed is never counted and can be resent.
 */
export class TelemetryIngest {
  private batch: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  /**
   * One batch is committed at a time, and the next is taken only after it: if a commit
   * fails, later frames of the same nodes are still waiting here and are refused with it,
   * never stored ahead of the frames their agents must resend.
   */
  private committing = false;
  /** The acknowledgement of the newest frame taken: batches commit in order, so it settles last. */
  private newest: Promise<TelemetryAck> = Promise.resolve({ ok: true, seq: 0, duplicate: true });
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

  /** Takes a validated frame of `nodeId`; resolves with the acknowledgement to send. */
  submit(nodeId: string, frame: TelemetryFrame, gpuIds: string[]): Promise<TelemetryAck> {
    if (!this.sequences.accept(nodeId, frame.seq)) {
      return Promise.resolve({ ok: true, seq: frame.seq, duplicate: true });
    }
    this.live.ingest(nodeId, frame, gpuIds);
    this.newest = new Promise((resolve) => {
      this.batch.push({ nodeId, frame, gpuIds, resolve });
    });
    this.commitSoon(this.batch.length >= MAX_BATCH ? 0 : COMMIT_INTERVAL_MS);
    return this.newest;
  }

  /** Resolves once every frame submitted so far has been committed (or refused); later ones are not waited for. */
  async settled(): Promise<void> {
    const newest = this.newest;
    this.commitSoon(0);
    await newest;
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
    if (this.committing || this.batch.length === 0) return;
    this.committing = true;
    const batch = this.batch.splice(0, MAX_BATCH);
    try {
      await this.commit(batch);
    } finally {
      this.committing = false;
      if (this.batch.length > 0) this.commitSoon(this.batch.length >= MAX_BATCH ? 0 : COMMIT_INTERVAL_MS);
    }
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
      const later = this.batch.filter((p) => nodes.has(p.nodeId));
      this.batch = this.batch.filter((p) => !nodes.has(p.nodeId));
      for (const node of nodes) this.sequences.rollback(node);
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
