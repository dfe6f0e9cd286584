import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/**
 * A Prometheus text exposition (what dcgm-exporter, vLLM, Triton and KServe serve on
 * /metrics) as a flat list of samples plus the declared metric types.
 *
 * The text is lexed by parse-prometheus-text-format, one line at a time: label quoting and
 * escapes, `+Inf`/`NaN`, timestamps. Whole-text parsing in that library folds every series
 * of a histogram into one (it keys buckets by `le` alone and drops labelled `_count` and
 * `_sum`), and every real exporter labels its histograms, so series are grouped here instead,
 * by their full label sets.
 */

export type PromLabels = Record<string, string>;
export type PromSample = { name: string; labels: PromLabels; value: number };

export type HistogramSeries = {
  /** The series' labels without `le`. */
  labels: PromLabels;
  key: string;
  /** Cumulative counts by upper bound, ascending; the last bound is +Inf when exposed. */
  buckets: { le: number; count: number }[];
  count: number | null;
  sum: number | null;
};

export class Exposition {
  private readonly byName = new Map<string, PromSample[]>();

  private constructor(
    readonly samples: PromSample[],
    /** Metric family → declared type in lower case (`counter`, `gauge`, `histogram`, ...). */
    readonly types: Map<string, string>,
    /** Lines that could not be read; the rest of the exposition is still used. */
    readonly skippedLines: number,
  ) {
    for (const sample of samples) {
      const list = this.byName.get(sample.name);
      if (list) list.push(sample);
      else this.byName.set(sample.name, [sample]);
    }
  }

  static parse(text: string): Exposition {
    const samples: PromSample[] = [];
    const types = new Map<string, string>();
    let skipped = 0;
    for (const line of text.split('\n')) {
      const trimmed = line.trim();
      if (trimmed === '' || (trimmed.startsWith('#') && !trimmed.startsWith('# TYPE '))) continue;
      let families: ReturnType<typeof parsePrometheusTextFormat>;
      try {
        // The library writes out a family when it reaches the last line, so end with a newline.
        families = parsePrometheusTextFormat(`${trimmed}\n`);
      } catch {
        skipped++;
        continue;
      }
      for (const family of families) {
        if (family.metrics.length === 0 && family.type !== 'UNTYPED') {
          types.set(family.name, family.type.toLowerCase());
        }
        for (const metric of family.metrics) {
          const value = sampleValue(metric.value);
          if (value === null) skipped++;
          else samples.push({ name: family.name, labels: metric.labels ?? {}, value });
        }
      }
    }
    return new Exposition(samples, types, skipped);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  series(name: string): PromSample[] {
    return this.byName.get(name) ?? [];
  }

  /** Sum of every series of `name` that passes `filter`; null when there is none. */
  total(name: string, filter: (labels: PromLabels) => boolean = () => true): number | null {
    const matching = this.series(name).filter(
      (sample) => filter(sample.labels) && Number.isFinite(sample.value),
    );
    return matching.length === 0 ? null : matching.reduce((sum, sample) => sum + sample.value, 0);
  }

  /** Families that are histograms: declared so, or exposing `_bucket` series with `le`. */
  histogramFamilies(): string[] {
    const families = new Set<string>();
    for (const [name, type] of this.types) if (type === 'histogram') families.add(name);
    for (const name of this.byName.keys()) {
      if (name.endsWith('_bucket') && this.series(name).some((s) => 'le' in s.labels)) {
        families.add(name.slice(0, -'_bucket'.length));
      }
    }
    return [...families].filter((family) => this.has(`${family}_bucket`));
  }

  histogram(family: string): HistogramSeries[] {
    const series = new Map<string, HistogramSeries>();
    const seriesFor = (labels: PromLabels): HistogramSeries => {
      const { le: _le, ...rest } = labels;
      const key = labelKey(rest);
      let found = series.get(key);
      if (!found) {
        found = { labels: rest, key, buckets: [], count: null, sum: null };
        series.set(key, found);
      }
      return found;
    };
    for (const sample of this.series(`${family}_bucket`)) {
      const le = boundOf(sample.labels.le);
      if (le !== null) seriesFor(sample.labels).buckets.push({ le, count: sample.value });
    }
    for (const sample of this.series(`${family}_count`)) seriesFor(sample.labels).count = sample.value;
    for (const sample of this.series(`${family}_sum`)) seriesFor(sample.labels).sum = sample.value;
    for (const found of series.values()) found.buckets.sort((a, b) => a.le - b.le);
    return [...series.values()];
  }
}

/** A stable identity for a label set: sorted `name="value"` pairs. */
export function labelKey(labels: PromLabels): string {
  return Object.keys(labels)
    .sort()
    .map((name) => `${name}=${JSON.stringify(labels[name])}`)
    .join(',');
}

function sampleValue(text: string | undefined): number | null {
  if (text === undefined) return null;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return null;
  return Number(text);
}

function boundOf(le: string | undefined): number | null {
  if (le === undefined) return null;
  const value = sampleValue(le);
  return value === null || Number.isNaN(value) ? null : value;
}
