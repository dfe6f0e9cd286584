import { Badge, type Tone } from '@/components/ui/states';
import type { ChangeState, NodeApplyState } from '@/lib/allocation/types';

const CHANGE_TONE: Record<ChangeState, Tone> = {
  pending: 'info',
  applying: 'info',
  applied: 'ok',
  rolled_back: 'bad',
};
const CHANGE_LABEL: Record<ChangeState, string> = {
  pending: 'pending',
  applying: 'applying',
  applied: 'applied',
  rolled_back: 'rolled back',
};

export function ChangeStateBadge({ state }: { state: ChangeState }) {
  const inFlight = state === 'pending' || state === 'applying';
  return (
    <span className="change-state" data-testid="change-state" data-state={state}>
      {inFlight && <span className="spinner spinner-small" aria-hidden="true" />}
      <Badge tone={CHANGE_TONE[state]}>{CHANGE_LABEL[state]}</Badge>
    </span>
  );
}

const NODE_TONE: Record<NodeApplyState, Tone> = {
  pending: 'info',
  applied: 'ok',
  failed: 'bad',
  timed_out: 'bad',
  unreachable: 'bad',
};

export function NodeStateBadge({ state }: { state: NodeApplyState }) {
  return <Badge tone={NODE_TONE[state]}>{state.replace('_', ' ')}</Badge>;
}
