import type { RateStage } from '../../../lib/protocol/stress';

type Stage = {
  startMs: number;
  durationMs: number;
  /** Requests per ms at the start and end of the stage. */
  fromPerMs: number;
  toPerMs: number;
  /** Expected requests before the stage, and during it. */
  countBefore: number;
  count: number;
};

/**
 * An open-loop rate plan: stages whose rate moves linearly from `fromRps` to `toRps`, scaled
 * by this agent's share. Arrivals come from the integral of the rate, Λ(t): the k-th request
 * of a constant process is due when Λ(t) = k + ½, and a Poisson process is due at Λ⁻¹ of a
 * running sum of unit exponentials (the time-change that turns a unit-rate Poisson process
 * into one with the planned rate). Both follow ramps exactly, with no per-second stepping.
 */
export class RateSchedule {
  readonly durationMs: number;
  /** Expected requests over the whole plan. */
  readonly totalCount: number;
  /** Highest planned rate, requests/s. */
  readonly peakRps: number;
  private readonly stages: Stage[];
  /** Stage of the last `timeOfCount` answer; queries mostly move forward. */
  private cursor = 0;

  constructor(stages: readonly RateStage[], share: number) {
    let startMs = 0;
    let countBefore = 0;
    this.stages = stages.map((stage) => {
      const durationMs = stage.durationS * 1000;
      const fromPerMs = (stage.fromRps * share) / 1000;
      const toPerMs = (stage.toRps * share) / 1000;
      const count = ((fromPerMs + toPerMs) / 2) * durationMs;
      const built = { startMs, durationMs, fromPerMs, toPerMs, countBefore, count };
      startMs += durationMs;
      countBefore += count;
      return built;
    });
    this.durationMs = startMs;
    this.totalCount = countBefore;
    this.peakRps = Math.max(0, ...stages.map((stage) => Math.max(stage.fromRps, stage.toRps) * share));
  }

  /** Planned rate at `tMs` after the start, requests/s. */
  rateAt(tMs: number): number {
    const stage = this.stages.find((s) => tMs >= s.startMs && tMs < s.startMs + s.durationMs);
    if (!stage) return 0;
    const into = tMs - stage.startMs;
    return (stage.fromPerMs + ((stage.toPerMs - stage.fromPerMs) * into) / stage.durationMs) * 1000;
  }

  /** Λ(t): expected requests from the start to `tMs`. */
  countAt(tMs: number): number {
    if (tMs <= 0) return 0;
    if (tMs >= this.durationMs) return this.totalCount;
    for (const stage of this.stages) {
      if (tMs >= stage.startMs + stage.durationMs) continue;
      const into = tMs - stage.startMs;
      const slope = (stage.toPerMs - stage.fromPerMs) / stage.durationMs;
      return stage.countBefore + stage.fromPerMs * into + (slope * into * into) / 2;
    }
    return this.totalCount;
  }

  /** Mean planned rate between two offsets, requests/s. */
  meanRps(fromMs: number, toMs: number): number {
    if (!(toMs > fromMs)) return 0;
    return ((this.countAt(toMs) - this.countAt(fromMs)) / (toMs - fromMs)) * 1000;
  }

  /** Λ⁻¹(count): the offset, ms, at which `count` requests are expected; Infinity past the plan. */
  timeOfCount(count: number): number {
    if (count > this.totalCount) return Number.POSITIVE_INFINITY;
    if (this.stages[this.cursor] && count < (this.stages[this.cursor] as Stage).countBefore) this.cursor = 0;
    for (; this.cursor < this.stages.length; this.cursor++) {
      const stage = this.stages[this.cursor] as Stage;
      if (stage.count <= 0 || count > stage.countBefore + stage.count) continue;
      return stage.startMs + offsetWithin(stage, count - stage.countBefore);
    }
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * Solves a·τ + c·τ² = x for τ within a stage (a = starting rate, c = half the slope), in the
 * form 2x / (a + √(a² + 4cx)), which stays accurate when c is tiny or negative.
 */
function offsetWithin(stage: Stage, x: number): number {
  const a = stage.fromPerMs;
  const c = (stage.toPerMs - stage.fromPerMs) / (2 * stage.durationMs);
  const denominator = a + Math.sqrt(Math.max(0, a * a + 4 * c * x));
  const tau = denominator > 0 ? (2 * x) / denominator : 0;
  return Math.min(stage.durationMs, Math.max(0, tau));
}

/** Offsets (ms after the start) at which requests are due, in order; Infinity once the plan ends. */
export interface ArrivalProcess {
  next(): number;
}

/** Evenly spaced arrivals following the planned rate. */
export class ConstantArrivals implements ArrivalProcess {
  private index = 0;
  constructor(private readonly schedule: RateSchedule) {}

  next(): number {
    return this.schedule.timeOfCount(this.index++ + 0.5);
  }
}

/** Poisson arrivals with the planned (time-varying) rate. */
export class PoissonArrivals implements ArrivalProcess {
  private cumulative = 0;
  constructor(
    private readonly schedule: RateSchedule,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    this.cumulative += -Math.log(1 - this.random());
    return this.schedule.timeOfCount(this.cumulative);
  }
}
