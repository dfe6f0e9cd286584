/**
 * Exponential backoff with jitter, for the retries the agent drives itself (enrollment,
 * reconnects after the server refused or closed the connection). Jitter spreads a fleet's
 * retries out, so a restarted server is not hit by every agent in the same millisecond.
 */
export class Backoff {
  private attempts = 0;

  constructor(
    private readonly minMs = 500,
    private readonly maxMs = 5000,
    private readonly jitter = 0.5,
    private readonly random: () => number = Math.random,
  ) {}

  /** Delay before the next attempt: min, 2×min, 4×min, ... up to max, each ±jitter. */
  next(): number {
    const base = Math.min(this.maxMs, this.minMs * 2 ** this.attempts);
    this.attempts++;
    const spread = base * this.jitter;
    return Math.round(base - spread + 2 * spread * this.random());
  }

  reset(): void {
    this.attempts = 0;
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
