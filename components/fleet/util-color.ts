/** Viridis (perceptually uniform) stops; the heatmap and the bars share it. */
const VIRIDIS: readonly [number, number, number][] = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 74, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [109, 205, 89],
  [180, 222, 44],
  [253, 231, 37],
];

const UTIL_LUT: string[] = Array.from({ length: 101 }, (_, pct) => {
  const t = (pct / 100) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(t));
  const f = t - i;
  const a = VIRIDIS[i]!;
  const b = VIRIDIS[i + 1]!;
  const mix = (k: 0 | 1 | 2) => Math.round(a[k] + (b[k] - a[k]) * f);
  return `rgb(${mix(0)}, ${mix(1)}, ${mix(2)})`;
});

export function utilColor(pct: number): string {
  const i = Math.max(0, Math.min(100, Math.round(pct)));
  return UTIL_LUT[i]!;
}
