import { describe, expect, it } from 'vitest';
import type { TelemetryFrame } from '../../lib/protocol/agent';
import { FrameBuffer } from './frame-buffer';

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
