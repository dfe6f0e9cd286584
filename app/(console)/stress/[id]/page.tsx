import type { Metadata } from 'next';
import { StressRunView } from './stress-run-view';

export const metadata: Metadata = { title: 'Stress run' };

export default async function StressRunPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <StressRunView id={id} />;
}
