import { LIVE_WINDOW_MS, type ProtocolError } from '../../lib/protocol/agent';

/** A token bucket: `perSecond` sustained, up to `burst` at once. */
export type Rate = { perSecond: number; burst: number };

/**
 * What one agent connection may send (docs/agent-protocol.md, "Bounds"). Live frames are
 * those dated within LIVE_WINDOW_MS of the server's clock: 20 a second is twice the
 * shortest interval (100 ms), so an agent that sampled through a short outage catches up.
 * Older frames have their own, larger budget, so a backlog of 3,600 frames (an hour at
 * 1 Hz, what the reference agent keeps) drains in about 7 s.
 */
export const AGENT_BUDGETS = {
  live: { perSecond: 20, burst: 50 },
  replay: { perSecond: 500, burst: 1_000 },
  /** stress:report: one a second per run, and a reconnect's replay. */
  reports: { perSecond: 20, burst: 200 },
  /** inventory, endpoints and anything else. */
  control: { perSecond: 2, burst: 10 },
} as const satisfies Record<string, Rate>;

/** A connection refused this many messages within one second is closed: it ignores RATE_LIMITED. */
export const ABUSE_REFUSALS_PER_SECOND = 1_000;

class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly rate: Rate,
    now: number,
  ) {
    this.tokens = rate.burst;
    this.at = now;
  }

  /** Takes one token, or returns how long until one is there. */
  take(now: number): number {
    this.tokens = Math.min(this.rate.burst, this.tokens + ((now - this.at) / 1000) * this.rate.perSecond);
    this.at = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.rate.perSecond) * 1000);
  }
}

export type BudgetClass = keyof typeof AGENT_BUDGETS;

/**
 * The budgets of one agent connection. Telemetry must stay in seq order: once a frame is
 * refused for its rate, every later frame of the connection is refused too until that
 * one is resent, so nothing is stored ahead of a frame the agent still holds.
 */
export class AgentBudget {
  private readonly buckets: Record<BudgetClass, TokenBucket>;
  /** The lowest seq refused for its rate and not yet resent. */
  private throttledSeq: number | null = null;
  private refusals = 0;
  private refusalWindowStart = 0;

  constructor(now = Date.now()) {
    this.buckets = {
      live: new TokenBucket(AGENT_BUDGETS.live, now),
      replay: new TokenBucket(AGENT_BUDGETS.replay, now),
      reports: new TokenBucket(AGENT_BUDGETS.reports, now),
      control: new TokenBucket(AGENT_BUDGETS.control, now),
    };
  }

  /** A refusal for a message of `kind`, or null when it is within budget. */
  admit(kind: BudgetClass, now = Date.now()): ProtocolError | null {
    const waitMs = this.buckets[kind].take(now);
    return waitMs === 0 ? null : this.refuse(kind, waitMs, now);
  }

  /**
   * Admits a telemetry frame by its (unvalidated) seq and sampledAt: live or replay by its
   * date, and never ahead of a frame still waiting to be resent.
   */
  admitFrame(seq: unknown, sampledAt: unknown, now = Date.now()): ProtocolError | null {
    const ordered = typeof seq === 'number' ? seq : null;
    if (this.throttledSeq !== null && ordered !== null && ordered > this.throttledSeq) {
      return this.refuse('live', 100, now, `frame ${this.throttledSeq} must be resent first`);
    }
    const kind = typeof sampledAt === 'number' && now - sampledAt > LIVE_WINDOW_MS ? 'replay' : 'live';
    const refused = this.admit(kind, now);
    if (refused) this.throttle(ordered);
    else if (ordered !== null && this.throttledSeq !== null && ordered <= this.throttledSeq) {
      this.throttledSeq = null;
    }
    return refused;
  }

  /** Holds back the frames after `seq`, refused elsewhere (e.g. the node's backlog is full). */
  throttle(seq: number | null): void {
    if (seq !== null && (this.throttledSeq === null || seq < this.throttledSeq)) this.throttledSeq = seq;
  }

  /** True once the connection has ignored its refusals for long enough to be closed. */
  get abusive(): boolean {
    return this.refusals >= ABUSE_REFUSALS_PER_SECOND;
  }

  private refuse(kind: BudgetClass, waitMs: number, now: number, why?: string): ProtocolError {
    if (now - this.refusalWindowStart >= 1000) {
      this.refusalWindowStart = now;
      this.refusals = 0;
    }
    this.refusals += 1;
    const { perSecond, burst } = AGENT_BUDGETS[kind];
    return {
      code: 'RATE_LIMITED',
      message:
        why ??
        `over this connection's ${kind} budget (${perSecond}/s, bursts of ${burst}); resend after ${waitMs} ms`,
      retryAfterMs: waitMs,
    };
  }
}
