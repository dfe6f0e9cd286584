'use client';

import Link from 'next/link';
import { type ReactNode, useState } from 'react';
import { fmtMs, fmtRate } from '@/components/format';
import { Badge } from '@/components/ui/states';
import { GpuChip } from './gpu-chip';
import { type BoardDeployment, type BoardGpu, groupByNode, type LaneKey } from './model';

export type LaneSelection = {
  selected: ReadonlySet<string>;
  onSelect: (gpu: BoardGpu, range: boolean) => void;
  /** Selects a replica's worth of GPUs on one node; returns why it could not, or null. */
  onSelectReplica: ((size: number) => string | null) | null;
};

/** A row of the board: who owns these GPUs (left) and the GPUs, grouped by node (right). */
export function BoardLane({
  laneKey,
  header,
  gpus,
  utilOf,
  selection,
  replicaSize,
  testId,
}: {
  laneKey: LaneKey;
  header: ReactNode;
  gpus: readonly BoardGpu[];
  utilOf: (gpu: BoardGpu) => number | null;
  /** Absent for people who may not move GPUs. */
  selection?: LaneSelection;
  /** GPUs in one replica of the deployment this lane's GPUs would go to; null when unknown. */
  replicaSize: number | null;
  testId: string;
}) {
  const [replicaNote, setReplicaNote] = useState<string | null>(null);
  const groups = groupByNode(gpus);
  const selectedHere = selection ? gpus.filter((g) => selection.selected.has(g.id)).length : 0;

  const selectReplica = () => {
    if (!selection?.onSelectReplica || !replicaSize) return;
    setReplicaNote(selection.onSelectReplica(replicaSize));
  };

  return (
    <section className="lane" data-testid={testId} data-lane={laneKey} data-gpu-count={gpus.length}>
      <header className="lane-header">
        {header}
        {selection?.onSelectReplica && (
          <div className="lane-tools">
            <button
              type="button"
              className="button button-ghost button-small"
              onClick={selectReplica}
              disabled={!replicaSize || gpus.length === 0}
              title={
                replicaSize
                  ? `Select ${replicaSize} GPUs on one node, the least busy first`
                  : 'Choose a deployment to move these GPUs to first: its replica size decides how many'
              }
            >
              Select replica{replicaSize ? ` (${replicaSize})` : ''}
            </button>
            {selectedHere > 0 && <span className="muted small">{selectedHere} selected</span>}
          </div>
        )}
        {replicaNote && (
          <p className="inline-error" role="status">
            {replicaNote}
          </p>
        )}
      </header>
      <div className="lane-body">
        {groups.length === 0 ? (
          <span className="muted small lane-empty">No GPUs</span>
        ) : (
          groups.map((group) => (
            <div
              className="lane-node"
              key={group.nodeId}
              data-testid="lane-node"
              data-hostname={group.hostname}
            >
              <Link href={`/nodes/${group.nodeId}`} className="lane-node-name mono" title={group.clusterName}>
                {group.hostname}
              </Link>
              <div className="lane-chips">
                {group.gpus.map((gpu) => (
                  <GpuChip
                    key={gpu.id}
                    gpu={gpu}
                    util={utilOf(gpu)}
                    selected={selection?.selected.has(gpu.id) ?? false}
                    onSelect={selection?.onSelect}
                  />
                ))}
              </div>
            </div>
          ))
        )}
      </div>
    </section>
  );
}

/** Name, size against bounds, replicas, p95 against the SLO, load and priority. */
export function DeploymentLaneHeader({
  deployment: d,
  gpuCount,
}: {
  deployment: BoardDeployment;
  gpuCount: number;
}) {
  const replicas = Math.floor(gpuCount / d.gpusPerReplica);
  const outOfBounds = gpuCount < d.minGpus || gpuCount > d.maxGpus;
  const overSlo = d.p95Ms !== null && d.p95Ms > d.sloP95Ms;
  return (
    <div className="lane-title">
      <div className="lane-name">
        <Link href={`/deployments/${d.id}`} className="link-strong">
          {d.name}
        </Link>
        <span className="muted small" title="Priority: higher is served first">
          priority {d.priority}
        </span>
      </div>
      <div className="lane-facts small">
        <span className={outOfBounds ? 'text-warn' : undefined} data-testid="lane-gpus">
          <strong>{gpuCount}</strong> GPUs{' '}
          <span className="muted">
            (min {d.minGpus} / max {d.maxGpus})
          </span>
        </span>
        <span data-testid="lane-replicas">
          {replicas} × {d.gpusPerReplica} GPU{d.gpusPerReplica === 1 ? '' : 's'}
        </span>
      </div>
      <div className="lane-facts small">
        <span
          data-testid="lane-p95"
          data-over-slo={overSlo ? 'true' : 'false'}
          title="p95 over the last 30 s, the window the planner uses"
        >
          p95 (30 s){' '}
          <strong className={d.p95Ms === null ? 'muted' : overSlo ? 'text-bad' : 'text-ok'}>
            {fmtMs(d.p95Ms)}
          </strong>{' '}
          <span className="muted">/ SLO {fmtMs(d.sloP95Ms)}</span>
        </span>
        <span className="muted">{fmtRate(d.requestsPerSecond)} req/s</span>
        {overSlo && <Badge tone="bad">over SLO</Badge>}
      </div>
    </div>
  );
}
