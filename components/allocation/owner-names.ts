'use client';

import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { useTRPC } from '@/components/trpc/client';
import type { OwnerNames } from './model';

const NO_NAMES: OwnerNames = { deployments: new Map(), jobs: new Map() };

/** Deployment and job names for the ids in changes and plans, read from the (cached) board. */
export function useOwnerNames(): OwnerNames {
  const trpc = useTRPC();
  const board = useQuery(trpc.allocation.board.queryOptions(undefined, { staleTime: 30_000 }));
  return useMemo(
    () =>
      board.data
        ? {
            deployments: new Map(board.data.deployments.map((d) => [d.id, d.name])),
            jobs: new Map(board.data.jobs.map((j) => [j.id, j.name])),
          }
        : NO_NAMES,
    [board.data],
  );
}
