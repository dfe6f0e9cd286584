import { DDSketch } from '@datadog/sketches-js';
import { z } from 'zod';

/**
 * Latency distributions travel and are stored as DDSketches with 1 % relative accuracy:
 * mergeable, so a percentile over any window or any set of agents is computed from the
 * merged distribution, never by averaging percentiles.
 *
 * Wire form (docs/agent-protocol.md): values in milliseconds; `bins` are [key, count]
 * pairs where key = ceil(ln(v) / ln(gamma)), gamma = (1 + a) / (1 - a), a = 0.01.
 */
export const RELATIVE_ACCURACY = 0.01;
export const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LN_GAMMA = Math.log(GAMMA);
const MAX_BINS = 4096;

/** Most values one histogram may carry (one interval of one node or stress agent). */
const MAX_VALUES = 10_000_000;

export const ZLatencyHistogramWire = z
  .object({
    bins: z
      .array(
        z.tuple([z.number().int().min(-20_000).max(20_000), z.number().int().positive().max(MAX_VALUES)]),
      )
      .max(MAX_BINS),
    zeroCount: z.number().int().nonnegative().max(MAX_VALUES).default(0),
    count: z.number().int().nonnegative().max(MAX_VALUES),
    sum: z.number().nonnegative(),
    min: z.number().nonnegative(),
    max: z.number().nonnegative(),
  })
  .refine((h) => h.bins.reduce((total, [, n]) => total + n, h.zeroCount) === h.count, {
    message: 'must equal the bins’ counts plus zeroCount',
    path: ['count'],
  });
export type LatencyHistogramWire = z.infer<typeof ZLatencyHistogramWire>;

export function binKey(valueMs: number): number {
  return Math.ceil(Math.log(valueMs) / LN_GAMMA);
}

/** The value a bin stands for: within RELATIVE_ACCURACY of every value mapped to it. */
export function binValue(key: number): number {
  return GAMMA ** key * (2 / (1 + GAMMA));
}

/** A recorder on the agent side: cheap to fill, emptied into wire form every interval. */
export class LatencyRecorder {
  private bins = new Map<number, number>();
  private zeroCount = 0;
  private count = 0;
  private sum = 0;
  private min = Number.POSITIVE_INFINITY;
  private max = 0;

  record(valueMs: number, times = 1): void {
    if (!(valueMs >= 0) || times <= 0) return;
    if (valueMs < 1e-6) this.zeroCount += times;
    else {
      const key = binKey(valueMs);
      this.bins.set(key, (this.bins.get(key) ?? 0) + times);
    }
    this.count += times;
    this.sum += valueMs * times;
    if (valueMs < this.min) this.min = valueMs;
    if (valueMs > this.max) this.max = valueMs;
  }

  /** Returns the interval's distribution and starts a new interval. */
  drain(): LatencyHistogramWire {
    const wire: LatencyHistogramWire = {
      bins: [...this.bins.entries()].sort((a, b) => a[0] - b[0]),
      zeroCount: this.zeroCount,
      count: this.count,
      sum: this.sum,
      min: this.count === 0 ? 0 : this.min,
      max: this.max,
    };
    this.bins.clear();
    this.zeroCount = 0;
    this.count = 0;
    this.sum = 0;
    this.min = Number.POSITIVE_INFINITY;
    this.max = 0;
    return wire;
  }
}

/** Server-side distribution: merges wire histograms and answers quantiles. */
export class LatencyDistribution {
  readonly sketch: DDSketch;

  constructor(sketch?: DDSketch) {
    this.sketch = sketch ?? new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
  }

  static fromWire(wire: LatencyHistogramWire): LatencyDistribution {
    const dist = new LatencyDistribution();
    dist.addWire(wire);
    return dist;
  }

  static fromBytes(bytes: Uint8Array): LatencyDistribution {
    return new LatencyDistribution(DDSketch.fromProto(bytes));
  }

  addWire(wire: LatencyHistogramWire): void {
    if (wire.count === 0) return;
    const { sketch } = this;
    const wasEmpty = sketch.count === 0;
    const [min, max] = [sketch.min, sketch.max];
    for (const [key, count] of wire.bins) sketch.accept(binValue(key), count);
    if (wire.zeroCount > 0) sketch.accept(0, wire.zeroCount);
    // accept() saw bin centres; keep the exact extremes the agent measured.
    sketch.min = wasEmpty ? wire.min : Math.min(min, wire.min);
    sketch.max = wasEmpty ? wire.max : Math.max(max, wire.max);
  }

  merge(other: LatencyDistribution): void {
    if (other.sketch.count > 0) this.sketch.merge(other.sketch);
  }

  get count(): number {
    return this.sketch.count;
  }

  /** Quantile in ms, or null when nothing was recorded. */
  quantile(q: number): number | null {
    if (this.sketch.count === 0) return null;
    return this.sketch.getValueAtQuantile(q);
  }

  toBytes(): Uint8Array {
    return this.sketch.toProto();
  }
}
