/**
 * Turns cumulative values (counters, histogram buckets, counts and sums) into what happened
 * between two scrapes of one endpoint.
 *
 * - The first scrape is only a baseline: its totals cover the process's whole life, not
 *   one interval.
 * - A series that appears after the baseline started since the last scrape: all of it is new.
 * - If any counter, bucket or count went down, the process restarted: every value now
 *   counts from zero again, so the current values are the increase.
 * Sums are not used to detect a restart (a sum of negative observations may fall), but
 * follow the decision the counts make.
 */
export type Deltas = { values: Map<string, number>; reset: boolean };

export class CumulativeTracker {
  private previous: Map<string, number> | null = null;

  /** The increase since the previous scrape, or null on the first one. */
  step(current: Map<string, number>): Deltas | null {
    const previous = this.previous;
    this.previous = current;
    if (!previous) return null;
    let reset = false;
    for (const [key, value] of current) {
      if (isSum(key)) continue;
      const before = previous.get(key);
      if (before !== undefined && value < before) {
        reset = true;
        break;
      }
    }
    const values = new Map<string, number>();
    for (const [key, value] of current) {
      const before = previous.get(key);
      const delta = reset || before === undefined ? value : value - before;
      values.set(key, Number.isFinite(delta) && delta > 0 ? delta : 0);
    }
    return { values, reset };
  }

  /** Forgets the baseline, so the next scrape only sets a new one. */
  rebaseline(): void {
    this.previous = null;
  }
}

/** Keys of sums start with this, so a falling sum is not taken for a restart. */
export const SUM_KEY_PREFIX = 'sum|';

function isSum(key: string): boolean {
  return key.startsWith(SUM_KEY_PREFIX);
}
