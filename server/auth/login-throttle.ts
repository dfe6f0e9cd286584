import type { IncomingMessage } from 'node:http';

/**
 * Slows password guessing down, per account and per client address. Each attempt is
 * counted when it starts (so the calls of one batch, or parallel requests, are each
 * counted before any of them is checked) and taken back if the password was right.
 * After `freeFailures` failures the next attempt waits `baseDelayMs`, doubling with each
 * further failure up to `maxDelayMs`; at `lockAfter` failures the key is locked for
 * `lockMs`, and any further failure after a lock locks it again. Failures are forgotten
 * `forgetAfterMs` after the last one. A successful sign-in clears the account's count.
 *
 * The state is in this process's memory: one server process per deployment today. A
 * cluster needs the same interface over shared state.
 */

export type ThrottlePolicy = {
  freeFailures: number;
  lockAfter: number;
  baseDelayMs: number;
  maxDelayMs: number;
  lockMs: number;
  forgetAfterMs: number;
};

const MINUTE = 60_000;

/** Per account: 5 failures free, then 1 s, 2 s, 4 s, 8 s, 16 s; the 10th locks it for 15 minutes. */
export const ACCOUNT_POLICY: ThrottlePolicy = {
  freeFailures: 5,
  lockAfter: 10,
  baseDelayMs: 1_000,
  maxDelayMs: MINUTE,
  lockMs: 15 * MINUTE,
  forgetAfterMs: 60 * MINUTE,
};

/** Per client address (many people may share one): 20 free, then backoff; the 50th locks it. */
export const ADDRESS_POLICY: ThrottlePolicy = {
  freeFailures: 20,
  lockAfter: 50,
  baseDelayMs: 1_000,
  maxDelayMs: MINUTE,
  lockMs: 15 * MINUTE,
  forgetAfterMs: 60 * MINUTE,
};

/** Keys remembered per scope; beyond it the least recently failed are forgotten first. */
const MAX_TRACKED_KEYS = 100_000;

export type ThrottleScope = 'account' | 'address';

export type LoginKeys = { account: string; address: string };

export type ThrottleRefusal = {
  scope: ThrottleScope;
  locked: boolean;
  /** Failures counted on the key that refused. */
  failures: number;
  retryAt: Date;
  retryAfterSeconds: number;
};

/** A lock that a failure has just started (worth an audit entry). */
export type LockStarted = { scope: ThrottleScope; key: string; failures: number; until: Date };

/** An admitted attempt: say how it ended, once. */
export type LoginAttempt = {
  /** The password was right: the account's failures are cleared. */
  succeeded(): void;
  /** The password was wrong: returns the locks this failure started. */
  failed(): LockStarted[];
  /** It ended without checking the password (e.g. a database error): not counted. */
  abandoned(): void;
};

export type ThrottleDecision =
  | { admitted: true; attempt: LoginAttempt }
  | { admitted: false; refusal: ThrottleRefusal };

type Entry = { failures: number; lastFailureAt: number; lockedUntil: number };

export class LoginThrottle {
  private readonly policies: Record<ThrottleScope, ThrottlePolicy>;
  private readonly entries: Record<ThrottleScope, Map<string, Entry>> = {
    account: new Map(),
    address: new Map(),
  };
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(
    options: {
      account?: ThrottlePolicy;
      address?: ThrottlePolicy;
      now?: () => number;
      maxKeys?: number;
    } = {},
  ) {
    this.policies = {
      account: options.account ?? ACCOUNT_POLICY,
      address: options.address ?? ADDRESS_POLICY,
    };
    this.now = options.now ?? Date.now;
    this.maxKeys = options.maxKeys ?? MAX_TRACKED_KEYS;
  }

  /** Admits an attempt (and counts it) or refuses it with when to retry. */
  begin(keys: LoginKeys): ThrottleDecision {
    const now = this.now();
    const normalized = { account: keys.account.trim().toLowerCase(), address: keys.address };
    let refusal: ThrottleRefusal | null = null;
    for (const scope of ['account', 'address'] as const) {
      const entry = this.current(scope, normalized[scope], now);
      if (!entry) continue;
      const retryAt = this.retryAt(scope, entry);
      if (retryAt <= now) continue;
      if (!refusal || retryAt > refusal.retryAt.getTime()) {
        refusal = {
          scope,
          locked: entry.lockedUntil > now,
          failures: entry.failures,
          retryAt: new Date(retryAt),
          retryAfterSeconds: Math.ceil((retryAt - now) / 1000),
        };
      }
    }
    if (refusal) return { admitted: false, refusal };

    for (const scope of ['account', 'address'] as const) {
      const key = normalized[scope];
      const entry = this.current(scope, key, now) ?? { failures: 0, lastFailureAt: now, lockedUntil: 0 };
      entry.failures += 1;
      entry.lastFailureAt = now;
      this.store(scope, key, entry);
    }

    let settled = false;
    const settle = () => {
      if (settled) throw new Error('a login attempt ends once');
      settled = true;
    };
    return {
      admitted: true,
      attempt: {
        succeeded: () => {
          settle();
          this.entries.account.delete(normalized.account);
          this.uncount('address', normalized.address);
        },
        failed: () => {
          settle();
          return this.lockIfDue(normalized);
        },
        abandoned: () => {
          settle();
          this.uncount('account', normalized.account);
          this.uncount('address', normalized.address);
        },
      },
    };
  }

  /** Failures counted on a key now (0 once forgotten). For tests and diagnostics. */
  failures(scope: ThrottleScope, key: string): number {
    const normalized = scope === 'account' ? key.trim().toLowerCase() : key;
    return this.current(scope, normalized, this.now())?.failures ?? 0;
  }

  private retryAt(scope: ThrottleScope, entry: Entry): number {
    const policy = this.policies[scope];
    if (entry.failures < policy.freeFailures) return entry.lockedUntil;
    const steps = entry.failures - policy.freeFailures;
    const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(steps, 30));
    return Math.max(entry.lockedUntil, entry.lastFailureAt + delay);
  }

  private lockIfDue(keys: LoginKeys): LockStarted[] {
    const now = this.now();
    const started: LockStarted[] = [];
    for (const scope of ['account', 'address'] as const) {
      const entry = this.entries[scope].get(keys[scope]);
      const policy = this.policies[scope];
      if (!entry || entry.failures < policy.lockAfter || entry.lockedUntil > now) continue;
      entry.lockedUntil = now + policy.lockMs;
      started.push({ scope, key: keys[scope], failures: entry.failures, until: new Date(entry.lockedUntil) });
    }
    return started;
  }

  private uncount(scope: ThrottleScope, key: string): void {
    const entry = this.entries[scope].get(key);
    if (!entry) return;
    entry.failures -= 1;
    if (entry.failures <= 0 && entry.lockedUntil <= this.now()) this.entries[scope].delete(key);
  }

  /** The key's entry, or null once it is forgotten. */
  private current(scope: ThrottleScope, key: string, now: number): Entry | null {
    const entry = this.entries[scope].get(key);
    if (!entry) return null;
    if (entry.lockedUntil <= now && now - entry.lastFailureAt > this.policies[scope].forgetAfterMs) {
      this.entries[scope].delete(key);
      return null;
    }
    return entry;
  }

  /** Keeps the map in order of last failure, so the oldest go first when it is full. */
  private store(scope: ThrottleScope, key: string, entry: Entry): void {
    const map = this.entries[scope];
    map.delete(key);
    map.set(key, entry);
    while (map.size > this.maxKeys) {
      const oldest = map.keys().next().value;
      if (oldest === undefined) break;
      map.delete(oldest);
    }
  }
}

/**
 * The client's address as the socket sees it (a proxy's X-Forwarded-For is not trusted).
 * IPv4-mapped IPv6 becomes plain IPv4; IPv6 counts by /64, the block one host usually holds.
 */
export function clientAddress(req: Pick<IncomingMessage, 'socket'>): string {
  const raw = req.socket?.remoteAddress ?? 'unknown';
  if (raw.startsWith('::ffff:') && raw.includes('.')) return raw.slice('::ffff:'.length);
  if (!raw.includes(':')) return raw;
  return `${ipv6Prefix64(raw)}::/64`;
}

function ipv6Prefix64(address: string): string {
  const [head = '', tail] = address.split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return groups
    .slice(0, 4)
    .map((g) => (Number.parseInt(g || '0', 16) || 0).toString(16))
    .join(':');
}
