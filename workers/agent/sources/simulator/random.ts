/**
 * A small seeded PRNG and the distributions the simulator draws from. Math.random cannot be
 * seeded, and the queueing model has to replay identically in tests.
 */

/** Returns numbers uniform in [0, 1). */
export type Rng = () => number;

/** mulberry32: 32 bits of state, fast, and good enough for simulated telemetry. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a: turns names (hostnames, deployment names) into stable seeds. */
export function hashString(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h >>> 0;
}

export function uniform(rng: Rng, low: number, high: number): number {
  return low + (high - low) * rng();
}

/** Box-Muller; 1 - u keeps the logarithm away from zero. */
export function standardNormal(rng: Rng): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Lognormal factor with mean 1, so `x * lognormalFactor(...)` keeps the mean of x. */
export function lognormalFactor(rng: Rng, sigma: number): number {
  return Math.exp(sigma * standardNormal(rng) - (sigma * sigma) / 2);
}

export function exponential(rng: Rng, rate: number): number {
  return -Math.log(1 - rng()) / rate;
}

/**
 * Poisson count. Knuth's product method for small means; above that a rounded normal
 * approximation, which is close enough for request counts and costs O(1).
 */
export function poisson(rng: Rng, mean: number): number {
  if (!(mean > 0)) return 0;
  if (mean < 30) {
    const limit = Math.exp(-mean);
    let k = 0;
    let p = rng();
    while (p > limit) {
      k++;
      p *= rng();
    }
    return k;
  }
  return Math.max(0, Math.round(mean + Math.sqrt(mean) * standardNormal(rng)));
}
