'use client';

import { useCallback, useMemo, useRef, useState } from 'react';
import {
  type AllocationBoard,
  type BoardGpu,
  gpuLaneKey,
  gpusByLane,
  isSelectable,
  type LaneKey,
  pickReplica,
  rangeBetween,
} from './model';

/**
 * The operator's selection on the board: click toggles a GPU, shift-click adds the range
 * from the last clicked GPU in the same lane, "select replica" adds a replica's worth from
 * one node. GPUs that become busy or disappear after a refresh drop out of the selection.
 */
export function useBoardSelection(
  board: AllocationBoard | undefined,
  utilOf: (gpu: BoardGpu) => number | null,
) {
  const [picked, setPicked] = useState<ReadonlySet<string>>(new Set());
  const anchor = useRef<string | null>(null);

  const lanes = useMemo(() => gpusByLane(board?.gpus ?? []), [board]);
  const selected = useMemo(() => {
    const live = new Set<string>();
    if (!board) return live;
    const byId = new Map(board.gpus.map((g) => [g.id, g]));
    for (const id of picked) {
      const gpu = byId.get(id);
      if (gpu && isSelectable(gpu)) live.add(id);
    }
    return live;
  }, [board, picked]);

  const select = useCallback(
    (gpu: BoardGpu, range: boolean) => {
      const laneGpus = lanes.get(gpuLaneKey(gpu)) ?? [];
      const from = anchor.current;
      const sameLane = from !== null && laneGpus.some((g) => g.id === from);
      setPicked((current) => {
        const next = new Set(current);
        if (range && sameLane && from !== null) {
          for (const id of rangeBetween(laneGpus, from, gpu.id)) next.add(id);
        } else if (next.has(gpu.id)) {
          next.delete(gpu.id);
        } else {
          next.add(gpu.id);
        }
        return next;
      });
      anchor.current = gpu.id;
    },
    [lanes],
  );

  const selectReplica = useCallback(
    (lane: LaneKey, size: number, forNewOwner: boolean): string | null => {
      const laneGpus = lanes.get(lane) ?? [];
      const ids = pickReplica(laneGpus, size, selected, utilOf, forNewOwner);
      if (!ids) return `No node here has ${size} more selectable GPUs together.`;
      setPicked((current) => new Set([...current, ...ids]));
      return null;
    },
    [lanes, selected, utilOf],
  );

  const clear = useCallback(() => {
    setPicked(new Set());
    anchor.current = null;
  }, []);

  return { selected, lanes, select, selectReplica, clear };
}
