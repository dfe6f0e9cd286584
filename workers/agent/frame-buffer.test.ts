import { appendFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TelemetryFrame } from '../../lib/protocol/agent';
import { FrameBuffer } from './frame-buffer';
import { FrameJournal } from './frame-journal';

function frame(seq: number): TelemetryFrame {
  return { seq, sampledAt: 1_700_000_000_000 + seq * 1000, intervalMs: 1000, gpus: [], deployments: [] };
}

function fill(buffer: FrameBuffer, from: number, to: number): void {
  for (let seq = from; seq <= to; seq++) buffer.push(frame(seq));
}

const seqs = (frames: TelemetryFrame[]) => frames.map((f) => f.seq);

describe('FrameBuffer', () => {
  it('keeps frames in seq order and refuses one that is not newer', () => {
    const buffer = new FrameBuffer(10);
    fill(buffer, 1, 4);
    expect(seqs(buffer.framesAfter(0))).toEqual([1, 2, 3, 4]);
    expect(() => buffer.push(frame(4))).toThrow(RangeError);
    expect(() => buffer.push(frame(2))).toThrow(RangeError);
    expect(buffer.size).toBe(4);
  });

  it('drops the oldest frames when full and counts them', () => {
    const buffer = new FrameBuffer(3);
    fill(buffer, 1, 3);
    expect(buffer.dropped).toBe(0);
    fill(buffer, 4, 7);
    expect(buffer.size).toBe(3);
    expect(buffer.dropped).toBe(4);
    expect(seqs(buffer.framesAfter(0))).toEqual([5, 6, 7]);
  });

  it('removes acknowledged frames, in any order, and only once', () => {
    const buffer = new FrameBuffer(10);
    fill(buffer, 1, 5);
    expect(buffer.acknowledge(1)).toBe(true);
    expect(buffer.acknowledge(4)).toBe(true);
    expect(buffer.acknowledge(4)).toBe(false);
    expect(buffer.acknowledge(99)).toBe(false);
    expect(seqs(buffer.framesAfter(0))).toEqual([2, 3, 5]);
    expect(buffer.dropped).toBe(0);
  });

  it('replays only frames above the server’s last seq, oldest first', () => {
    const buffer = new FrameBuffer(10);
    fill(buffer, 3, 9);
    expect(seqs(buffer.framesAfter(5))).toEqual([6, 7, 8, 9]);
    expect(buffer.firstAfter(5)?.seq).toBe(6);
    expect(buffer.firstAfter(9)).toBeUndefined();
    // What the server already holds can go.
    expect(buffer.discardThrough(5)).toBe(3);
    expect(seqs(buffer.framesAfter(0))).toEqual([6, 7, 8, 9]);
    expect(buffer.discardThrough(2)).toBe(0);
  });

  it('finds the next frame to send across gaps left by acknowledgements', () => {
    const buffer = new FrameBuffer(10);
    fill(buffer, 1, 6);
    buffer.acknowledge(3);
    buffer.acknowledge(4);
    expect(buffer.firstAfter(2)?.seq).toBe(5);
    expect(buffer.firstAfter(3)?.seq).toBe(5);
  });

  it('renumbers every frame consecutively, keeping their order and contents', () => {
    const buffer = new FrameBuffer(10);
    fill(buffer, 2, 4);
    const sampledAt = seqs(buffer.framesAfter(0)).map((seq) => frame(seq).sampledAt);
    expect(buffer.renumberFrom(100)).toBe(103);
    const renumbered = buffer.framesAfter(0);
    expect(seqs(renumbered)).toEqual([100, 101, 102]);
    expect(renumbered.map((f) => f.sampledAt)).toEqual(sampledAt);
    buffer.push(frame(103));
    expect(buffer.size).toBe(4);
  });

  it('refuses a capacity below one', () => {
    expect(() => new FrameBuffer(0)).toThrow(RangeError);
  });
});

describe('FrameBuffer with a journal', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchyard-frame-journal-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const journalPath = () => join(dir, 'frames.jsonl');
  /** A buffer restored from the journal file, as a restarted agent would have it. */
  function reopen(capacity = 10) {
    const buffer = new FrameBuffer(capacity);
    const restored = buffer.restore(new FrameJournal(journalPath(), 0));
    return { buffer, restored };
  }

  it('gives a restarted buffer the frames that were not acknowledged, in order', () => {
    const { buffer } = reopen();
    fill(buffer, 1, 5);
    buffer.acknowledge(2);
    buffer.acknowledge(4);
    // Acknowledgements reach the disk with the next frame (or within a second).
    buffer.push(frame(6));
    // No close(): the process died here.
    const { buffer: after, restored } = reopen();
    expect(seqs(after.framesAfter(0))).toEqual([1, 3, 5, 6]);
    expect(restored).toEqual({ frames: 4, highWater: 6, unreadable: 0 });
    expect(after.framesAfter(0)[0]).toEqual(frame(1));
  });

  it('replays an unflushed acknowledgement as a frame still to send, never loses one', () => {
    const { buffer } = reopen();
    fill(buffer, 1, 3);
    buffer.acknowledge(3);
    expect(seqs(reopen().buffer.framesAfter(0))).toEqual([1, 2, 3]);
  });

  it('skips a line torn by a crash mid-write and starts the file over cleanly', async () => {
    const { buffer } = reopen();
    fill(buffer, 1, 3);
    await appendFile(journalPath(), '{"frame":{"seq":4,"sampledAt":17000');
    const { buffer: after, restored } = reopen();
    expect(seqs(after.framesAfter(0))).toEqual([1, 2, 3]);
    expect(restored.unreadable).toBe(1);
    after.push(frame(4));
    expect(seqs(reopen().buffer.framesAfter(0))).toEqual([1, 2, 3, 4]);
    expect((await readFile(journalPath(), 'utf8')).endsWith('\n')).toBe(true);
  });

  it('keeps the newest frames within capacity, and numbering after everything is acknowledged', () => {
    const { buffer } = reopen(3);
    fill(buffer, 1, 7);
    expect(buffer.dropped).toBe(4);
    const { buffer: after } = reopen(3);
    expect(seqs(after.framesAfter(0))).toEqual([5, 6, 7]);
    expect(after.dropped).toBe(0);
    for (const seq of [5, 6, 7]) after.acknowledge(seq);
    after.close();
    const { buffer: empty, restored } = reopen(3);
    expect(empty.size).toBe(0);
    expect(restored.highWater).toBe(7);
  });

  it('records what the server already holds and renumbered frames', () => {
    const { buffer } = reopen();
    fill(buffer, 1, 6);
    buffer.discardThrough(2);
    expect(seqs(reopen().buffer.framesAfter(0))).toEqual([3, 4, 5, 6]);
    const { buffer: again } = reopen();
    again.renumberFrom(50);
    const { buffer: renumbered, restored } = reopen();
    expect(seqs(renumbered.framesAfter(0))).toEqual([50, 51, 52, 53]);
    expect(restored.highWater).toBe(53);
  });

  it('compacts the file as frames are acknowledged, so it stays small', async () => {
    const { buffer } = reopen(100);
    for (let seq = 1; seq <= 1000; seq++) {
      buffer.push(frame(seq));
      buffer.acknowledge(seq);
    }
    const lines = (await readFile(journalPath(), 'utf8')).trim().split('\n');
    expect(lines.length).toBeLessThan(150);
    const { buffer: after, restored } = reopen(100);
    expect(after.size).toBeLessThanOrEqual(1);
    expect(restored.highWater).toBe(1000);
  });

  it('keeps working in memory when the journal cannot be written', async () => {
    const { buffer } = reopen();
    fill(buffer, 1, 2);
    await rm(dir, { recursive: true, force: true });
    // The directory is gone: the next compaction fails, frames stay in memory.
    buffer.renumberFrom(10);
    buffer.push(frame(12));
    expect(seqs(buffer.framesAfter(0))).toEqual([10, 11, 12]);
    await mkdir(dir);
  });
});
