'use client';

import { useQuery } from '@tanstack/react-query';
import { useCallback, useMemo, useState } from 'react';
import { AllocationTabs } from '@/components/allocation/allocation-tabs';
import { BoardLane, DeploymentLaneHeader, type LaneSelection } from '@/components/allocation/board-lane';
import { BoardLegend } from '@/components/allocation/board-legend';
import { ChangesStrip } from '@/components/allocation/changes-strip';
import {
  type AllocationBoard,
  type BoardGpu,
  FREE_POOL,
  isInFlight,
  isOpenJob,
  type LaneKey,
  sortDeployments,
} from '@/components/allocation/model';
import { MovePanel } from '@/components/allocation/move-panel';
import { useOwnerNames } from '@/components/allocation/owner-names';
import { TrackedChange } from '@/components/allocation/tracked-change';
import { useBoardSelection } from '@/components/allocation/use-board-selection';
import { NotAllowed, usePermissions } from '@/components/auth/use-permissions';
import { useAllocationChanges } from '@/components/live/use-allocation-changes';
import { useLive, useLiveValue } from '@/components/live/use-live';
import { useTRPC } from '@/components/trpc/client';
import { Badge, EmptyState, Panel, QueryView } from '@/components/ui/states';
import type { AllocationChangeView } from '@/lib/allocation/types';

const REFRESH_MS = 10_000;
/** While a change is in flight the board is read more often, besides the live events. */
const IN_FLIGHT_REFRESH_MS = 2_000;

export function BoardView() {
  const trpc = useTRPC();
  useAllocationChanges();
  const board = useQuery(
    trpc.allocation.board.queryOptions(undefined, {
      refetchInterval: (q) => (q.state.data?.changes.some(isInFlight) ? IN_FLIGHT_REFRESH_MS : REFRESH_MS),
    }),
  );
  return (
    <div className="page">
      <div className="page-header">
        <h1>Allocations</h1>
        <AllocationTabs />
      </div>
      <QueryView query={board} loadingLabel="Loading the allocation board…">
        {(data) => <Board board={data} refreshError={board.error} />}
      </QueryView>
    </div>
  );
}

function Board({
  board,
  refreshError,
}: {
  board: AllocationBoard;
  refreshError: { message: string } | null;
}) {
  const canOperate = usePermissions().can('moveGpus');
  const names = useOwnerNames();
  const utilOf = useLiveUtilization();
  const { selected, lanes, select, selectReplica, clear } = useBoardSelection(board, utilOf);
  const [destination, setDestination] = useState<LaneKey | ''>('');
  const [tracked, setTracked] = useState<AllocationChangeView | null>(null);

  const deployments = sortDeployments(board.deployments);
  const destinationDeployment = destination.startsWith('deployment:')
    ? board.deployments.find((d) => `deployment:${d.id}` === destination)
    : undefined;
  const jobs = board.jobs.filter((j) => lanes.has(`job:${j.id}`) || isOpenJob(j));

  const selectionFor = (lane: LaneKey): LaneSelection | undefined =>
    canOperate
      ? {
          selected,
          onSelect: select,
          onSelectReplica: (size) =>
            selectReplica(lane, size, destination !== '' && destination !== FREE_POOL),
        }
      : undefined;
  /** Taking a replica for the destination, or (without one) giving up one of this lane's own. */
  const replicaSizeFor = (lane: LaneKey, ownReplica: number | null) => {
    if (destination === lane) return null;
    return destinationDeployment ? destinationDeployment.gpusPerReplica : ownReplica;
  };

  const hidden = useMemo(() => new Set(tracked ? [tracked.id] : []), [tracked]);

  return (
    <>
      {refreshError && <p className="inline-error">Could not refresh the board: {refreshError.message}</p>}
      {tracked && (
        <TrackedChange key={tracked.id} initial={tracked} names={names} onDismiss={() => setTracked(null)} />
      )}
      <ChangesStrip changes={board.changes} names={names} hiddenIds={hidden} />
      {canOperate ? (
        <MovePanel
          board={board}
          names={names}
          selected={selected}
          destination={destination}
          onDestinationChange={setDestination}
          onClearSelection={clear}
          onApplied={(change) => {
            clear();
            setTracked(change);
          }}
        />
      ) : (
        <NotAllowed action="moveGpus" />
      )}
      <BoardLegend />

      <Panel title={`Deployments (${deployments.length})`} testId="board-deployments">
        <div className="lanes">
          {deployments.map((d) => {
            const key: LaneKey = `deployment:${d.id}`;
            const gpus = lanes.get(key) ?? [];
            return (
              <BoardLane
                key={d.id}
                laneKey={key}
                testId={`lane-${d.name}`}
                header={<DeploymentLaneHeader deployment={d} gpuCount={gpus.length} />}
                gpus={gpus}
                utilOf={utilOf}
                selection={selectionFor(key)}
                replicaSize={replicaSizeFor(key, d.gpusPerReplica)}
              />
            );
          })}
        </div>
      </Panel>

      <Panel title={`Jobs (${jobs.length})`} testId="board-jobs">
        {jobs.length === 0 ? (
          <EmptyState>No job holds GPUs.</EmptyState>
        ) : (
          <div className="lanes">
            {jobs.map((j) => {
              const key: LaneKey = `job:${j.id}`;
              const gpus = lanes.get(key) ?? [];
              return (
                <BoardLane
                  key={j.id}
                  laneKey={key}
                  testId={`lane-job-${j.name}`}
                  header={
                    <div className="lane-title">
                      <div className="lane-name">
                        <strong>{j.name}</strong>
                        <Badge tone="muted">{j.state}</Badge>
                      </div>
                      <div className="lane-facts small">
                        <span>
                          <strong>{gpus.length}</strong> GPUs
                        </span>
                      </div>
                    </div>
                  }
                  gpus={gpus}
                  utilOf={utilOf}
                  selection={selectionFor(key)}
                  replicaSize={replicaSizeFor(key, null)}
                />
              );
            })}
          </div>
        )}
      </Panel>

      <Panel title="Free pool" testId="board-free-pool">
        <div className="lanes">
          <FreePoolLane
            gpus={lanes.get(FREE_POOL) ?? []}
            utilOf={utilOf}
            selection={selectionFor(FREE_POOL)}
            replicaSize={replicaSizeFor(FREE_POOL, null)}
          />
        </div>
      </Panel>
    </>
  );
}

function FreePoolLane({
  gpus,
  utilOf,
  selection,
  replicaSize,
}: {
  gpus: BoardGpu[];
  utilOf: (gpu: BoardGpu) => number | null;
  selection: LaneSelection | undefined;
  replicaSize: number | null;
}) {
  const eligible = gpus.filter((g) => g.eligible).length;
  return (
    <BoardLane
      laneKey={FREE_POOL}
      testId="lane-free-pool"
      header={
        <div className="lane-title">
          <div className="lane-name">
            <strong>Free pool</strong>
          </div>
          <div className="lane-facts small">
            <span data-testid="lane-gpus">
              <strong>{gpus.length}</strong> GPUs{' '}
              <span className="muted">({eligible} can take an owner)</span>
            </span>
          </div>
        </div>
      }
      gpus={gpus}
      utilOf={utilOf}
      selection={selection}
      replicaSize={replicaSize}
    />
  );
}

/** Each GPU's latest utilization from the fleet's live frames, else the board's figure. */
function useLiveUtilization(): (gpu: BoardGpu) => number | null {
  useLive('fleet');
  const frame = useLiveValue('fleet:gpus');
  const live = useMemo(() => (frame ? new Map(frame.gpus.map((p) => [p.id, p.util])) : null), [frame]);
  return useCallback((gpu: BoardGpu) => live?.get(gpu.id) ?? gpu.utilizationPct, [live]);
}
