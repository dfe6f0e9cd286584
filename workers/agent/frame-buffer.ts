import type { TelemetryFrame } from '../../lib/protocol/agent';
import type { FrameJournal, JournalRecord } from './frame-journal';
import { type AgentLog, errorMessage, silentLog } from './log';

export const DEFAULT_BUFFER_CAPACITY = 3600;
const JOURNAL_RETRY_MS = 10_000;

export type RestoredFrames = {
  /** Frames back in the buffer, oldest first. */
  frames: number;
  /** The highest seq the journal knows was ever buffered (0 when none). */
  highWater: number;
  /** Journal lines that could not be read (a torn last write, damage). */
  unreadable: number;
};

/**
 * Telemetry frames the server has not acknowledged yet, in sequence order. Bounded: during
 * a long outage the oldest frames go first, since the newest matter most to whoever is
 * watching when the connection comes back.
 *
 * Memory is the fast path; with a journal attached (restore()), every change is also
 * written to disk, so a restarted agent picks up the frames it had not delivered. Frames are
 * written synchronously before they can be sent. Acknowledgements are written lazily, with
 * the next frame or within a second: one that is lost in a crash only makes the agent resend
 * a frame the server then recognises as a duplicate.
 */
export class FrameBuffer {
  private frames: TelemetryFrame[] = [];
  private droppedCount = 0;
  private journal: FrameJournal | null = null;
  private log: AgentLog = silentLog;
  private pendingAcks: number[] = [];
  private ackFlushTimer: NodeJS.Timeout | null = null;
  /** The journal could not be written; a later change rewrites it whole instead of appending. */
  private journalStale = false;
  private retryJournalAt = 0;
  private highWater = 0;

  constructor(readonly capacity = DEFAULT_BUFFER_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
  }

  get size(): number {
    return this.frames.length;
  }

  /** Frames dropped because the buffer was full, since it was created. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** The newest buffered frame's seq, or 0 when empty. */
  get newestSeq(): number {
    return this.frames.at(-1)?.seq ?? 0;
  }

  /**
   * Loads the frames a previous run left in `journal` and keeps the journal up to date from
   * now on. Call once, on an empty buffer, before anything is pushed.
   */
  restore(journal: FrameJournal, log: AgentLog = silentLog): RestoredFrames {
    if (this.journal || this.frames.length > 0)
      throw new Error('restore() needs an empty buffer without a journal');
    const { records, unreadable } = journal.load();
    for (const record of records) {
      if ('frame' in record) {
        // A frame out of order can only come from damage; keeping order matters more.
        if (record.frame.seq > this.newestSeq) this.pushInMemory(record.frame);
      } else if ('acked' in record) {
        for (const seq of record.acked) this.removeInMemory(seq);
      } else if ('discardThrough' in record) {
        this.frames.splice(0, this.firstIndexAfter(record.discardThrough));
      } else {
        this.highWater = Math.max(this.highWater, record.highWater);
      }
    }
    // Replaying the same pushes drops the same frames the previous run dropped (and counted).
    this.droppedCount = 0;
    this.journal = journal;
    this.log = log;
    // Start from a compact file that ends on a whole line.
    this.compact();
    return { frames: this.frames.length, highWater: this.highWater, unreadable };
  }

  /** Adds the newest frame; its seq must be higher than every buffered one. */
  push(frame: TelemetryFrame): void {
    const newest = this.frames.at(-1);
    if (newest && frame.seq <= newest.seq) {
      throw new RangeError(`frame ${frame.seq} is not newer than buffered frame ${newest.seq}`);
    }
    this.pushInMemory(frame);
    this.write([...this.takeAcks(), { frame }]);
  }

  /** Removes the frame with this seq; false when it is not buffered (already gone or dropped). */
  acknowledge(seq: number): boolean {
    if (!this.removeInMemory(seq)) return false;
    if (this.journal) {
      this.pendingAcks.push(seq);
      if (this.frames.length === 0) this.compactIfWorthIt();
      else this.scheduleAckFlush();
    }
    return true;
  }

  /** Removes every frame with seq <= `seq` (the server already holds them); returns how many. */
  discardThrough(seq: number): number {
    const keepFrom = this.firstIndexAfter(seq);
    this.frames.splice(0, keepFrom);
    if (keepFrom > 0) this.write([...this.takeAcks(), { discardThrough: seq }]);
    return keepFrom;
  }

  /** The oldest buffered frame with seq > `seq`: the next one to send after it. */
  firstAfter(seq: number): TelemetryFrame | undefined {
    return this.frames[this.firstIndexAfter(seq)];
  }

  /** Buffered frames with seq > `seq`, oldest first: what to replay after a reconnect. */
  framesAfter(seq: number): TelemetryFrame[] {
    return this.frames.slice(this.firstIndexAfter(seq));
  }

  /**
   * Renumbers every buffered frame consecutively from `firstSeq`, keeping their order, and
   * returns the seq after the last one. For frames numbered before the agent learnt that the
   * server already holds those numbers (state.json older than the server's history).
   */
  renumberFrom(firstSeq: number): number {
    this.frames = this.frames.map((frame, i) => ({ ...frame, seq: firstSeq + i }));
    this.highWater = Math.max(this.highWater, this.newestSeq);
    this.pendingAcks = [];
    if (this.journal) this.compact();
    return firstSeq + this.frames.length;
  }

  /** Writes what is pending and closes the journal; the buffer keeps working in memory. */
  close(): void {
    if (!this.journal) return;
    if (this.ackFlushTimer) clearTimeout(this.ackFlushTimer);
    this.ackFlushTimer = null;
    if (this.frames.length === 0) this.compact();
    else this.write(this.takeAcks());
    try {
      this.journal.close();
    } catch (error) {
      this.log.warn(`cannot close ${this.journal.path}: ${errorMessage(error)}`);
    }
    this.journal = null;
  }

  private pushInMemory(frame: TelemetryFrame): void {
    this.frames.push(frame);
    this.highWater = Math.max(this.highWater, frame.seq);
    if (this.frames.length > this.capacity) {
      const excess = this.frames.length - this.capacity;
      this.frames.splice(0, excess);
      this.droppedCount += excess;
    }
  }

  private removeInMemory(seq: number): boolean {
    const index = this.indexOf(seq);
    if (index < 0) return false;
    this.frames.splice(index, 1);
    return true;
  }

  private takeAcks(): JournalRecord[] {
    if (this.pendingAcks.length === 0) return [];
    const acked = this.pendingAcks;
    this.pendingAcks = [];
    return [{ acked }];
  }

  private scheduleAckFlush(): void {
    if (this.ackFlushTimer) return;
    this.ackFlushTimer = setTimeout(() => {
      this.ackFlushTimer = null;
      this.write(this.takeAcks());
    }, 1000);
    this.ackFlushTimer.unref();
  }

  /** Appends to the journal; compacts once appends outweigh what the buffer holds. */
  private write(records: JournalRecord[]): void {
    const journal = this.journal;
    if (!journal || records.length === 0) return;
    if (this.journalStale) {
      // Retrying a full rewrite on every frame would hammer a full or failing disk.
      if (Date.now() >= this.retryJournalAt) this.compact();
      return;
    }
    try {
      journal.append(records);
    } catch (error) {
      this.journalFailed(error);
      return;
    }
    if (journal.appendedSinceRewrite >= Math.max(64, this.capacity)) this.compact();
  }

  /** An empty buffer is the cheapest moment to shrink the journal to one line. */
  private compactIfWorthIt(): void {
    if ((this.journal?.appendedSinceRewrite ?? 0) >= 64) this.compact();
    else this.scheduleAckFlush();
  }

  /** Rewrites the journal as the buffer's frames alone, after a `highWater` line. */
  private compact(): void {
    const journal = this.journal;
    if (!journal) return;
    this.pendingAcks = [];
    try {
      journal.rewrite([{ highWater: this.highWater }, ...this.frames.map((frame) => ({ frame }))]);
      if (this.journalStale) this.log.info(`${journal.path} is written again`);
      this.journalStale = false;
    } catch (error) {
      this.journalFailed(error);
    }
  }

  private journalFailed(error: unknown): void {
    if (!this.journalStale) {
      this.log.error(
        `cannot write ${this.journal?.path}: ${errorMessage(error)}; frames are kept in memory only until it works again`,
      );
    }
    this.journalStale = true;
    this.retryJournalAt = Date.now() + JOURNAL_RETRY_MS;
  }

  private indexOf(seq: number): number {
    const index = this.firstIndexAfter(seq - 1);
    return this.frames[index]?.seq === seq ? index : -1;
  }

  /** Binary search: frames are strictly increasing by seq. */
  private firstIndexAfter(seq: number): number {
    let low = 0;
    let high = this.frames.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.frames[mid]?.seq ?? Number.POSITIVE_INFINITY) <= seq) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
