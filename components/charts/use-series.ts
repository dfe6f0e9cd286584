'use client';

import { useQuery } from '@tanstack/react-query';
import { useMemo, useRef, useState } from 'react';
import {
  type ChartWindow,
  historyRefetchInterval,
  historyWindowOf,
  LIVE_RING_SIZE,
  LIVE_SPAN_MS,
} from '@/components/charts/window-selector';
import { useLiveEvent } from '@/components/live/use-live';
import { useTRPC } from '@/components/trpc/client';

/**
 * The data behind the history charts, for any window: Live is a ring buffer of what
 * arrives on the live connection (pre-filled from the last minutes of stored rollups),
 * the other windows are the stored rollups. The ring keeps filling while another window
 * is shown (without re-rendering), so going back to Live loses nothing.
 */

export type LatencySeriesPoint = {
  at: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  requestsPerSecond: number;
  errorsPerSecond: number;
  queueDepth: number;
};

export type GpuSeriesPoint = {
  at: number;
  util: number | null;
  /** Min and max utilization of the bucket (stored windows only). */
  utilRange: [number, number] | null;
  memUsedMiB: number | null;
  powerW: number | null;
  temperatureC: number | null;
  smClockMHz: number | null;
};

type Series<P> = {
  points: P[];
  isPending: boolean;
  error: { message: string } | null;
};

/** Older stored points, then the live ring, cut to the Live span. */
function mergeLive<P extends { at: number }>(stored: readonly P[], ring: readonly P[]): P[] {
  const firstLive = ring[0]?.at ?? Number.POSITIVE_INFINITY;
  const merged = [...stored.filter((p) => p.at < firstLive), ...ring];
  const newest = merged[merged.length - 1]?.at ?? 0;
  const recent = merged.filter((p) => p.at >= newest - LIVE_SPAN_MS);
  return recent.length > LIVE_RING_SIZE ? recent.slice(recent.length - LIVE_RING_SIZE) : recent;
}

function pushRing<P extends { at: number }>(ring: P[], point: P): boolean {
  const last = ring[ring.length - 1];
  // The same point can arrive twice (e.g. from `fleet` and `deployment:<id>`); keep one.
  if (last && point.at <= last.at) return false;
  ring.push(point);
  if (ring.length > LIVE_RING_SIZE) ring.splice(0, ring.length - LIVE_RING_SIZE);
  return true;
}

/**
 * A deployment's latency, throughput, errors and queue depth. The page must have joined
 * `fleet` or `deployment:<id>` for Live. `summary` is the whole window's (null for Live).
 */
export function useLatencySeries(
  deploymentId: string,
  window: ChartWindow,
): Series<LatencySeriesPoint> & {
  summary: { p50: number | null; p95: number | null; p99: number | null; requests: number } | null;
} {
  const trpc = useTRPC();
  const history = useQuery(
    trpc.fleet.latencyHistory.queryOptions(
      { deploymentId, window: historyWindowOf(window) },
      { staleTime: window === 'live' ? 0 : 10_000, refetchInterval: historyRefetchInterval(window) },
    ),
  );
  const ringRef = useRef<LatencySeriesPoint[]>([]);
  const [version, setVersion] = useState(0);
  const live = window === 'live';

  useLiveEvent('deployment:latency', (points) => {
    const p = points.find((point) => point.deploymentId === deploymentId);
    if (!p) return;
    // Nothing at all to show (a deployment without traffic or telemetry yet).
    if (p.p50 === null && p.p95 === null && p.p99 === null && p.requestsPerSecond === 0 && p.queueDepth === 0)
      return;
    const added = pushRing(ringRef.current, {
      at: p.at,
      p50: p.p50,
      p95: p.p95,
      p99: p.p99,
      requestsPerSecond: p.requestsPerSecond,
      errorsPerSecond: p.errorsPerSecond,
      queueDepth: p.queueDepth,
    });
    if (added && live) setVersion((v) => v + 1);
  });

  // biome-ignore lint/correctness/useExhaustiveDependencies: `version` marks a change to the ring (a ref).
  const points = useMemo(() => {
    const stored = history.data?.points ?? [];
    return live ? mergeLive(stored, ringRef.current) : stored;
  }, [history.data, live, version]);

  return {
    points,
    summary: live ? null : (history.data?.summary ?? null),
    isPending: history.isPending,
    error: history.error,
  };
}

/** One GPU's metrics. The page must have joined the GPU's `node:<id>` (or `fleet`) for Live. */
export function useGpuSeries(gpuId: string, window: ChartWindow): Series<GpuSeriesPoint> {
  const trpc = useTRPC();
  const history = useQuery(
    trpc.fleet.gpuHistory.queryOptions(
      { gpuId, window: historyWindowOf(window) },
      { staleTime: window === 'live' ? 0 : 10_000, refetchInterval: historyRefetchInterval(window) },
    ),
  );
  const ringRef = useRef<GpuSeriesPoint[]>([]);
  const [version, setVersion] = useState(0);
  const live = window === 'live';

  useLiveEvent('fleet:gpus', (update) => {
    const p = update.gpus.find((point) => point.id === gpuId);
    if (!p) return;
    const added = pushRing(ringRef.current, {
      at: update.at,
      util: p.util,
      utilRange: null,
      memUsedMiB: p.memUsedMiB,
      powerW: p.powerW,
      temperatureC: p.tempC,
      smClockMHz: p.smClockMHz,
    });
    if (added && live) setVersion((v) => v + 1);
  });

  const stored = useMemo(
    () =>
      (history.data?.points ?? []).map(
        (p): GpuSeriesPoint => ({
          at: p.at,
          util: p.utilMean,
          utilRange: [p.utilMin, p.utilMax],
          memUsedMiB: p.memUsedMiB,
          powerW: p.powerW,
          temperatureC: p.temperatureC,
          smClockMHz: p.smClockMHz,
        }),
      ),
    [history.data],
  );

  // biome-ignore lint/correctness/useExhaustiveDependencies: `version` marks a change to the ring (a ref).
  const points = useMemo(() => (live ? mergeLive(stored, ringRef.current) : stored), [stored, live, version]);

  return { points, isPending: history.isPending, error: history.error };
}
