'use client';

import { useEffect, useMemo, useRef, useState } from 'react';
import { useLiveEvent } from '@/components/live/use-live';
import type { GpuLivePoint } from '@/lib/protocol/live';

/** A GPU missing from the frames this long is shown as silent. */
const FRESH_MS = 5_000;

/**
 * The latest live sample of each of a set of GPUs, merged from every `fleet:gpus` frame
 * (one per joined `node:<id>` room, or the whole fleet's). Re-renders at most once per
 * animation frame, however many rooms send. Before the first frame, `seed` (the samples
 * that came with a query) stands in.
 */
export function useLiveGpuPoints(
  ids: ReadonlySet<string>,
  seed: readonly { id: string; live: GpuLivePoint | null }[],
): ReadonlyMap<string, GpuLivePoint> {
  const latest = useRef(new Map<string, { point: GpuLivePoint; at: number }>());
  const newestAt = useRef(0);
  const raf = useRef<number | null>(null);
  const [version, setVersion] = useState(0);

  useEffect(
    () => () => {
      if (raf.current !== null) cancelAnimationFrame(raf.current);
    },
    [],
  );

  useLiveEvent('fleet:gpus', (update) => {
    let changed = false;
    for (const p of update.gpus) {
      if (!ids.has(p.id)) continue;
      latest.current.set(p.id, { point: p, at: update.at });
      changed = true;
    }
    if (!changed) return;
    newestAt.current = Math.max(newestAt.current, update.at);
    raf.current ??= requestAnimationFrame(() => {
      raf.current = null;
      setVersion((v) => v + 1);
    });
  });

  // biome-ignore lint/correctness/useExhaustiveDependencies: `version` marks a change to `latest` (a ref).
  return useMemo(() => {
    const map = new Map<string, GpuLivePoint>();
    if (newestAt.current === 0) {
      for (const g of seed) if (g.live && ids.has(g.id)) map.set(g.id, g.live);
      return map;
    }
    for (const [id, entry] of latest.current) {
      if (ids.has(id) && entry.at >= newestAt.current - FRESH_MS) map.set(id, entry.point);
    }
    return map;
  }, [ids, seed, version]);
}
