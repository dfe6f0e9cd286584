import type { TelemetryFrame } from '../../lib/protocol/agent';

export const DEFAULT_BUFFER_CAPACITY = 3600;

/**
 * Telemetry frames the server has not acknowledged yet, in sequence order. Bounded: during
 * a long outage the oldest frames go first, since the newest matter most to whoever is
 * watching when the connection comes back.
 *
 * Kept behind this small interface (push, acknowledge, discard, read in order) so that a
 * disk-backed buffer can replace it without touching the agent.
 */
export class FrameBuffer {
  private frames: TelemetryFrame[] = [];
  private droppedCount = 0;

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

  /** Adds the newest frame; its seq must be higher than every buffered one. */
  push(frame: TelemetryFrame): void {
    const newest = this.frames.at(-1);
    if (newest && frame.seq <= newest.seq) {
      throw new RangeError(`frame ${frame.seq} is not newer than buffered frame ${newest.seq}`);
    }
    this.frames.push(frame);
    if (this.frames.length > this.capacity) {
      const excess = this.frames.length - this.capacity;
      this.frames.splice(0, excess);
      this.droppedCount += excess;
    }
  }

  /** Removes the frame with this seq; false when it is not buffered (already gone or dropped). */
  acknowledge(seq: number): boolean {
    const index = this.indexOf(seq);
    if (index < 0) return false;
    this.frames.splice(index, 1);
    return true;
  }

  /** Removes every frame with seq <= `seq` (the server already holds them); returns how many. */
  discardThrough(seq: number): number {
    const keepFrom = this.firstIndexAfter(seq);
    this.frames.splice(0, keepFrom);
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
    return firstSeq + this.frames.length;
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
