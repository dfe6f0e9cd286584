import type { Metadata } from 'next';
import { StressView } from './stress-view';

export const metadata: Metadata = { title: 'Stress tests' };

export default async function StressPage({
  searchParams,
}: {
  searchParams: Promise<{ deployment?: string }>;
}) {
  const { deployment } = await searchParams;
  return <StressView initialDeploymentId={typeof deployment === 'string' ? deployment : undefined} />;
}
