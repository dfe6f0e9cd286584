import Link from 'next/link';
import { fmtMs } from '@/components/format';
import { Badge } from '@/components/ui/states';
import type { DeploymentEffect } from '@/lib/allocation/types';

/** Per deployment: GPUs and replicas before → after, p95 now → predicted, against the SLO. */
export function EffectsTable({ effects }: { effects: readonly DeploymentEffect[] }) {
  if (effects.length === 0) return <p className="muted small">No deployment changes size.</p>;
  return (
    <div className="table-wrap">
      <table className="table table-compact" data-testid="effects-table">
        <thead>
          <tr>
            <th>Deployment</th>
            <th className="num">GPUs</th>
            <th className="num">Replicas</th>
            <th className="num">p95 now</th>
            <th className="num">p95 predicted</th>
            <th className="num">SLO</th>
            <th>Predicted</th>
          </tr>
        </thead>
        <tbody>
          {effects.map((effect) => (
            <EffectRow key={effect.deploymentId} effect={effect} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function EffectRow({ effect: e }: { effect: DeploymentEffect }) {
  const nowOver = e.p95BeforeMs !== null && e.p95BeforeMs > e.sloP95Ms;
  const predictedOver = e.p95PredictedMs !== null && e.p95PredictedMs > e.sloP95Ms;
  return (
    <tr data-testid={`effect-${e.name}`}>
      <td>
        <Link href={`/deployments/${e.deploymentId}`} className="link-strong">
          {e.name}
        </Link>
      </td>
      <td className="num" data-testid="effect-gpus">
        {e.gpusBefore} → <strong>{e.gpusAfter}</strong>
      </td>
      <td className="num">
        {e.replicasBefore} → <strong>{e.replicasAfter}</strong>
      </td>
      <td className={nowOver ? 'num text-bad' : 'num'}>{fmtMs(e.p95BeforeMs)}</td>
      <td className={predictedOver ? 'num text-bad' : 'num'} data-testid="effect-p95-predicted">
        {e.p95PredictedMs === null ? 'unknown' : fmtMs(e.p95PredictedMs)}
      </td>
      <td className="num">{fmtMs(e.sloP95Ms)}</td>
      <td>
        {e.p95PredictedMs === null ? (
          <Badge tone="muted">no prediction</Badge>
        ) : predictedOver ? (
          <Badge tone="bad">over SLO</Badge>
        ) : (
          <Badge tone="ok">within SLO</Badge>
        )}
      </td>
    </tr>
  );
}
