import type { Metadata } from 'next';
import { PlanView } from './plan-view';

export const metadata: Metadata = { title: 'Allocation plan' };

export default function AllocationPlanPage() {
  return <PlanView />;
}
