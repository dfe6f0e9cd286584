'use client';

import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useRef, useState } from 'react';
import { useLive, useLiveEvent } from '@/components/live/use-live';
import { isActiveState } from '@/components/stress/run-state';
import { type RouterOutputs, useTRPC } from '@/components/trpc/client';
import type { StressLiveUpdate, StressSeriesPoint } from '@/lib/protocol/live';

export type StressRun = RouterOutputs['stress']['get'];

/**
 * A stress run as stored, kept current while it runs: the page joins the run's live room
 * and lays each second that arrives over the stored series; the stored view is fetched
 * again every few seconds (and once more when the run ends) for the totals.
 */
export function useStressRun(id: string) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const query = useQuery(
    trpc.stress.get.queryOptions(
      { id },
      {
        refetchInterval: (q) => {
          const data = q.state.data;
          if (!data) return false;
          // A capacity search's steps come and go: its curve is read, not streamed.
          return isActiveState(data.state) ? (data.kind === 'capacity' ? 2_000 : 5_000) : false;
        },
      },
    ),
  );
  const active = query.data ? isActiveState(query.data.state) : false;
  useLive(active && query.data?.kind !== 'capacity' ? `stress:${id}` : null);

  const livePoints = useRef(new Map<number, StressSeriesPoint>());
  const [latest, setLatest] = useState<StressLiveUpdate | null>(null);
  useLiveEvent('stress:update', (update) => {
    if (update.runId !== id) return;
    for (const point of update.points) livePoints.current.set(point.second, point);
    setLatest(update);
    if (!isActiveState(update.state)) void queryClient.invalidateQueries(trpc.stress.get.queryFilter({ id }));
  });

  const data = query.data;
  const run = useMemo(() => {
    if (!data) return null;
    if (!latest || !isActiveState(data.state) || data.resolutionS !== 1) return data;
    const bySecond = new Map(data.series.map((p) => [p.second, p]));
    for (const [second, point] of livePoints.current) bySecond.set(second, point);
    return {
      ...data,
      state: latest.state,
      stopping: latest.stopping,
      reason: latest.reason ?? data.reason,
      thresholds: latest.thresholds,
      series: [...bySecond.values()].sort((a, b) => a.second - b.second),
    };
  }, [data, latest]);

  return { query, run };
}

/** Now, every second, while `running` (for a progress bar and time left). */
export function useNow(running: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, [running]);
  return now;
}
