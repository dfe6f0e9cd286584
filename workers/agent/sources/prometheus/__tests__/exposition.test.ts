import { describe, expect, it } from 'vitest';
import { LatencyRecorder } from '../../../../../lib/latency-histogram';
import { intervalBuckets, recordBuckets } from '../bucketed-latency';
import { CumulativeTracker, SUM_KEY_PREFIX } from '../cumulative';
import { Exposition } from '../exposition';

describe('Exposition', () => {
  it('keeps each labelled series of a histogram apart', () => {
    const exposition = Exposition.parse(
      [
        '# HELP latency_seconds Request latency.',
        '# TYPE latency_seconds histogram',
        'latency_seconds_bucket{le="0.5",model="a"} 1',
        'latency_seconds_bucket{le="+Inf",model="a"} 3',
        'latency_seconds_count{model="a"} 3',
        'latency_seconds_sum{model="a"} 2.5',
        'latency_seconds_bucket{model="b",le="0.5"} 5',
        'latency_seconds_bucket{model="b",le="+Inf"} 7',
        'latency_seconds_count{model="b"} 7',
        'latency_seconds_sum{model="b"} 9.5',
      ].join('\n'),
    );
    expect(exposition.histogramFamilies()).toEqual(['latency_seconds']);
    expect(exposition.histogram('latency_seconds')).toEqual([
      {
        labels: { model: 'a' },
        key: 'model="a"',
        buckets: [
          { le: 0.5, count: 1 },
          { le: Number.POSITIVE_INFINITY, count: 3 },
        ],
        count: 3,
        sum: 2.5,
      },
      {
        labels: { model: 'b' },
        key: 'model="b"',
        buckets: [
          { le: 0.5, count: 5 },
          { le: Number.POSITIVE_INFINITY, count: 7 },
        ],
        count: 7,
        sum: 9.5,
      },
    ]);
  });

  it('reads escapes, special values and timestamps, and skips what it cannot read', () => {
    const exposition = Exposition.parse(
      [
        'path_info{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
        'vllm:num_requests_waiting{model_name="x"} 3.0 1700000000000',
        'weird{problem="division by zero"} +Inf',
        'nothing NaN',
        'this is not a sample',
        'broken{label="unterminated} 1',
      ].join('\n'),
    );
    expect(exposition.series('path_info')[0]).toEqual({
      name: 'path_info',
      labels: { path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' },
      value: 1.458255915e9,
    });
    expect(exposition.total('vllm:num_requests_waiting')).toBe(3);
    expect(exposition.series('weird')[0]?.value).toBe(Number.POSITIVE_INFINITY);
    expect(Number.isNaN(exposition.series('nothing')[0]?.value)).toBe(true);
    expect(exposition.total('nothing')).toBeNull();
    expect(exposition.skippedLines).toBe(2);
  });
});

describe('CumulativeTracker', () => {
  it('starts with a baseline, then reports increases, new series in full, and restarts', () => {
    const tracker = new CumulativeTracker();
    expect(tracker.step(new Map([['a', 10]]))).toBeNull();
    expect(
      tracker.step(
        new Map([
          ['a', 15],
          ['b', 2],
        ]),
      ),
    ).toEqual({
      values: new Map([
        ['a', 5],
        ['b', 2],
      ]),
      reset: false,
    });
    // A falling sum alone is not a restart.
    const sum = `${SUM_KEY_PREFIX}x`;
    expect(
      tracker.step(
        new Map([
          ['a', 15],
          ['b', 2],
          [sum, 5],
        ]),
      )?.reset,
    ).toBe(false);
    expect(
      tracker.step(
        new Map([
          ['a', 16],
          ['b', 2],
          [sum, 4],
        ]),
      ),
    ).toEqual({
      values: new Map([
        ['a', 1],
        ['b', 0],
        [sum, 0],
      ]),
      reset: false,
    });
    // b went down: the process restarted, so every current value is new.
    expect(
      tracker.step(
        new Map([
          ['a', 20],
          ['b', 1],
          [sum, 3],
        ]),
      ),
    ).toEqual({
      values: new Map([
        ['a', 20],
        ['b', 1],
        [sum, 3],
      ]),
      reset: true,
    });
  });
});

describe('bucketed latency', () => {
  it('turns cumulative bucket increases into per-bucket counts in milliseconds', () => {
    const buckets = intervalBuckets(
      [
        { le: 0.1, delta: 2 },
        { le: 0.5, delta: 7 },
        { le: 1, delta: 7 },
        { le: Number.POSITIVE_INFINITY, delta: 8 },
      ],
      1000,
    );
    expect(buckets).toEqual([
      { lowerMs: 0, upperMs: 100, count: 2 },
      { lowerMs: 100, upperMs: 500, count: 5 },
      { lowerMs: 1000, upperMs: Number.POSITIVE_INFINITY, count: 1 },
    ]);
    const recorder = new LatencyRecorder();
    recordBuckets(recorder, buckets);
    const wire = recorder.drain();
    expect(wire.count).toBe(8);
    // Half the first bound, the geometric mid-point of (100, 500], the +Inf bucket's lower bound.
    expect(wire.min).toBeCloseTo(50, 6);
    expect(wire.sum).toBeCloseTo(2 * 50 + 5 * Math.sqrt(100 * 500) + 1000, 6);
    expect(wire.max).toBe(1000);
  });
});
