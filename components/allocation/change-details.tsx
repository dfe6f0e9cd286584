import Link from 'next/link';
import type { AllocationChangeView, ChangeMove } from '@/lib/allocation/types';
import { NodeStateBadge } from './change-state';
import { type OwnerNames, ownerName } from './model';

/** One row per GPU: where it was and where it goes. */
export function MovesTable({ moves, names }: { moves: readonly ChangeMove[]; names: OwnerNames }) {
  return (
    <table className="table table-compact" data-testid="change-moves">
      <thead>
        <tr>
          <th>GPU</th>
          <th>From</th>
          <th>To</th>
        </tr>
      </thead>
      <tbody>
        {moves.map((move) => (
          <tr key={move.gpuId}>
            <td>
              <Link href={`/gpus/${move.gpuId}`} className="mono">
                {move.gpuLabel}
              </Link>
            </td>
            <td>{ownerName(move.from, names)}</td>
            <td>{ownerName(move.to, names)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** How each node the change touched answered. */
export function NodeResults({ nodes }: { nodes: AllocationChangeView['nodes'] }) {
  if (nodes.length === 0) return <p className="muted small">No node had to act on this change.</p>;
  return (
    <ul className="node-results" data-testid="change-nodes">
      {nodes.map((node) => (
        <li key={node.nodeId} data-node-state={node.state}>
          <Link href={`/nodes/${node.nodeId}`} className="mono">
            {node.hostname}
          </Link>
          <NodeStateBadge state={node.state} />
          {node.error && <span className="text-bad small">{node.error}</span>}
        </li>
      ))}
    </ul>
  );
}

/** The whole record of a change: its moves, the nodes' answers, and why it was rolled back. */
export function ChangeDetails({ change, names }: { change: AllocationChangeView; names: OwnerNames }) {
  return (
    <div className="change-details">
      <p className="change-details-reason">
        <span className="muted">Reason:</span> {change.reason}
      </p>
      {change.outcome && (
        <p className={change.state === 'rolled_back' ? 'form-error' : 'muted'} data-testid="change-outcome">
          {change.outcome}
        </p>
      )}
      <div className="change-details-grid">
        <section>
          <h3 className="chart-title">GPUs ({change.moves.length})</h3>
          <MovesTable moves={change.moves} names={names} />
        </section>
        <section>
          <h3 className="chart-title">Nodes</h3>
          <NodeResults nodes={change.nodes} />
        </section>
      </div>
    </div>
  );
}
