'use client';

import { useQueryClient } from '@tanstack/react-query';
import { mergeChanges } from '@/components/allocation/model';
import { type LiveStatus, useLive, useLiveEvent } from '@/components/live/use-live';
import { useTRPC } from '@/components/trpc/client';
import type { AllocationChangeView } from '@/lib/allocation/types';

/**
 * Follows allocation changes live (room `allocations`) while mounted. Every change that is
 * created or changes state lands in the cached board and in the cached change of that id,
 * and the board is refetched so GPU owners and busy marks follow; `onChange` sees each one.
 */
export function useAllocationChanges(onChange?: (change: AllocationChangeView) => void): LiveStatus {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const status = useLive('allocations');

  useLiveEvent('allocation:change', (change) => {
    queryClient.setQueryData(trpc.allocation.board.queryKey(), (board) =>
      board ? { ...board, changes: mergeChanges([change], board.changes) } : board,
    );
    queryClient.setQueryData(trpc.allocation.change.queryKey({ id: change.id }), (known) =>
      known ? mergeChanges([known, change])[0] : change,
    );
    void queryClient.invalidateQueries(trpc.allocation.board.queryFilter());
    if (change.source === 'auto')
      void queryClient.invalidateQueries(trpc.allocation.autoStatus.queryFilter());
    onChange?.(change);
  });

  return status;
}
