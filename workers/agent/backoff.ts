/**
 * Exponential backoff with full jitter, for the retries the agent drives itself
 * (reconnecting, enrolling). Attempt n waits a uniformly random time in
 * [0, min(cap, base × 2^n)): the ceiling doubles as failures repeat, and the wait is
 * anywhere below it. When a server dies, every agent it held loses its connection in the
 * same instant; with a fixed or merely ±50 % jittered delay they would all come back in a
 * few tight waves and hit the surviving servers together. Full jitter spreads thousands
 * of reconnects evenly over the whole window instead (see "Exponential Backoff And
 * Jitter", AWS Architecture Blog, 2015), while the first retry after a blip still comes
 * within a quarter second.
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly baseMs = 250,
    private readonly capMs = 10_000,
    private readonly random: () => number = Math.random,
  ) {}

  /** The ceiling of the next delay: base, 2×base, 4×base, ... up to cap. */
  ceiling(): number {
    // 2^30 × base is past any cap already; the exponent stays a safe integer.
    return Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.failures, 30));
  }

  /** Delay before the next attempt, uniformly in [0, ceiling). */
  next(): number {
    const ceiling = this.ceiling();
    this.failures++;
    return Math.floor(this.random() * ceiling);
  }

  /** After a success: the next failure starts from the base again. */
  reset(): void {
    this.failures = 0;
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
